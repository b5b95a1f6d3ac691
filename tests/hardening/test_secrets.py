"""Secrets never leave: canary App key, tokens and webhook secrets appear in no output of a whole run.

Two runs:
- the end-to-end service (signed webhooks -> ingress -> queue -> workers -> real GitHub forge -> fake
  GitHub) with a canary webhook secret and GitLab token, the App's private key and every installation
  token the fake issued, through onboarding, merge, generation, slash commands, a revoked token, forge
  errors and rejected deliveries;
- `trustacks demo` with canaries in every secret-looking environment variable.

Searched: every log record (raw message, arguments, extra fields and traceback, and the production
JSON rendering), every error stored on a job, every write the forge received (PR bodies, comments,
check runs, commit blobs decoded), the demo's output, every git object, every audit record, and every
file written under the run's temporary directory (gzip members decompressed).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import gzip
import io
import json
import logging
import subprocess
from pathlib import Path
from typing import Any, Iterable

import pytest

from bot.audit import AuditLog
from bot.config import load_settings
from bot.demo import DEMO_DECLARED, read_app_files, resolve_app, run_demo
from bot.handlers import make_dispatcher
from bot.handlers.forge_factory import ForgeFactory
from bot.logs import configure_logging
from bot.policy import PolicyEngine
from bot.profile import PROFILE_PATH, Profile
from bot.store import open_store
from bot.web import create_app, sign_github
from bot.worker import WorkerPool
from tests.fakes import FakeGitHub

from . import payloads

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_CANARY = "canary-webhook-" + "Qz81vX0pLm"
GITLAB_CANARY = "canary-gitlab-" + "glpat-7Hh2Ww"
TOKEN_CANARY = "ghs_canary" + "Tok3nValue0000000000000"
APP = "acme/payments-fastapi"
PLATFORM = "acme/platform"


class Records(logging.Handler):
    """Every record, unformatted: message with its arguments, extra fields and exception text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is still text to search
            message = f"{record.msg} {record.args}"
        extra = {k: v for k, v in vars(record).items() if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__}
        exc = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.texts.append(f"{record.name} {message} {extra!r} {exc}")


@pytest.fixture
def captured_logs():
    """Raw records and the production JSON rendering (which redacts configured secrets) of everything logged."""
    root = logging.getLogger()
    raw = Records()
    stream = io.StringIO()
    old_level = root.level
    root.addHandler(raw)
    rendered = configure_logging("DEBUG", secrets=(), stream=stream)  # no redaction: see what is logged at all
    try:
        yield raw, stream
    finally:
        root.removeHandler(raw)
        root.removeHandler(rendered)
        root.setLevel(old_level)


def leaks(canaries: Iterable[str], named_texts: Iterable[tuple[str, str]]) -> list[str]:
    found = []
    for name, text in named_texts:
        for canary in canaries:
            if canary and canary in text:
                found.append(f"{name}: {canary[:12]}... in {text[max(0, text.find(canary) - 80):][:200]!r}")
    return found


def files_under(root: Path, *, skip: set[Path]) -> Iterable[tuple[str, str]]:
    """Every file's bytes as text (gzip members decompressed; git objects read through git itself)."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path in skip:
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                pass
        yield str(path), data.decode("utf-8", "replace")
    for git_dir in sorted(p for p in root.rglob("*.git") if (p / "objects").is_dir()):
        out = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True).stdout
        yield f"{git_dir} (objects)", out.decode("utf-8", "replace")


def pem_canaries(pem: str) -> list[str]:
    """The key's base64 lines: any of them in an output means key material leaked."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----") and len(line) >= 40]


def writes_text(gh: FakeGitHub) -> Iterable[tuple[str, str]]:
    for method, path, payload in gh.writes:
        text = json.dumps(payload)
        if isinstance(payload, dict) and payload.get("encoding") == "base64" and isinstance(payload.get("content"), str):
            text += base64.b64decode(payload["content"]).decode("utf-8", "replace")
        yield f"{method} {path}", text


# ====================================================================== the service, end to end


