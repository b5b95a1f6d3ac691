"""The operator status page: off without a token, token required, real numbers, everything escaped."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest
from aiohttp import web

from bot.audit import AuditLog
from bot.models import Decision
from bot.status_page import authorized, status_routes
from bot.store import Delivery

from .conftest import dead_job, violation

TOKEN = "op-token-123"
XSS_REPO = "acme/<script>alert(1)</script>"


async def seed(store, audit: AuditLog) -> dict[str, int]:
    """Jobs in several states, an installation delivery, and decisions with an XSS probe in their subject."""
    install = {"action": "created", "installation": {"id": 77, "account": {"login": "acme"}},
               "repositories": [{"full_name": "acme/payments"}, {"full_name": XSS_REPO}], "sender": {"login": "root"}}
    await store.enqueue(Delivery("github", "inst-1", "installation", json.dumps(install).encode()))
    leased = await store.lease("w", 5)
    assert await store.complete(leased[0])
    dead = await dead_job(store, "acme/payments", "d-dead", error="forge answered <b>502</b>")
    await store.enqueue(Delivery("github", "q-1", "push", b"{}"))
    audit.append_decision(Decision(deny=[violation("TS-CRED-001", "static key")]), input_digest="x" * 64,
                          actor="trustacks[bot]", repo="acme/payments", subject="PR title <script>alert(2)</script>")
    audit.append_decision(Decision(warn=[violation("SOC2-CC7.2-001", layer="packs")]), input_digest="y" * 64,
                          actor="trustacks[bot]", repo="acme/platform", subject="Update the Profile")
    return {"dead": dead}


@pytest.fixture
def audit(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.db")
    yield log
    log.close()


async def client_for(aiohttp_client, *, store, audit, engine, token=TOKEN):
    app = web.Application()
    mounted = status_routes(app, store=store, audit=audit, policy=engine, token=token)
    return mounted, await aiohttp_client(app)


async def test_off_without_a_token(aiohttp_client, store, audit, engine):
    mounted, client = await client_for(aiohttp_client, store=store, audit=audit, engine=engine, token=None)
    assert mounted is False
    assert (await client.get("/")).status == 404


async def test_token_required(aiohttp_client, store, audit, engine):
    _, client = await client_for(aiohttp_client, store=store, audit=audit, engine=engine)
    assert (await client.get("/")).status == 401
    assert (await client.get("/", headers={"Authorization": "Bearer wrong"})).status == 401
    basic_wrong = base64.b64encode(b"op:nope").decode()
    assert (await client.get("/", headers={"Authorization": f"Basic {basic_wrong}"})).status == 401
    ok = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status == 200
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    assert (await client.get("/", headers={"Authorization": f"Basic {basic}"})).status == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic !!!", "Token op-token-123", "Bearer op-token-1234"])
def test_authorized_refuses_malformed(header):
    assert authorized(header, TOKEN) is False


async def test_page_shows_the_state_escaped(aiohttp_client, store, audit, engine):
    ids = await seed(store, audit)
    _, client = await client_for(aiohttp_client, store=store, audit=audit, engine=engine)
    resp = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    html = await resp.text()
    assert "script-src" not in resp.headers["Content-Security-Policy"] and "default-src 'none'" in resp.headers[
        "Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert '<div class="value" id="queue-depth">1</div>' in html
    assert '<div class="value" id="count-dead">1</div>' in html and '<div class="value" id="count-done">1</div>' in html
    assert f'<tr class="job" data-state="dead"><td class="num">{ids["dead"]}</td>' in html
    assert "forge answered &lt;b&gt;502&lt;/b&gt;" in html
    assert "<script>" not in html
    assert "acme/&lt;script&gt;alert(1)&lt;/script&gt;" in html and "PR title &lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert '<td class="bad">deny</td>' in html and "<code>TS-CRED-001</code> (deny)" in html
    assert 'id="audit-status">verified: 2 entries intact' in html
    for layer, rev in engine.revisions.items():
        assert f"<tr><td>{layer}</td><td><code>{rev}</code></td></tr>" in html
    # where the rules came from: a directory load says it is unsigned
    assert '<p id="policy-source">Loaded from: rules directory ' in html and "(unsigned)</p>" in html


async def test_tampered_audit_chain_is_shown(aiohttp_client, store, tmp_path, engine):
    log = AuditLog(tmp_path / "a.db")
    try:
        await seed(store, log)
        con = sqlite3.connect(tmp_path / "a.db")
        con.execute("UPDATE audit_log SET record = replace(record, 'deny', 'pass') WHERE seq = 1")
        con.commit()
        con.close()
        _, client = await client_for(aiohttp_client, store=store, audit=log, engine=engine)
        html = await (await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})).text()
        assert 'id="audit-status">FAILED verification' in html and "seq 1: edited" in html
    finally:
        log.close()


async def test_a_broken_store_is_reported_not_a_500(aiohttp_client, audit, engine):
    class Down:
        async def counts(self):
            raise ConnectionError("database is unreachable")

    _, client = await client_for(aiohttp_client, store=Down(), audit=audit, engine=engine)
    resp = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200 and "job queue: ConnectionError: database is unreachable" in await resp.text()
