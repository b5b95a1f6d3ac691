"""The read-only status page at `/` of `trustacks serve`, for operators.

`status_routes(app, *, store, audit, policy, token)` adds `GET /` to the service's aiohttp app, and
only when an operator token is configured: with no token the page does not exist (404), so a public
bind shows nothing by default. A request must present the token, as `Authorization: Bearer <token>`
or as the password of HTTP Basic auth (so a browser can open the page); compared in constant time.

What it shows: installations and repos (from the installation deliveries in the queue and from the
repos decisions were made about), queue depth and job counts, recent jobs with their outcome, recent
policy decisions with their rules, the audit chain's verification result (`audit verify`), and the
constitution and pack revisions. Everything is rendered server-side by Jinja2 with autoescape, so
repo names, PR titles and error text (all untrusted) are text, never markup; the response also
carries a Content-Security-Policy that allows no script and no fetch at all. Nothing on the page
writes anything.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.reports.templating import CSP, html_env

log = logging.getLogger("trustacks.status")

RECENT_JOBS = 25
RECENT_DECISIONS = 20
#: deliveries scanned for installation events (their bodies are read, so keep this bounded)
INSTALLATION_SCAN = 200
INSTALLATION_EVENTS = {("github", "installation"), ("github", "installation_repositories")}
REALM = 'Basic realm="TruStacks status", charset="UTF-8"'
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Installation:
    forge: str
    id: str
    account: str
    repos: tuple[str, ...]


@dataclass
class StatusData:
    counts: dict[str, int] = field(default_factory=dict)
    queue_depth: int = 0
    jobs: list[Any] = field(default_factory=list)
    installations: list[Installation] = field(default_factory=list)
    repos: list[str] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    audit_ok: bool | None = None
    audit_summary: str = ""
    audit_count: int = 0
    revisions: list[tuple[str, str]] = field(default_factory=list)
    packs: list[str] = field(default_factory=list)
    rules: int = 0
    #: where the rules came from ("signed bundles verified (...)" or the unsigned development source)
    policy_source: str = ""
    errors: list[str] = field(default_factory=list)


def _secret(token: Any) -> str:
    reveal = getattr(token, "reveal", None)
    return str(reveal() if callable(reveal) else token or "")


def authorized(header: str | None, token: str) -> bool:
    """True when the Authorization header carries `token` (Bearer, or Basic with it as the password)."""
    if not header or not token:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        presented = value
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        presented = decoded.partition(":")[2]
    else:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _installation(job: Any) -> Installation | None:
    try:
        payload = job.payload
    except (ValueError, TypeError):
        return None
    if not isinstance(payload, dict):
        return None
    inst = payload.get("installation") or {}
    account = (inst.get("account") or {}).get("login") or (payload.get("sender") or {}).get("login") or "?"
    listed = payload.get("repositories") or payload.get("repositories_added") or []
    repos = tuple(str(r.get("full_name")) for r in listed if isinstance(r, dict) and r.get("full_name"))
    return Installation(forge=job.forge, id=str(inst.get("id", "?")), account=str(account), repos=repos)


async def gather(*, store: Any, audit: Any, policy: Any) -> StatusData:
    """Everything the page shows. Each source failing is shown on the page, never a 500."""
    data = StatusData()
    try:
        data.counts = dict(await store.counts())
        data.queue_depth = int(await store.queue_depth())
        data.jobs = list(await store.list_jobs(None, limit=RECENT_JOBS))
        found: dict[tuple[str, str], Installation] = {}
        for listed in await store.list_jobs(None, limit=INSTALLATION_SCAN):
            if (listed.forge, listed.event) not in INSTALLATION_EVENTS:
                continue
            job = await store.get_job(listed.id)
            inst = _installation(job) if job is not None else None
            if inst is None:
                continue
            key = (inst.forge, inst.id)
            prev = found.get(key)
            repos = tuple(sorted({*(prev.repos if prev else ()), *inst.repos}))
            found[key] = Installation(inst.forge, inst.id, inst.account, repos)
        data.installations = sorted(found.values(), key=lambda i: (i.forge, i.account, i.id))
    except Exception as exc:  # noqa: BLE001 - an unreachable store is a fact to show
        data.errors.append(f"job queue: {type(exc).__name__}: {str(exc)[:200]}")
    repos: set[str] = {r for i in data.installations for r in i.repos}
    if audit is not None:
        try:
            entries = await asyncio.to_thread(audit.tail, RECENT_DECISIONS * 3)
            decisions = [e for e in entries if e.record.get("kind") == "decision"][-RECENT_DECISIONS:]
            data.decisions = [
                {"seq": e.seq, "ts": e.ts, "verdict": e.record.get("verdict", "?"), "repo": e.record.get("repo", ""),
                 "subject": e.record.get("subject", ""), "rules": list(e.record.get("rules_cited", [])),
                 "deny": [d.get("rule", "") for d in e.record.get("deny", [])], "actor": e.record.get("actor", "")}
                for e in reversed(decisions)
            ]
            repos |= {d["repo"] for d in data.decisions if d["repo"]}
            result = await asyncio.to_thread(audit.verify)
            data.audit_ok, data.audit_summary, data.audit_count = result.ok, result.summary(), result.count
        except Exception as exc:  # noqa: BLE001
            data.errors.append(f"audit log: {type(exc).__name__}: {str(exc)[:200]}")
    data.repos = sorted(repos)
    if policy is not None:
        data.revisions = sorted(dict(getattr(policy, "revisions", {}) or {}).items())
        data.packs = list(getattr(policy, "packs", []) or [])
        data.policy_source = str(getattr(policy, "provenance", "") or "")
        try:
            data.rules = len(policy.rules())
        except Exception:  # noqa: BLE001
            data.rules = 0
    return data


def render(data: StatusData, *, template: Any = None) -> str:
    """The page. Pass the compiled `template` to skip compiling it again (the route does)."""
    template = template or html_env().get_template("status.html.j2")
    return template.render(d=data, csp=CSP, when=_when)


def status_routes(app: web.Application, *, store: Any, audit: Any, policy: Any, token: Any) -> bool:
    """Add the status page at `/` when `token` is set; returns whether the page was added."""
    secret = _secret(token)
    if not secret:
        log.info("status page off: no operator token configured")
        return False

    template = html_env().get_template("status.html.j2")  # compiled once per app

    async def status(request: web.Request) -> web.Response:
        if not authorized(request.headers.get("Authorization"), secret):
            return web.Response(status=401, headers={**HEADERS, "WWW-Authenticate": REALM}, text="401: Unauthorized")
        data = await gather(store=store, audit=audit, policy=policy)
        return web.Response(text=render(data, template=template), content_type="text/html", charset="utf-8",
                            headers=HEADERS)

    app.router.add_get("/", status)
    return True


__all__ = ["StatusData", "authorized", "gather", "render", "status_routes"]
