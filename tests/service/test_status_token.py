"""The status page in `trustacks serve`: mounted at `/` only with TRUSTACKS_STATUS_TOKEN, token required,
compared in constant time, never logged; the real service loop hands it the decision log and the policy."""

from __future__ import annotations

import asyncio
import base64
import logging

import aiohttp
import pytest

from bot.audit import AuditLog
from bot.config import ConfigError, Secret, load_settings
from bot.models import Decision, Violation
from bot.store import Delivery, open_store
from bot.web import create_app

from .conftest import CANARY, make_settings

TOKEN = "status-canary-" + "T0k3n-9f8e7d6c5b4a"


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'queue.db'}")
    await s.open()
    yield s
    await s.close()


# ====================================================================== the setting


def test_the_token_is_a_secret_setting(tmp_path) -> None:
    settings = make_settings(tmp_path, TRUSTACKS_STATUS_TOKEN=TOKEN)
    assert isinstance(settings.status_token, Secret) and settings.status_token.reveal() == TOKEN
    assert TOKEN in settings.secrets()  # so the log redactor replaces it
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert make_settings(tmp_path).status_token is None


def test_the_token_can_come_from_a_file(tmp_path) -> None:
    path = tmp_path / "status-token"
    path.write_text(TOKEN + "\n")
    settings = make_settings(tmp_path, TRUSTACKS_STATUS_TOKEN_FILE=str(path))
    assert settings.status_token is not None and settings.status_token.reveal() == TOKEN
    with pytest.raises(ConfigError, match="set only one of"):
        make_settings(tmp_path, TRUSTACKS_STATUS_TOKEN_FILE=str(path), TRUSTACKS_STATUS_TOKEN=TOKEN)


@pytest.mark.parametrize("value", ["x9Q-w2", "   "])
def test_a_weak_or_empty_token_stops_the_start(tmp_path, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, TRUSTACKS_STATUS_TOKEN=value)
    assert "TRUSTACKS_STATUS_TOKEN" in str(info.value)
    assert value.strip() == "" or value not in str(info.value)


def test_toml_key(tmp_path) -> None:
    config = tmp_path / "trustacks.toml"
    config.write_text(f'status_token = "{TOKEN}"\ngithub_webhook_secret = "{CANARY}"\n')
    settings = load_settings({"TRUSTACKS_DATA_DIR": str(tmp_path / "d")}, file=config)
    assert settings.status_token is not None and settings.status_token.reveal() == TOKEN
    assert not settings.warnings


# ====================================================================== create_app


async def test_no_token_no_page(tmp_path, aiohttp_client, store) -> None:
    app = create_app(make_settings(tmp_path), store)
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 404
    assert (await client.get("/", headers=bearer())).status == 404
    assert (await client.get("/healthz")).status == 200  # the rest of the service is unchanged


async def test_token_required_and_the_page_shows_the_queue(tmp_path, aiohttp_client, store) -> None:
    await store.enqueue(Delivery("github", "d-1", "push", b"{}"))
    app = create_app(make_settings(tmp_path, TRUSTACKS_STATUS_TOKEN=TOKEN), store)
    client = await aiohttp_client(app)
    for headers in ({}, bearer("wrong-token-wrong-token"), bearer(TOKEN + "x"), bearer(TOKEN[:-1]),
                    {"Authorization": TOKEN}, {"Authorization": f"Token {TOKEN}"}):
        resp = await client.get("/", headers=headers)
        assert resp.status == 401 and "WWW-Authenticate" in resp.headers
        assert TOKEN not in await resp.text()
    ok = await client.get("/", headers=bearer())
    html = await ok.text()
    assert ok.status == 200 and ok.headers["Cache-Control"] == "no-store"
    assert 'id="queue-depth">1<' in html and TOKEN not in html
    basic = base64.b64encode(f"operator:{TOKEN}".encode()).decode()
    assert (await client.get("/", headers={"Authorization": f"Basic {basic}"})).status == 200
    assert (await client.post("/", headers=bearer())).status == 405  # read-only


