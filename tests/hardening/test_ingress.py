"""The webhook door: signatures that must be refused, and fuzzed deliveries that must never cause a 500.

Authentication (bot/web.py): a GitHub delivery counts only with `X-Hub-Signature-256: sha256=<HMAC-SHA256
of the exact body>`; forged, missing, truncated, SHA-1 (`sha1=` or the legacy `X-Hub-Signature`) and
one-byte-changed bodies are 401 and store nothing; a replayed delivery id is acknowledged (200) and not
queued again, whatever body it carries. GitLab: `X-Gitlab-Token` must equal the secret exactly.

Fuzzing: arbitrary headers and bodies (random JSON, fixture payloads with values replaced or removed,
raw bytes), signed or not, into the real aiohttp app with a real SQLite store; every answer is one of
the documented statuses, never 5xx, and every accepted body normalizes to an Event, None, or a
PayloadError (never another exception). Memory is bounded over the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import aiohttp
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, load_settings
from bot.handlers.events import Event, PayloadError, normalize
from bot.store import open_store
from bot.web import create_app, sign_github

from . import payloads
from .memory import bounded_memory

SECRET = "hardening-webhook-secret-9f2c"
GITLAB_TOKEN = "hardening-gitlab-token-71ab"
DOCUMENTED = {200, 202, 400, 401, 413, 415}
MAX_BODY = 64 * 1024


def settings_for(tmp: Path, **env: str) -> Any:
    return load_settings(env={"TRUSTACKS_DATA_DIR": str(tmp / "data"), "TRUSTACKS_GITHUB_WEBHOOK_SECRET": SECRET,
                              "TRUSTACKS_GITLAB_WEBHOOK_TOKEN": GITLAB_TOKEN,
                              "TRUSTACKS_MAX_BODY_BYTES": str(MAX_BODY), **env})


class Ingress:
    """The real app and store on an in-process test server, driven from synchronous hypothesis tests."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.settings = settings_for(tmp)
        self.store = open_store(self.settings.database_url)
        # A plain ClientSession: aiohttp's TestClient keeps every response, which would read as a leak.
        self.server = TestServer(create_app(self.settings, self.store), loop=self.loop)
        self.run(self.server.start_server())
        self.session = self.run(_session())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        async def go() -> int:
            async with self.session.post(self.server.make_url(path), data=body, headers=headers) as resp:
                await resp.read()
                return resp.status

        return self.run(go())

    def jobs(self) -> list[Any]:
        return self.run(self.store.list_jobs(limit=100_000))

    def job(self, delivery_id: str) -> Any:
        for j in self.jobs():
            if j.delivery_id == delivery_id:
                return self.run(self.store.get_job(j.id))
        return None

    def close(self) -> None:
        self.run(self.session.close())
        self.run(self.server.close())
        self.run(self.store.close())
        self.loop.close()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


@pytest.fixture
def ingress(tmp_path):
    door = Ingress(tmp_path)
    yield door
    door.close()


def gh_headers(body: bytes, *, delivery: str, event: str = "pull_request", signature: str | None = "valid",
               secret: str = SECRET) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    if signature == "valid":
        headers["X-Hub-Signature-256"] = sign_github(body, secret)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return headers


BODY = payloads.raw_body("pull_request.opened")


# ====================================================================== authentication


def test_a_correct_signature_is_accepted_once_and_a_replay_is_not_queued_again(ingress):
    assert ingress.post("/webhooks/github", BODY, gh_headers(BODY, delivery="d-1")) == 202
    # the same delivery again (GitHub's redelivery, or an attacker replaying a captured request)
    assert ingress.post("/webhooks/github", BODY, gh_headers(BODY, delivery="d-1")) == 200
    # a replay that reuses the id with another (validly signed) body changes nothing either
    other = json.dumps({"action": "closed", "pull_request": {"number": 1}}).encode()
    assert ingress.post("/webhooks/github", other, gh_headers(other, delivery="d-1")) == 200
    [job] = ingress.jobs()
    assert ingress.job("d-1").body == BODY and job.attempts == 0


