"""The webhook ingress: verify -> dedupe -> persist -> 202, plus health, readiness and metrics.

`create_app(settings, store)` builds the aiohttp application. Per delivery, in this order:

GitHub (`POST /webhooks/github`), https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
  413 body over TRUSTACKS_MAX_BODY_BYTES (Content-Length first, then while reading) ->
  401 `X-Hub-Signature-256` missing or not the HMAC-SHA256 of the raw body (only `sha256=`; SHA-1
  `X-Hub-Signature` is ignored) -> 415 not application/json -> 400 no `X-GitHub-Event` /
  `X-GitHub-Delivery`, or a body that is not a JSON object -> persist -> 202 (200 for a redelivery).
GitLab (`POST /webhooks/gitlab`), https://docs.gitlab.com/user/project/integrations/webhooks/
  401 `X-Gitlab-Token` wrong (checked before the body is read) -> 413 -> 415 -> 400 -> persist -> 202.
  The delivery id is `Idempotency-Key` (stable across GitLab's retries) or else `X-Gitlab-Event-UUID`
  plus a digest of the body (GitLab reuses one event UUID for webhooks triggered by webhooks).

Rejections answer with the status line only (no detail), are counted in
`trustacks_webhook_deliveries{outcome=...}` and logged without the body, the headers or any secret.
An endpoint whose secret is not configured answers 404: nothing unsigned is ever accepted.
A delivery is acknowledged only after the store has committed it; a store failure answers 503 so
the forge shows a failed delivery that can be redelivered.

`GET /` is the read-only operator status page (bot/status_page.py), mounted only when
TRUSTACKS_STATUS_TOKEN is set (otherwise 404) and answering 401 without that token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web

from bot.config import Secret, Settings
from bot.logs import log_context
from bot.metrics import CONTENT_TYPE, Metrics
from bot.status_page import status_routes
from bot.store import Delivery, Store, StoreError

log = logging.getLogger("trustacks.web")

ReadyCheck = Callable[[], "bool | Awaitable[bool]"]

#: headers kept with a stored delivery (lower case); never signatures or tokens
KEPT_HEADERS = {
    "github": (
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
        "user-agent",
    ),
    "gitlab": ("x-gitlab-instance", "x-gitlab-webhook-uuid", "x-gitlab-event-uuid", "idempotency-key", "user-agent"),
}
#: event names that become metric labels as they are; any other (authenticated) name is counted as "other",
#: so the metrics registry cannot grow with each new header value a sender invents
METRIC_EVENTS = {
    "github": frozenset({"installation", "installation_repositories", "push", "pull_request", "issue_comment", "issues",
                         "ping", "check_run", "check_suite", "pull_request_review"}),
    "gitlab": frozenset({"Push Hook", "Merge Request Hook", "Note Hook", "Issue Hook", "Pipeline Hook", "System Hook"}),
}
_EVENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ .-]{0,63}$")
_DELIVERY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
#: bodies above this are parsed off the event loop so other deliveries keep their fast 202
_PARSE_IN_THREAD_BYTES = 256 * 1024
_READY_TIMEOUT = 2.0


@dataclass
class AppState:
    """Per-app mutable state (no module-level state): readiness checks and the draining flag."""

    settings: Settings
    store: Store
    metrics: Metrics
    ready_checks: dict[str, ReadyCheck] = field(default_factory=dict)
    on_enqueued: Callable[[], None] | None = None
    draining: bool = False


STATE = web.AppKey("trustacks_state", AppState)


class Rejected(Exception):
    """A delivery refused with `status`; `outcome` is the metric label and log field."""

    def __init__(self, status: int, outcome: str) -> None:
        super().__init__(outcome)
        self.status = status
        self.outcome = outcome


# --------------------------------------------------------------------------- pure verification


def verify_github_signature(body: bytes, header: str | None, secret: Secret) -> bool:
    """True when `header` is `sha256=<hex HMAC-SHA256 of body under secret>` (constant-time compare)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.reveal().encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8", "surrogateescape"))


def sign_github(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for `body` (tests, benchmarks, replay tools)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_gitlab_token(header: str | None, token: Secret) -> bool:
    """True when the `X-Gitlab-Token` header equals the configured token (constant-time compare)."""
    if header is None:
        return False
    return token.matches(header)


def gitlab_delivery_id(headers: Mapping[str, str], body: bytes) -> str | None:
    """The dedupe key of a GitLab delivery, or None when GitLab sent neither id header."""
    key = headers.get("Idempotency-Key")
    if key:
        return key.strip()
    uuid = headers.get("X-Gitlab-Event-UUID")
    if uuid:
        return f"{uuid.strip()}:{hashlib.sha256(body).hexdigest()[:16]}"
    return None


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not valid UTF-8 JSON or not an object."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------- handlers


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, "too_large")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Rejected(413, "too_large") from None
    if len(body) > limit:
        raise Rejected(413, "too_large")
    return body


def _require_json(request: web.Request) -> None:
    if request.content_type != "application/json":
        raise Rejected(415, "unsupported_media_type")


def _kept(forge: str, request: web.Request) -> dict[str, str]:
    return {h: request.headers[h][:256] for h in KEPT_HEADERS[forge] if h in request.headers}


async def _check_json(body: bytes) -> None:
    if len(body) > _PARSE_IN_THREAD_BYTES:
        payload = await asyncio.to_thread(parse_json_object, body)
    else:
        payload = parse_json_object(body)
    if payload is None:
        raise Rejected(400, "malformed_json")


