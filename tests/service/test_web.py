"""The ingress: every rejection path, dedupe, persist-then-202, health, readiness, metrics."""

from __future__ import annotations

import hashlib
import io
import json
import logging

import pytest

from bot.config import Secret
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.store import StoreError, open_store
from bot.web import create_app, gitlab_delivery_id, sign_github, verify_github_signature, verify_gitlab_token

from .conftest import BOTH, CANARY, GITLAB_CANARY, make_settings

BODY = json.dumps({"action": "opened", "pull_request": {"number": 7}}).encode()


def gh_headers(body: bytes = BODY, *, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958", event: str = "pull_request",
               secret: str = CANARY, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign_github(body, secret),
        "X-GitHub-Hook-ID": "42",
    }
    headers.update(extra)
    return headers


def gl_headers(*, token: str = GITLAB_CANARY, key: str | None = "908a6d9e-45fd-46c8-97e6-c4f350f219dd",
               event: str = "Merge Request Hook") -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": event, "X-Gitlab-Token": token,
               "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


@pytest.fixture
async def service(tmp_path, aiohttp_client):
    settings = make_settings(tmp_path, TRUSTACKS_MAX_BODY_BYTES="4096")
    store = open_store(settings.database_url)
    metrics = Metrics()
    woken: list[int] = []
    app = create_app(settings, store, metrics=metrics, on_enqueued=lambda: woken.append(1))
    client = await aiohttp_client(app)
    client.store, client.metrics, client.woken = store, metrics, woken
    yield client
    await store.close()


def count(metrics: Metrics, forge: str, outcome: str, event: str = "-") -> float:
    value = metrics.registry.get_sample_value(
        "trustacks_webhook_deliveries_total", {"forge": forge, "event": event, "outcome": outcome}
    )
    return value or 0.0


# --------------------------------------------------------------------------- pure verification


def test_github_signature_accepts_only_sha256_of_the_exact_body():
    secret = Secret("It's a Secret to Everybody")
    body = b"Hello, World!"
    # the example from GitHub's "Validating webhook deliveries" page
    good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert verify_github_signature(body, good, secret)
    assert not verify_github_signature(body + b" ", good, secret)
    assert not verify_github_signature(body, good.replace("sha256=", "sha1="), secret)
    assert not verify_github_signature(body, "sha1=" + hashlib.sha1(body).hexdigest(), secret)
    assert not verify_github_signature(body, None, secret)
    assert not verify_github_signature(body, "", secret)
    assert not verify_github_signature(body, good, Secret("other"))
    assert not verify_github_signature(body, "sha256=\udcff", secret)


def test_gitlab_token_and_delivery_id():
    token = Secret("tok")
    assert verify_gitlab_token("tok", token)
    assert not verify_gitlab_token("tok ", token) and not verify_gitlab_token(None, token)
    assert gitlab_delivery_id({"Idempotency-Key": "k1", "X-Gitlab-Event-UUID": "u"}, b"{}") == "k1"
    a = gitlab_delivery_id({"X-Gitlab-Event-UUID": "u"}, b'{"a": 1}')
    b = gitlab_delivery_id({"X-Gitlab-Event-UUID": "u"}, b'{"a": 2}')
    assert a and b and a != b and a.startswith("u:")  # recursive hooks share one event UUID
    assert gitlab_delivery_id({}, b"{}") is None


# --------------------------------------------------------------------------- GitHub