@pytest.mark.parametrize("signature", [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("sha256=", id="empty-digest"),
    pytest.param(sign_github(BODY, "not-the-secret"), id="forged-other-secret"),
    pytest.param("sha256=" + hashlib.sha256(BODY).hexdigest(), id="forged-plain-sha256"),
    pytest.param("sha256=" + "0" * 64, id="forged-zeros"),
    pytest.param("sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(), id="sha1-algorithm"),
    pytest.param("SHA256=" + sign_github(BODY, SECRET)[7:], id="algorithm-case"),
    pytest.param("sha512=" + hmac.new(SECRET.encode(), BODY, hashlib.sha512).hexdigest(), id="sha512-algorithm"),
    pytest.param(sign_github(BODY, SECRET) + "00", id="extended"),
    pytest.param(sign_github(BODY, SECRET).replace("sha256=", "sha256= "), id="space-in-digest"),
    pytest.param(sign_github(BODY, SECRET) + "," + sign_github(BODY, "x"), id="two-values"),
])
def test_bad_signatures_are_401_and_store_nothing(ingress, signature):
    assert ingress.post("/webhooks/github", BODY, gh_headers(BODY, delivery="bad", signature=signature)) == 401
    assert ingress.jobs() == []


def test_the_legacy_sha1_header_alone_is_not_enough(ingress):
    headers = gh_headers(BODY, delivery="legacy", signature=None)
    headers["X-Hub-Signature"] = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert ingress.post("/webhooks/github", BODY, headers) == 401
    assert ingress.jobs() == []


def test_truncated_signatures_are_refused_at_every_length(ingress):
    good = sign_github(BODY, SECRET)
    for cut in range(len(good)):
        assert ingress.post("/webhooks/github", BODY, gh_headers(BODY, delivery=f"t{cut}", signature=good[:cut])) == 401
    assert ingress.jobs() == []


def test_a_body_changed_after_signing_is_refused(budget, ingress):
    """One byte changed, added or removed anywhere after GitHub signed: 401, nothing stored."""
    signature = sign_github(BODY, SECRET)

    @budget.settings(min(budget.cases, 2000))
    @given(st.integers(0, len(BODY) - 1), st.integers(1, 255), st.sampled_from(["flip", "insert", "delete"]))
    def changed(position, value, how):
        data = bytearray(BODY)
        if how == "flip":
            data[position] ^= value
        elif how == "insert":
            data.insert(position, value)
        else:
            del data[position]
        assert ingress.post("/webhooks/github", bytes(data),
                            gh_headers(bytes(data), delivery="changed", signature=signature)) == 401

    changed()
    assert ingress.jobs() == []


def gl_headers(token: str | None, key: str = "k-1") -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": "Merge Request Hook", "Idempotency-Key": key}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return headers


# (Leading and trailing spaces are not part of an HTTP header value: the parser strips them before the
# app sees the token, so " token " on the wire *is* the token. bot.web.verify_gitlab_token itself is
# exact about them; tests/service/test_web.py checks that at the function level.)
@pytest.mark.parametrize("token", [None, "", GITLAB_TOKEN[:-1], GITLAB_TOKEN[1:], GITLAB_TOKEN + "x",
                                   GITLAB_TOKEN.upper(), SECRET, sign_github(b"{}", GITLAB_TOKEN)])
def test_gitlab_token_must_match_exactly(ingress, token):
    body = payloads.raw_body("merge_request.open", forge="gitlab")
    assert ingress.post("/webhooks/gitlab", body, gl_headers(token)) == 401
    assert ingress.post("/webhooks/gitlab", body, gl_headers(GITLAB_TOKEN)) == 202
    assert ingress.post("/webhooks/gitlab", body, gl_headers(GITLAB_TOKEN)) == 200  # replayed key
    assert len(ingress.jobs()) == 1


def test_the_service_refuses_to_start_without_a_secret(tmp_path):
    with pytest.raises(ConfigError, match="webhook secret"):
        load_settings(env={"TRUSTACKS_DATA_DIR": str(tmp_path)})


def test_invented_event_names_do_not_grow_the_metrics(ingress):
    """Regression: each new authenticated X-GitHub-Event value used to add metric series (memory without bound)."""
    for i in range(50):
        body = json.dumps({"n": i}).encode()
        assert ingress.post("/webhooks/github", body, gh_headers(body, delivery=f"ev-{i}", event=f"invented_{i}")) == 202

    async def metrics() -> str:
        async with ingress.session.get(ingress.server.make_url("/metrics")) as resp:
            return await resp.text()

    text = ingress.run(metrics())
    assert "invented_" not in text
    assert 'trustacks_webhook_deliveries_total{event="other",forge="github",outcome="accepted"} 50.0' in text


# ====================================================================== fuzzing the door

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)
EVENTS = st.one_of(st.sampled_from(["push", "pull_request", "issue_comment", "installation",
                                    "installation_repositories", "issues", "ping", "Push Hook", "Note Hook",
                                    "Merge Request Hook", "Issue Hook"]), st.text(max_size=70))