async def test_no_secret_leaves_the_service(tmp_path, captured_logs):
    raw, stream = captured_logs
    async with FakeGitHub() as gh:
        key = gh.register_app(4242)
        gh.add_repo(APP, files=read_app_files(ROOT / "fixtures" / "apps" / "payments-fastapi"), protected=["main"],
                    collaborators={"octo-admin": "admin"})
        gh.add_repo(PLATFORM, files={"README.md": "# Platform\n"}, protected=["main"], collaborators={"octo-admin": "admin"})
        gh.add_installation(payloads.INSTALLATION, [APP, PLATFORM])
        key_file = tmp_path / "secrets" / "app.pem"
        key_file.parent.mkdir()
        key_file.write_text(key)
        settings = load_settings(env={
            "TRUSTACKS_GITHUB_WEBHOOK_SECRET": WEBHOOK_CANARY, "TRUSTACKS_GITLAB_WEBHOOK_TOKEN": GITLAB_CANARY,
            "TRUSTACKS_GITLAB_API_TOKEN": GITLAB_CANARY + "-api", "TRUSTACKS_GITHUB_APP_ID": "4242",
            "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": str(key_file), "TRUSTACKS_DATA_DIR": str(tmp_path / "data"),
            "TRUSTACKS_LOG_LEVEL": "DEBUG"})
        store = open_store(settings.database_url)
        await store.open()
        factory = ForgeFactory(settings, github_api_url=gh.url)
        policy = PolicyEngine.load(packs=("soc2",))
        dispatcher = make_dispatcher(forge_for=factory, policy=policy, platform_repo="platform")
        pool = WorkerPool(store, dispatcher, concurrency=1, poll_seconds=0.05, backoff_base_seconds=0.05,
                          backoff_max_seconds=0.1)
        from aiohttp.test_utils import TestClient, TestServer

        client = TestClient(TestServer(create_app(settings, store, on_enqueued=pool.notify)))
        await client.start_server()
        await pool.start()
        responses: list[str] = []
        n = [0]

        async def post(event: str, body: dict[str, Any], *, secret: str = WEBHOOK_CANARY) -> None:
            n[0] += 1
            data = json.dumps(body).encode()
            resp = await client.post("/webhooks/github", data=data, headers={
                "Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": f"s-{n[0]}",
                "X-Hub-Signature-256": sign_github(data, secret)})
            responses.append(await resp.text())

        async def drain() -> None:
            for _ in range(1200):
                jobs = await store.list_jobs()
                if jobs and all(j.state in ("done", "dead", "failed") for j in jobs) and not pool._running:
                    return
                await asyncio.sleep(0.05)

        try:
            await post("installation", payloads.installation("created", [APP, PLATFORM]))
            await drain()
            [pr] = [p for p in gh.repo(PLATFORM).pulls.values()]
            text = gh.repo(PLATFORM).files(pr["head"]["ref"])[PROFILE_PATH]
            profile = Profile.loads(text)
            for category, entries in DEMO_DECLARED.items():
                if not profile.tools(category):
                    profile.set_tools(category, copy.deepcopy(entries))
            gh.push(PLATFORM, pr["head"]["ref"], {PROFILE_PATH: profile.dumps()}, author=("Octo", "octo@acme.io"))
            gh.merge_pull(PLATFORM, pr["number"], by="octo-admin")
            pr = gh.repo(PLATFORM).pulls[pr["number"]]
            await post("pull_request", payloads.pull_request(
                "closed", PLATFORM, number=pr["number"], head=pr["head"]["ref"], head_sha=pr["head"]["sha"],
                base="main", author="trustacks[bot]", pr_body=pr["body"], default_branch="main", merged=True))
            await drain()
            gen = [p for p in gh.repo(APP).pulls.values()]
            assert gen, "generation opened no PR: the run did not exercise the flow"
            for text in ("/trustacks explain TS-PROF-002", "/trustacks rebase", "/trustacks profile show",
                         "/trustacks waive SOC2-CC6.1-001 --until 2099-01-01 --reason 'accepted by risk'",
                         "/trustacks frobnicate"):
                cid = gh.add_comment(APP, gen[0]["number"], text, user="octo-admin")
                await post("issue_comment", payloads.issue_comment(
                    APP, number=gen[0]["number"], pr_author="trustacks[bot]", pr_body=gen[0]["body"], comment_id=cid,
                    author="octo-admin", text=text, default_branch="main"))
            await drain()
            # the installation token is revoked, then the forge fails: errors are stored and logged
            for token in list(gh.issued):
                gh.revoke(token)
            gh.server_error(502, times=1)  # retried by the client (and logged)
            gh.fail(403, times=100, body={"message": "Resource not accessible by integration"})  # the job fails
            await post("push", payloads.push(APP, "main", default_branch="main", after=gh.repo(APP).refs["main"]))
            await post("push", {"ref": "refs/heads/main"}, secret="wrong-secret")  # refused: 401
            await post("push", {"ref": "refs/heads/main"})  # accepted, then dead: the payload names no repository
            await drain()
            jobs = [await store.get_job(j.id) for j in await store.list_jobs()]
            assert any(j.last_error for j in jobs), "no job failed: the error paths were not exercised"
        finally:
            await pool.stop(grace=5)
            await client.close()
            await factory.close()
            policy.close()
            await store.close()

        canaries = [WEBHOOK_CANARY, GITLAB_CANARY, TOKEN_CANARY, *gh.issued, *pem_canaries(key)]
        assert len(gh.issued) >= 1
        texts: list[tuple[str, str]] = [(f"log record {i}", t) for i, t in enumerate(raw.texts)]
        texts.append(("rendered log", stream.getvalue()))
        texts += [(f"job {j.delivery_id} error", j.last_error or "") for j in jobs]
        texts += [(f"job {j.delivery_id} headers", json.dumps(dict(j.headers))) for j in jobs]
        texts += [("http answer", r) for r in responses]
        texts += list(writes_text(gh))
        texts += list(files_under(tmp_path, skip={key_file}))
        assert raw.texts and stream.getvalue(), "nothing was logged: the capture is broken"
        assert leaks(canaries, texts) == []