async def test_github_delivery_is_persisted_then_acknowledged(service):
    resp = await service.post("/webhooks/github", data=BODY, headers=gh_headers())
    assert resp.status == 202
    assert await resp.json() == {"status": "accepted"}
    [job] = await service.store.list_jobs("queued")
    stored = await service.store.get_job(job.id)
    assert (stored.forge, stored.event, stored.delivery_id) == ("github", "pull_request", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert stored.body == BODY
    assert stored.headers == {"x-github-hook-id": "42", "user-agent": stored.headers.get("user-agent")}
    assert not any("signature" in h for h in stored.headers)
    assert service.woken == [1]
    assert count(service.metrics, "github", "accepted", "pull_request") == 1


async def test_github_redelivery_is_acknowledged_and_not_queued_again(service):
    assert (await service.post("/webhooks/github", data=BODY, headers=gh_headers())).status == 202
    resp = await service.post("/webhooks/github", data=BODY, headers=gh_headers())
    assert resp.status == 200 and await resp.json() == {"status": "duplicate"}
    assert len(await service.store.list_jobs()) == 1
    assert service.woken == [1]
    assert count(service.metrics, "github", "duplicate", "pull_request") == 1


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda h: h.pop("X-Hub-Signature-256"), id="missing"),
        pytest.param(lambda h: h.update({"X-Hub-Signature-256": sign_github(BODY, "wrong")}), id="wrong-secret"),
        pytest.param(lambda h: h.update({"X-Hub-Signature-256": sign_github(BODY + b"x", CANARY)}), id="other-body"),
        pytest.param(
            lambda h: h.update({"X-Hub-Signature-256": "sha1=" + hashlib.sha1(BODY).hexdigest()}), id="sha1"
        ),
        pytest.param(lambda h: h.update({"X-Hub-Signature-256": "sha256="}), id="empty-digest"),
    ],
)
async def test_github_bad_signature_is_401_without_detail(service, mutate):
    headers = gh_headers()
    mutate(headers)
    resp = await service.post("/webhooks/github", data=BODY, headers=headers)
    assert resp.status == 401
    text = await resp.text()
    assert "signature" not in text.lower() and CANARY not in text
    assert await service.store.list_jobs() == []
    assert count(service.metrics, "github", "unauthorized") == 1


async def test_github_oversized_body_is_413_by_content_length_and_by_chunks(service):
    big = b'{"a": "' + b"x" * 5000 + b'"}'
    resp = await service.post("/webhooks/github", data=big, headers=gh_headers(big))
    assert resp.status == 413

    async def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(10):
            yield b"x" * 1000

    headers = gh_headers(big)
    resp = await service.post("/webhooks/github", data=chunks(), headers=headers)
    assert resp.status == 413
    assert await service.store.list_jobs() == []
    assert count(service.metrics, "github", "too_large") == 2


async def test_github_wrong_content_type_is_415(service):
    form = b"payload=" + BODY
    headers = gh_headers(form, **{"Content-Type": "application/x-www-form-urlencoded"})
    resp = await service.post("/webhooks/github", data=form, headers=headers)
    assert resp.status == 415
    assert count(service.metrics, "github", "unsupported_media_type") == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"string"', b"\xff\xfe{}", b""])
async def test_github_malformed_json_is_400(service, body):
    resp = await service.post("/webhooks/github", data=body, headers=gh_headers(body))
    assert resp.status == 400
    assert await service.store.list_jobs() == []
    assert count(service.metrics, "github", "malformed_json") == 1


@pytest.mark.parametrize("header", ["X-GitHub-Event", "X-GitHub-Delivery"])
async def test_github_missing_event_or_delivery_header_is_400(service, header):
    headers = gh_headers()
    del headers[header]
    resp = await service.post("/webhooks/github", data=BODY, headers=headers)
    assert resp.status == 400
    assert count(service.metrics, "github", "missing_headers") == 1


async def test_large_valid_body_is_parsed_off_the_loop_and_accepted(tmp_path, aiohttp_client):
    settings = make_settings(tmp_path)
    store = open_store(settings.database_url)
    client = await aiohttp_client(create_app(settings, store))
    body = json.dumps({"commits": ["c" * 100] * 5000}).encode()
    assert len(body) > 256 * 1024
    resp = await client.post("/webhooks/github", data=body, headers=gh_headers(body, delivery="big-1"))
    assert resp.status == 202
    await store.close()


async def test_store_failure_answers_503_so_the_forge_can_redeliver(service):
    await service.store.close()
    resp = await service.post("/webhooks/github", data=BODY, headers=gh_headers())
    assert resp.status == 503
    assert count(service.metrics, "github", "store_error", "pull_request") == 1
    assert service.metrics.registry.get_sample_value("trustacks_store_errors_total", {"operation": "enqueue"}) == 1


# --------------------------------------------------------------------------- GitLab