async def test_the_token_is_compared_in_constant_time(tmp_path, aiohttp_client, store, monkeypatch) -> None:
    import bot.status_page as page

    calls: list[tuple[bytes, bytes]] = []
    real = page.hmac.compare_digest

    def recording(a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(page.hmac, "compare_digest", recording)
    client = await aiohttp_client(create_app(make_settings(tmp_path, TRUSTACKS_STATUS_TOKEN=TOKEN), store))
    assert (await client.get("/", headers=bearer("not-the-token-at-all"))).status == 401
    assert (await client.get("/", headers=bearer())).status == 200
    assert len(calls) == 2 and all(b == TOKEN.encode() for _, b in calls)


async def test_the_token_is_never_logged(tmp_path, aiohttp_client, store) -> None:
    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage() + repr(record.__dict__))

    collect = Collect()
    # attached to each logger itself: an earlier test's configure_logging may have stopped propagation
    loggers = [logging.getLogger(n) for n in ("", "aiohttp", "aiohttp.access", "trustacks", "trustacks.status")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(collect)
        lg.setLevel(logging.DEBUG)
    try:
        client = await aiohttp_client(create_app(make_settings(tmp_path, TRUSTACKS_STATUS_TOKEN=TOKEN), store))
        await client.get("/", headers=bearer(TOKEN + "-almost"))
        await client.get("/", headers=bearer())
        basic = base64.b64encode(f"op:{TOKEN}".encode()).decode()
        await client.get("/", headers={"Authorization": f"Basic {basic}"})
    finally:
        for lg, level in saved:
            lg.removeHandler(collect)
            lg.setLevel(level)
    text = "\n".join(collect.lines)
    assert any("GET / " in line for line in collect.lines)  # the access log saw the requests...
    assert TOKEN not in text and basic not in text  # ...and never the token


# ====================================================================== trustacks serve


class Policy:
    """What the page reads from the loaded engine."""

    revisions = {"constitution": "c0ffee1", "packs/soc2": "50c2abc"}
    packs = ["soc2"]

    def rules(self) -> list[str]:
        return ["TS-PROC-001", "TS-CRED-001"]


async def serve(settings, dispatch):  # type: ignore[no-untyped-def]
    from bot.serve_cli import run_service

    stop = asyncio.Event()
    ports: list[int] = []
    task = asyncio.create_task(run_service(settings, dispatch, stop=stop, on_listening=lambda h, p: ports.append(p)))
    while not ports:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return stop, task, f"http://127.0.0.1:{ports[0]}"


def decision() -> Decision:
    return Decision(deny=[Violation(rule="TS-CRED-001", layer="constitution", severity="high", msg="static key",
                                    because=["constitution"])])


async def test_serve_mounts_the_page_with_the_dispatchers_policy_and_audit(tmp_path) -> None:
    settings = make_settings(tmp_path, TRUSTACKS_PORT="0", TRUSTACKS_STATUS_TOKEN=TOKEN)
    audit = AuditLog(tmp_path / "decisions.db")
    audit.append_decision(decision(), input_digest="a" * 64, actor="trustacks[bot]", repo="acme/payments",
                          subject="Generate CI")

    async def dispatch(job):  # type: ignore[no-untyped-def]
        return None

    dispatch.policy, dispatch.audit = Policy(), audit  # type: ignore[attr-defined]
    stop, task, url = await serve(settings, dispatch)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/") as resp:
                assert resp.status == 401
            async with http.get(url + "/", headers=bearer()) as resp:
                html = await resp.text()
                assert resp.status == 200
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert "c0ffee1" in html and "2 rules; packs: soc2" in html
    assert "verified: 1 entries intact" in html and "TS-CRED-001" in html
    audit.append_decision(decision(), input_digest="b" * 64, actor="x")  # the service did not close the dispatcher's log
    audit.close()


async def test_serve_reads_the_services_audit_file_when_the_dispatcher_does_not_share_it(tmp_path) -> None:
    settings = make_settings(tmp_path, TRUSTACKS_PORT="0", TRUSTACKS_STATUS_TOKEN=TOKEN)
    settings.data_dir.mkdir(parents=True)
    writer = AuditLog(settings.data_dir / "audit.db")  # where build_dispatcher keeps it
    writer.append_decision(decision(), input_digest="c" * 64, actor="trustacks[bot]", repo="acme/payments")
    writer.close()

    async def dispatch(job):  # type: ignore[no-untyped-def]
        return None

    stop, task, url = await serve(settings, dispatch)
    try:
        async with aiohttp.ClientSession() as http, http.get(url + "/", headers=bearer()) as resp:
            html = await resp.text()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert "verified: 1 entries intact" in html and "no policy loaded" in html


async def test_serve_without_a_token_has_no_page(tmp_path) -> None:
    settings = make_settings(tmp_path, TRUSTACKS_PORT="0")

    async def dispatch(job):  # type: ignore[no-untyped-def]
        return None

    stop, task, url = await serve(settings, dispatch)
    try:
        async with aiohttp.ClientSession() as http, http.get(url + "/", headers=bearer()) as resp:
            assert resp.status == 404
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