# ====================================================================== the demo


async def test_no_secret_leaves_the_demo(tmp_path, monkeypatch, capsys, captured_logs):
    raw, stream = captured_logs
    canaries = {
        "TRUSTACKS_GITHUB_WEBHOOK_SECRET": WEBHOOK_CANARY, "TRUSTACKS_GITLAB_WEBHOOK_TOKEN": GITLAB_CANARY,
        "TRUSTACKS_GITLAB_API_TOKEN": GITLAB_CANARY + "-api", "GITHUB_TOKEN": TOKEN_CANARY,
        "GH_TOKEN": TOKEN_CANARY + "-gh", "AWS_SECRET_ACCESS_KEY": "canaryAWS" + "x" * 31,
        "VAULT_TOKEN": "hvs.canary" + "Vault0000", "TRUSTACKS_GITHUB_APP_PRIVATE_KEY": "canary-pem-" + "KeyMaterial",
    }
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    workdir = tmp_path / "demo"
    workdir.mkdir()
    code = await run_demo(workdir, resolve_app(None), quiet=False, edit=True)
    assert code == 0
    out = capsys.readouterr()
    assert "TruStacks" in out.out or "Profile" in out.out, "the demo printed nothing: the capture is broken"
    audit = AuditLog(workdir / "audit.db")
    try:
        records = [json.dumps(e.record) for e in audit]
    finally:
        audit.close()
    assert records, "the demo audited nothing"
    texts = [("stdout", out.out), ("stderr", out.err), ("rendered log", stream.getvalue())]
    texts += [(f"log record {i}", t) for i, t in enumerate(raw.texts)]
    texts += [(f"audit record {i}", r) for i, r in enumerate(records)]
    texts += list(files_under(workdir, skip=set()))
    assert leaks(canaries.values(), texts) == []


def test_the_search_finds_a_canary_wherever_it_is(tmp_path):
    """The checker itself: a canary in a plain file, a gzip member or a git object is found."""
    canary = "canary-" + "self-test-1234"
    (tmp_path / "plain.txt").write_text(f"x {canary} y")
    (tmp_path / "b.tar.gz").write_bytes(gzip.compress(canary.encode()))
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    subprocess.run(["git", "--git-dir", str(repo), "hash-object", "-w", "--stdin"], input=canary.encode(), check=True,
                   capture_output=True)
    names = [name for name, _ in files_under(tmp_path, skip=set()) if canary in _]
    assert any(n.endswith("plain.txt") for n in names) and any(n.endswith("b.tar.gz") for n in names)
    assert any(n.endswith("(objects)") for n in names)
    assert leaks([canary], [("x", f"a{canary}b")]) and not leaks([canary], [("x", "clean")])