async def test_gitlab_delivery_is_accepted_and_deduped_on_idempotency_key(service):
    resp = await service.post("/webhooks/gitlab", data=BODY, headers=gl_headers())
    assert resp.status == 202
    resp = await service.post("/webhooks/gitlab", data=BODY, headers=gl_headers())
    assert resp.status == 200
    [job] = await service.store.list_jobs()
    assert (job.forge, job.event, job.delivery_id) == ("gitlab", "Merge Request Hook", "908a6d9e-45fd-46c8-97e6-c4f350f219dd")
    full = await service.store.get_job(job.id)
    assert "x-gitlab-token" not in full.headers and GITLAB_CANARY not in json.dumps(dict(full.headers))


async def test_gitlab_without_idempotency_key_dedupes_on_event_uuid_and_body(service):
    assert (await service.post("/webhooks/gitlab", data=BODY, headers=gl_headers(key=None))).status == 202
    assert (await service.post("/webhooks/gitlab", data=BODY, headers=gl_headers(key=None))).status == 200
    other = b'{"object_kind": "push"}'
    assert (await service.post("/webhooks/gitlab", data=other, headers=gl_headers(key=None, event="Push Hook"))).status == 202


@pytest.mark.parametrize(
    "headers, body, status, outcome",
    [
        (lambda: {k: v for k, v in gl_headers().items() if k != "X-Gitlab-Token"}, BODY, 401, "unauthorized"),
        (lambda: gl_headers(token="nope"), BODY, 401, "unauthorized"),
        (lambda: gl_headers(token=GITLAB_CANARY + "x"), BODY, 401, "unauthorized"),
        (lambda: gl_headers(), b'{"a": "' + b"x" * 5000 + b'"}', 413, "too_large"),
        (lambda: {**gl_headers(), "Content-Type": "text/plain"}, BODY, 415, "unsupported_media_type"),
        (lambda: gl_headers(), b"{oops", 400, "malformed_json"),
        (lambda: {k: v for k, v in gl_headers().items() if k != "X-Gitlab-Event"}, BODY, 400, "missing_headers"),
        (lambda: {k: v for k, v in gl_headers(key=None).items() if k != "X-Gitlab-Event-UUID"}, BODY, 400,
         "missing_headers"),
    ],
    ids=["no-token", "wrong-token", "token-prefix", "too-large", "content-type", "malformed", "no-event", "no-id"],
)
async def test_gitlab_rejections(service, headers, body, status, outcome):
    resp = await service.post("/webhooks/gitlab", data=body, headers=headers())
    assert resp.status == status
    assert GITLAB_CANARY not in await resp.text()
    assert await service.store.list_jobs() == []
    assert count(service.metrics, "gitlab", outcome) == 1


async def test_unconfigured_forge_endpoint_does_not_exist(tmp_path, aiohttp_client):
    settings = make_settings(tmp_path, TRUSTACKS_GITLAB_WEBHOOK_TOKEN=None)
    store = open_store(settings.database_url)
    client = await aiohttp_client(create_app(settings, store))
    resp = await client.post("/webhooks/gitlab", data=BODY, headers=gl_headers())
    assert resp.status == 404
    assert await store.list_jobs() == []
    await store.close()


async def test_get_on_a_webhook_endpoint_is_405(service):
    assert (await service.get("/webhooks/github")).status == 405


# --------------------------------------------------------------------------- health, readiness, metrics


async def test_healthz_and_readyz(tmp_path, aiohttp_client):
    settings = make_settings(tmp_path)
    store = open_store(settings.database_url)
    policy_loaded = {"ok": False}

    async def policy() -> bool:
        return policy_loaded["ok"]

    def broken() -> bool:
        raise RuntimeError("check crashed")

    app = create_app(settings, store, ready_checks={"policy": policy})
    client = await aiohttp_client(app)
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 503 and (await resp.json())["checks"] == {"store": True, "policy": False}
    policy_loaded["ok"] = True
    assert (await client.get("/readyz")).status == 200
    await store.close()
    resp = await client.get("/readyz")
    assert resp.status == 503 and (await resp.json())["checks"]["store"] is False
    assert (await client.get("/healthz")).status == 200

    store2 = open_store(settings.database_url)
    client2 = await aiohttp_client(create_app(settings, store2, ready_checks={"broken": broken}))
    assert (await client2.get("/readyz")).status == 503
    await store2.close()