DELIVERIES = st.one_of(st.uuids().map(str), st.text(max_size=140))


def _mutated_fixture(data: st.DataObject, forge: str) -> bytes:
    name = data.draw(st.sampled_from(payloads.fixture_names(forge)), label="fixture")
    doc: Any = payloads.body(name, forge=forge)
    for _ in range(data.draw(st.integers(0, 4), label="mutations")):
        node = doc
        while isinstance(node, dict) and node:
            key = data.draw(st.sampled_from(sorted(node)), label="key")
            if not isinstance(node[key], dict) or data.draw(st.booleans(), label="stop"):
                if data.draw(st.booleans(), label="delete"):
                    del node[key]
                else:
                    node[key] = data.draw(JSON, label="value")
                break
            node = node[key]
    return json.dumps(doc).encode()


def _body(data: st.DataObject, forge: str) -> bytes:
    kind = data.draw(st.sampled_from(["fixture", "fixture", "json", "bytes", "huge"]), label="body kind")
    if kind == "fixture":
        return _mutated_fixture(data, forge)
    if kind == "json":
        return json.dumps(data.draw(JSON, label="json")).encode()
    if kind == "huge":
        return b'{"a": "' + b"x" * data.draw(st.integers(MAX_BODY - 20, MAX_BODY + 20), label="size") + b'"}'
    return data.draw(st.binary(max_size=300), label="bytes")


def _check_normalizes(forge: str, event: str, body: bytes) -> None:
    try:
        result = normalize(forge, event, json.loads(body))
    except PayloadError:
        return
    assert result is None or isinstance(result, Event)


@pytest.mark.heavy
def test_fuzzed_deliveries_never_cause_a_500(budget, ingress):
    accepted = [0]

    @budget.settings()
    @given(st.data())
    def delivery(data):
        forge = data.draw(st.sampled_from(["github", "gitlab"]), label="forge")
        body = _body(data, forge)
        event = data.draw(EVENTS, label="event")
        headers: dict[str, str] = {}
        if data.draw(st.integers(0, 5), label="content type") > 0:
            headers["Content-Type"] = data.draw(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                                                 "text/plain", "application/x-www-form-urlencoded"]))
        if data.draw(st.integers(0, 9), label="event header") > 0:
            headers["X-GitHub-Event" if forge == "github" else "X-Gitlab-Event"] = event
        delivery_id = data.draw(DELIVERIES, label="delivery")
        if forge == "github":
            headers["X-GitHub-Delivery"] = delivery_id
            signing = data.draw(st.sampled_from(["valid", "valid", "valid", "other", "none"]), label="signing")
            if signing == "valid":
                headers["X-Hub-Signature-256"] = sign_github(body, SECRET)
            elif signing == "other":
                headers["X-Hub-Signature-256"] = data.draw(st.text(max_size=80), label="signature")
        else:
            headers["Idempotency-Key"] = delivery_id
            headers["X-Gitlab-Token"] = GITLAB_TOKEN if data.draw(st.integers(0, 3), label="token") else "nope"
        headers = {k: v for k, v in headers.items() if _header_ok(v)}
        status = ingress.post(f"/webhooks/{forge}", body, headers)
        assert status in DOCUMENTED, (status, headers, body[:200])
        if status == 202:
            accepted[0] += 1
            _check_normalizes(forge, headers["X-GitHub-Event" if forge == "github" else "X-Gitlab-Event"], body)

    with bounded_memory(peak_mb=150, retained_mb=40, traced=True, cases=budget.cases):
        delivery()
    assert accepted[0], "the fuzzer never produced an accepted delivery: the strategy is broken"


def _header_ok(value: str) -> bool:
    """Values an HTTP client can send at all (aiohttp refuses control characters and non-Latin-1)."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or ord(c) == 127 for c in value)


@pytest.mark.heavy
def test_fuzzed_payloads_normalize_or_raise_payload_error(budget):
    """The handlers' first step on anything the door let through: an Event, None, or PayloadError."""

    @budget.settings()
    @given(st.data())
    def payload(data):
        forge = data.draw(st.sampled_from(["github", "gitlab"]), label="forge")
        body = _mutated_fixture(data, forge) if data.draw(st.integers(0, 4), label="kind") else \
            json.dumps(data.draw(JSON, label="json")).encode()
        event = data.draw(EVENTS, label="event")
        _check_normalizes(forge, event, body)

    payload()
