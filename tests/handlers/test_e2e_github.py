"""End to end on loopback: signed GitHub webhooks -> web -> store -> worker -> handlers -> real GitHub client
-> the fake GitHub. An installation opens a Profile PR with evidence; its merge opens generation PRs with
citations and a passing check; a redelivery creates nothing; a rate-limited response is waited out."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.demo import read_app_files
from bot.handlers import make_dispatcher
from bot.handlers.forge_factory import ForgeFactory
from bot.policy import PolicyEngine
from bot.store import open_store
from bot.web import create_app, sign_github
from bot.worker import WorkerPool
from tests.fakes import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS = ROOT / "fixtures" / "webhooks" / "github"
SECRET = "e2e-webhook-secret-value"
APP = "acme/payments-fastapi"
PLATFORM = "acme/platform"
INSTALLATION = 48213377


def fixture(name):
    d = WEBHOOKS / name
    return json.loads((d / "headers.json").read_text()), json.loads((d / "body.json").read_text())


class Service:
    """The real ingress, queue and worker pool around the real dispatcher, on an in-process test client."""

    def __init__(self, client, store, pool, outcomes):
        self.client, self.store, self.pool, self.outcomes = client, store, pool, outcomes
        self._n = 0

    async def post(self, event, body, *, delivery=None):
        self._n += 1
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": event,
                   "X-GitHub-Delivery": delivery or f"e2e-{self._n}", "X-Hub-Signature-256": sign_github(raw, SECRET)}
        resp = await self.client.post("/webhooks/github", data=raw, headers=headers)
        return resp.status

    async def drain(self, timeout=60.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            jobs = await self.store.list_jobs()
            if jobs and all(j.state in ("done", "dead", "failed") for j in jobs) and not self.pool._running:
                return jobs
            await asyncio.sleep(0.05)
        raise AssertionError(f"jobs did not finish: {[(j.id, j.state, j.last_error) for j in await self.store.list_jobs()]}")


@pytest.fixture
async def world(tmp_path, aiohttp_client):
    async with FakeGitHub() as gh:
        key = gh.register_app(4242)
        gh.add_repo(APP, files=read_app_files(ROOT / "fixtures" / "apps" / "payments-fastapi"), protected=["main"],
                    collaborators={"octo-admin": "admin"})
        gh.add_repo(PLATFORM, files={"README.md": "# Platform\n"}, protected=["main"],
                    collaborators={"octo-admin": "admin"})
        gh.add_installation(INSTALLATION, [APP, PLATFORM])
        key_file = tmp_path / "app.pem"
        key_file.write_text(key)
        settings = load_settings(env={
            "TRUSTACKS_GITHUB_WEBHOOK_SECRET": SECRET, "TRUSTACKS_GITHUB_APP_ID": "4242",
            "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": str(key_file), "TRUSTACKS_DATA_DIR": str(tmp_path / "data"),
            "TRUSTACKS_PLATFORM_REPO": "platform",
        })
        store = open_store(settings.database_url)
        await store.open()
        outcomes: list = []
        factory = ForgeFactory(settings, github_api_url=gh.url)
        policy = PolicyEngine.load(packs=("soc2",))
        dispatcher = make_dispatcher(forge_for=factory, policy=policy, platform_repo="platform", outcomes=outcomes)
        pool = WorkerPool(store, dispatcher, concurrency=1, poll_seconds=0.05, backoff_base_seconds=0.1)
        app = create_app(settings, store, on_enqueued=pool.notify)
        client = await aiohttp_client(app)
        await pool.start()
        try:
            yield gh, Service(client, store, pool, outcomes)
        finally:
            await pool.stop(grace=5)
            await factory.close()
            policy.close()
            await store.close()


def bot_prs(gh, repo):
    return [p for p in gh.repo(repo).pulls.values() if p["head"]["ref"].startswith("trustacks/")]


def merged_payload(gh, repo, pr):
    _, body = fixture("pull_request.closed_merged")
    body = copy.deepcopy(body)
    body["pull_request"].update({"number": pr["number"], "body": pr["body"], "merged": True, "state": "closed"})
    body["pull_request"]["head"].update({"ref": pr["head"]["ref"], "sha": pr["head"]["sha"]})
    body["pull_request"]["head"]["repo"]["full_name"] = repo
    body["pull_request"]["base"]["ref"] = "main"
    body["pull_request"]["user"]["login"] = "trustacks[bot]"
    return body


async def test_installation_to_generation_prs(world):
    gh, svc = world
    _, install = fixture("installation.created")
    assert await svc.post("installation", install, delivery="install-1") == 202
    await svc.drain()
    profile_prs = bot_prs(gh, PLATFORM)
    assert len(profile_prs) == 1, svc.outcomes
    pr = profile_prs[0]
    assert pr["head"]["ref"].startswith("trustacks/profile/")
    assert "acme/payments-fastapi:.github/workflows/ci.yml:" in pr["body"]  # evidence path:line
    assert "TS-PROF-001" in pr["body"]
    writes_before = len(gh.writes)

    # the same delivery again: acknowledged (200, duplicate), not worked again
    assert await svc.post("installation", install, delivery="install-1") == 200
    # a new delivery of the same event: worked, but the unchanged proposal writes nothing
    assert await svc.post("installation", install, delivery="install-2") == 202
    await svc.drain()
    assert len(bot_prs(gh, PLATFORM)) == 1
    assert [w for w in gh.writes[writes_before:] if w[0] != "GET"] == []
    assert [d for d, _ in svc.outcomes].count("install-1") == 1

    # a human declares the tools discovery cannot see, then merges (the bot never merges)
    from bot.demo import DEMO_DECLARED
    from bot.profile import Profile

    branch = pr["head"]["ref"]
    text = gh.repo(PLATFORM).files(branch)[".trustacks/profile.yaml"]
    profile = Profile.loads(text)
    for category, entries in DEMO_DECLARED.items():
        if not profile.tools(category):
            profile.set_tools(category, entries)
    gh.push(PLATFORM, branch, {".trustacks/profile.yaml": profile.dumps()}, author=("Octo Admin", "octo@acme.io"))
    gh.merge_pull(PLATFORM, pr["number"], by="octo-admin")
    pr = gh.repo(PLATFORM).pulls[pr["number"]]

    # GitHub's secondary rate limit on the next call: the client waits it out
    gh.rate_limit_secondary(times=1, retry_after=1)
    assert await svc.post("pull_request", merged_payload(gh, PLATFORM, pr), delivery="merge-1") == 202
    jobs = await svc.drain(timeout=90)
    assert all(j.state == "done" for j in jobs), [(j.event, j.state, j.last_error) for j in jobs]

    assert any(status == 403 for _, _, status in gh.requests)  # the limit was hit ...
    assert all(f.times == 0 for f in gh._failures)  # ... and waited out, then the job succeeded
    assert gh.errors == []
    gen_app = [p for p in bot_prs(gh, APP) if p["head"]["ref"].startswith("trustacks/generate/")]
    gen_platform = [p for p in bot_prs(gh, PLATFORM) if p["head"]["ref"].startswith("trustacks/generate/")]
    assert len(gen_app) == 1 and len(gen_platform) == 1, svc.outcomes
    for p in gen_app + gen_platform:
        assert "TS-" in p["body"] and "Blast radius" in p["body"] and "Rollback" in p["body"]
        assert ".trustacks/profile.yaml#tooling." in p["body"]
    app_files = set(gh.repo(APP).files(gen_app[0]["head"]["ref"]))
    assert ".github/workflows/trustacks-ci.yml" in app_files
    platform_files = set(gh.repo(PLATFORM).files(gen_platform[0]["head"]["ref"]))
    assert any(f.endswith("Chart.yaml") for f in platform_files)
    assert any("argocd" in f for f in platform_files)
    # a passing policy check on each generation PR head
    for repo, p in ((APP, gen_app[0]), (PLATFORM, gen_platform[0])):
        checks = [c for c in gh.repo(repo).check_runs.values() if c["head_sha"] == p["head"]["sha"]]
        assert checks and checks[-1]["conclusion"] == "success" and checks[-1]["name"] == "trustacks/policy"
    # once onboarded, one dashboard issue in the platform repo lists the open generation PRs
    dashboards = [i for i in gh.repo(PLATFORM).issues.values() if i["title"] == "TruStacks Dashboard"]
    assert len(dashboards) == 1
    assert f"#{gen_platform[0]['number']}" in dashboards[0]["body"]
    # nothing was ever written to a default branch or outside trustacks/
    for method, path, payload in gh.writes:
        if "/git/refs" in path and method in ("POST", "PATCH", "DELETE"):
            ref = (payload or {}).get("ref", path.split("/git/refs/", 1)[-1])
            assert "trustacks/" in ref, (method, path, payload)