async def test_metrics_expose_deliveries_and_queue_depth_per_app(service, tmp_path, aiohttp_client):
    await service.post("/webhooks/github", data=BODY, headers=gh_headers())
    await service.post("/webhooks/github", data=BODY, headers=gh_headers(delivery="d2"))
    await service.post("/webhooks/github", data=BODY, headers={"Content-Type": "application/json"})
    resp = await service.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'trustacks_webhook_deliveries_total{event="pull_request",forge="github",outcome="accepted"} 2.0' in text
    assert 'trustacks_webhook_deliveries_total{event="-",forge="github",outcome="unauthorized"} 1.0' in text
    assert 'trustacks_queue_jobs{state="queued"} 2.0' in text
    assert "trustacks_queue_depth 2.0" in text
    assert "trustacks_webhook_response_seconds_bucket" in text
    # a second app in the same process starts from zero (no global registry)
    settings = make_settings(tmp_path / "other")
    other_store = open_store(settings.database_url)
    other = await aiohttp_client(create_app(settings, other_store))
    assert "outcome=\"accepted\"} 2.0" not in await (await other.get("/metrics")).text()
    await other_store.close()


# --------------------------------------------------------------------------- logs


@BOTH
async def test_no_secret_in_any_log_line_and_ids_on_every_delivery_line(tmp_path, aiohttp_client, db_url):
    settings = make_settings(tmp_path, TRUSTACKS_DATABASE_URL=db_url, TRUSTACKS_MAX_BODY_BYTES="4096")
    stream = io.StringIO()
    handler = configure_logging("DEBUG", secrets=settings.secrets(), stream=stream)
    store = open_store(settings.database_url)
    try:
        client = await aiohttp_client(create_app(settings, store))
        leaky = json.dumps({"note": f"the body quotes the secret {CANARY}"}).encode()
        await client.post("/webhooks/github", data=leaky, headers=gh_headers(leaky, delivery="log-1"))
        await client.post("/webhooks/github", data=leaky, headers=gh_headers(leaky, delivery="log-1"))
        await client.post("/webhooks/github", data=leaky, headers=gh_headers(leaky, secret="x", delivery="log-2"))
        await client.post("/webhooks/github", data=b"{", headers=gh_headers(b"{", delivery="log-3"))
        await client.post("/webhooks/gitlab", data=BODY, headers=gl_headers(token=GITLAB_CANARY[:-1]))
        await client.post("/webhooks/gitlab", data=BODY, headers=gl_headers())
        logging.getLogger("trustacks.test").info("settings are %r", settings)
        logging.getLogger("trustacks.test").error("a handler echoed %s and %s", CANARY, GITLAB_CANARY)
    finally:
        logging.getLogger().removeHandler(handler)
        await store.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    delivery_lines = [l for l in lines if l["logger"] == "trustacks.web"]
    assert len(delivery_lines) == 6
    assert all("delivery_id" in l and "job_id" in l for l in lines)
    assert [l["delivery_id"] for l in delivery_lines[:4]] == ["log-1", "log-1", "log-2", "log-3"]
    assert [l["outcome"] for l in delivery_lines] == [
        "accepted", "duplicate", "unauthorized", "malformed_json", "unauthorized", "accepted"]
    raw = stream.getvalue()
    assert CANARY not in raw and GITLAB_CANARY not in raw and GITLAB_CANARY[:-1] not in raw
    assert "the body quotes" not in raw  # bodies are never logged
    assert "***" in raw  # the redactor did fire on the deliberate leak


async def test_store_error_text_does_not_reach_the_response(service, monkeypatch):
    async def boom(delivery):
        raise StoreError(f"disk full near {CANARY}")

    monkeypatch.setattr(service.store, "enqueue", boom)
    resp = await service.post("/webhooks/github", data=BODY, headers=gh_headers())
    assert resp.status == 503
    assert CANARY not in await resp.text()