async def _github(request: web.Request, state: AppState) -> tuple[Delivery, str]:
    secret = state.settings.github_webhook_secret
    assert secret is not None  # the route exists only when it is configured
    body = await _read_body(request, state.settings.max_body_bytes)
    if not verify_github_signature(body, request.headers.get("X-Hub-Signature-256"), secret):
        raise Rejected(401, "unauthorized")
    _require_json(request)
    event = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not _EVENT_RE.match(event) or not _DELIVERY_RE.match(delivery_id):
        raise Rejected(400, "missing_headers")
    await _check_json(body)
    return Delivery("github", delivery_id, event, body, _kept("github", request)), event


async def _gitlab(request: web.Request, state: AppState) -> tuple[Delivery, str]:
    token = state.settings.gitlab_webhook_token
    assert token is not None
    if not verify_gitlab_token(request.headers.get("X-Gitlab-Token"), token):
        raise Rejected(401, "unauthorized")
    body = await _read_body(request, state.settings.max_body_bytes)
    _require_json(request)
    event = request.headers.get("X-Gitlab-Event", "")
    delivery_id = gitlab_delivery_id(request.headers, body) or ""
    if not _EVENT_RE.match(event) or not _DELIVERY_RE.match(delivery_id):
        raise Rejected(400, "missing_headers")
    await _check_json(body)
    return Delivery("gitlab", delivery_id, event, body, _kept("gitlab", request)), event


def _webhook(forge: str, receive: Callable[[web.Request, AppState], Awaitable[tuple[Delivery, str]]]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        started = time.perf_counter()
        claimed = request.headers.get("X-GitHub-Delivery" if forge == "github" else "X-Gitlab-Event-UUID", "")
        event = "-"  # unauthenticated header values never become metric labels
        with log_context(delivery_id=claimed[:128] or None, forge=forge):
            try:
                delivery, event = await receive(request, state)
                with log_context(delivery_id=delivery.delivery_id, forge_event=event):
                    try:
                        inserted = await state.store.enqueue(delivery)
                    except StoreError as exc:
                        state.metrics.store_errors.labels("enqueue").inc()
                        log.error("delivery not persisted: %s", exc, extra={"outcome": "store_error"})
                        raise Rejected(503, "store_error") from None
                    if inserted:
                        outcome, status = "accepted", 202
                        if state.on_enqueued is not None:
                            state.on_enqueued()
                    else:
                        outcome, status = "duplicate", 200
                    log.info("delivery %s", outcome, extra={"outcome": outcome, "bytes": len(delivery.body)})
            except Rejected as rej:
                outcome, status = rej.outcome, rej.status
                if rej.outcome != "store_error":
                    log.warning(
                        "delivery rejected",
                        extra={"outcome": outcome, "status": status, "remote": request.remote},
                    )
            if event != "-" and event not in METRIC_EVENTS[forge]:
                event = "other"
            state.metrics.deliveries.labels(forge, event, outcome).inc()
            state.metrics.ingress_seconds.labels(forge, outcome).observe(time.perf_counter() - started)
        if status in (200, 202):
            return web.json_response({"status": outcome}, status=status)
        return web.Response(status=status)  # status line only: no detail for the sender

    return handler


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def _run_check(check: ReadyCheck) -> bool:
    try:
        result = check()
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, _READY_TIMEOUT)
        return bool(result)
    except Exception:  # a failing check means "not ready", not a 500
        return False


async def readyz(request: web.Request) -> web.Response:
    """Readiness: not draining, the store answers, and every registered check (e.g. policy loaded) passes."""
    state = request.app[STATE]
    checks: dict[str, bool] = {"store": await _run_check(state.store.ping)}
    for name, check in state.ready_checks.items():
        checks[name] = await _run_check(check)
    ready = not state.draining and all(checks.values())
    return web.json_response({"ready": ready, "draining": state.draining, "checks": checks}, status=200 if ready else 503)


async def metrics_handler(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        state.metrics.set_queue(await asyncio.wait_for(state.store.counts(), _READY_TIMEOUT))
    except (StoreError, asyncio.TimeoutError):
        state.metrics.store_errors.labels("counts").inc()
    response = web.Response(body=state.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def create_app(
    settings: Settings,
    store: Store,
    *,
    metrics: Metrics | None = None,
    ready_checks: Mapping[str, ReadyCheck] | None = None,
    on_enqueued: Callable[[], None] | None = None,
    audit: Any | None = None,
    policy: Any | None = None,
) -> web.Application:
    """The aiohttp application. `on_enqueued` is called after each new job (wakes the local workers).

    `audit` (the decision log) and `policy` (the loaded engine) feed the status page, when it is on."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[STATE] = AppState(
        settings=settings,
        store=store,
        metrics=metrics or Metrics(),
        ready_checks=dict(ready_checks or {}),
        on_enqueued=on_enqueued,
    )
    if settings.github_webhook_secret is not None:
        app.router.add_post("/webhooks/github", _webhook("github", _github))
    if settings.gitlab_webhook_token is not None:
        app.router.add_post("/webhooks/gitlab", _webhook("gitlab", _gitlab))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    status_routes(app, store=store, audit=audit, policy=policy, token=getattr(settings, "status_token", None))

    async def _draining(app: web.Application) -> None:
        app[STATE].draining = True

    app.on_shutdown.append(_draining)
    return app
