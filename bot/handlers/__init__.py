"""Event handlers: route one leased job (a stored webhook delivery) to the function for its event.

`build_dispatcher(settings)` is what `trustacks serve` gives its worker pool; `make_dispatcher` is the
same with its collaborators passed in (tests, the demo). Handlers are small and idempotent: a retried
job updates the same PR instead of opening another. Events the bot does not act on are acknowledged.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Awaitable, Callable, Mapping, Protocol

from bot.forges.base import Forge
from bot.handlers.events import Event, Kind, PayloadError, normalize
from bot.handlers.flows import ROUTES, HandlerContext

log = logging.getLogger(__name__)

Dispatcher = Callable[[Any], Awaitable[None]]


class ForgeProvider(Protocol):
    async def __call__(self, event: Event) -> Forge: ...


def make_dispatcher(
    *,
    forge_for: ForgeProvider,
    policy: Any,
    platform_repo: str,
    ignore_emails: tuple[str, ...] = (),
    outcomes: list[tuple[str, str]] | None = None,
    kv: Any | None = None,
    repo_filter: Any | None = None,
    dry_run: bool = False,
    audit: Any | None = None,
    store: Any | None = None,
    waiver_keys: Mapping[str, bytes] | None = None,
) -> Dispatcher:
    """A dispatcher over explicit collaborators.

    `kv`: the store's key/value table (last good org config, noise limits); `repo_filter`: the
    server-wide allowlist (bot.allowlist.RepoFilter); `dry_run`: TRUSTACKS_DRY_RUN; `audit`: the
    hash-chained decision log; `store`: the job store (the dashboard lists and retries the org's failed
    jobs); `waiver_keys`: trusted approvers' public keys (TRUSTACKS_WAIVER_KEYS_DIR); `outcomes` (if given)
    collects (delivery, outcome) for tests.
    """
    from bot.handlers.citizen import load_org_config, release_held
    from bot.handlers.dashboard_flow import refresh_dashboard
    from bot.limits import NoiseLimiter
    from bot.pipeline import Flow

    async def dispatch(job: Any) -> None:
        try:
            event = normalize(job.forge, job.event, job.payload)
        except (PayloadError, ValueError) as exc:
            raise PayloadError(f"{job.forge} {job.event} delivery {job.delivery_id}: {exc}") from None
        result = await _run(job, event) if event is not None else f"ignored {job.event}"
        log.info("delivery %s (%s %s): %s", job.delivery_id, job.forge, job.event, result)
        if outcomes is not None:
            outcomes.append((job.delivery_id, result))

    async def _run(job: Any, event: Event) -> str:
        handler = ROUTES.get(event.kind)
        if handler is None:
            return f"ignored {event.kind.value}"
        if repo_filter is not None:
            if event.repos:
                event.repos = [r for r in event.repos if repo_filter.allows(r)]
                if not event.repos:
                    return "ignored: no repo allowed by TRUSTACKS_REPOS"
            elif event.repo and not repo_filter.allows(event.repo):
                return f"ignored: {event.repo} is not allowed by TRUSTACKS_REPOS"
        if event.kind is Kind.ONBOARD and not event.repos:  # e.g. new_permissions_accepted: nothing to onboard
            return "ignored: the installation event lists no repositories"
        forge = await forge_for(event)
        platform = resolve_platform_repo(platform_repo, event)
        org, _error = await load_org_config(forge, platform, kv=kv, event=event)
        forge = _for_event(forge, dry_run=dry_run or org.for_repo(platform).dry_run)
        flow = Flow(forge=forge, policy=policy, platform_repo=platform, ignore_emails=ignore_emails,
                    audit=audit, delivery_id=job.delivery_id, org_config=org,
                    limiter=NoiseLimiter(kv, scope=platform) if kv is not None else None,
                    repo_filter=repo_filter, waiver_keys=dict(waiver_keys or {}))
        ctx = HandlerContext(forge=forge, flow=flow, event=event, delivery_id=job.delivery_id, store=store)
        result = await handler(ctx)
        released = await release_held(flow)
        if event.kind in _DASHBOARD_EVENTS and await _onboarded(flow):
            result += f"; {await refresh_dashboard(ctx, limiter=flow.limiter)}"
        result += f"; released {', '.join(released)}" if released else ""
        if forge.dry_run:
            suppressed = len(getattr(forge, "suppressed", []) or [])
            result = f"dry run, {suppressed} write(s) not made: {result}"
        return result

    return dispatch


def _for_event(forge: Forge, *, dry_run: bool) -> Forge:
    """This event's view of a forge client other jobs share (one GitLab client serves every group, one GitHub
    client each installation): its dry-run flag and suppressed writes are this event's alone, so a concurrent
    job of a live organisation cannot switch a dry-run organisation's writes back on."""
    view = copy.copy(forge)
    view.dry_run = dry_run
    view.suppressed = []
    return view


def resolve_platform_repo(configured: str, event: Event) -> str:
    """`platform` (a bare name) means the platform repo in the event's own org or group."""
    if "/" in configured:
        return configured
    repo = event.repo or (event.repos[0] if event.repos else "")
    owner = repo.rsplit("/", 1)[0] if "/" in repo else ""
    return f"{owner}/{configured}" if owner else configured


def build_dispatcher(settings: Any) -> Dispatcher:
    """The production dispatcher: policy loaded once, one forge client per installation."""
    from bot.handlers.forge_factory import ForgeFactory

    from pathlib import Path

    from bot.allowlist import RepoFilter
    from bot.audit import AuditLog
    from bot.store import open_store

    policy = _service_policy(settings)
    logging.getLogger("trustacks.policy").log(
        logging.WARNING if getattr(settings, "policy_unsigned", False) else logging.INFO, "policy: %s", policy.provenance)
    factory = ForgeFactory(settings)
    store = open_store(settings.database_url, lease_seconds=settings.lease_seconds,
                       max_attempts=settings.max_attempts)
    kv = _LazyStore(store)  # the KV for limits and last-good config, and the job listing for the dashboard
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    audit = AuditLog(data_dir / "audit.db")
    dispatch = make_dispatcher(
        forge_for=factory, policy=policy, platform_repo=settings.platform_repo or "platform",
        ignore_emails=tuple(getattr(settings, "ignore_emails", ()) or ()),
        kv=kv, store=kv, repo_filter=_repo_filter(settings), waiver_keys=_waiver_keys(settings),
        dry_run=bool(getattr(settings, "dry_run", False)), audit=audit,
    )

    async def aclose() -> None:
        await factory.close()
        policy.close()
        await kv.close()

    # `trustacks serve` reads these: /readyz includes "policy loaded"; aclose runs after the workers stop.
    dispatch.ready_checks = {"policy": lambda: bool(policy.revisions)}  # type: ignore[attr-defined]
    dispatch.aclose = aclose  # type: ignore[attr-defined]
    # the status page shows what the service decides with: the loaded policy and the decision log
    dispatch.policy = policy  # type: ignore[attr-defined]
    dispatch.audit = audit  # type: ignore[attr-defined]
    return dispatch


def _waiver_keys(settings: Any) -> dict[str, bytes]:
    """Trusted approvers' public keys from TRUSTACKS_WAIVER_KEYS_DIR (none: every waiver is ignored)."""
    from bot.config import ConfigError
    from bot.policy.keys import KeyFormatError
    from bot.policy.waivers import approver_keys

    directory = getattr(settings, "waiver_keys_dir", None)
    if directory is None:
        return {}
    try:
        found = approver_keys(directory)
    except (KeyFormatError, OSError) as exc:
        raise ConfigError(f"TRUSTACKS_WAIVER_KEYS_DIR: {directory}: {exc}") from None
    log.info("waiver approvers trusted: %s", ", ".join(sorted(found)) or "none")
    return found


def _service_policy(settings: Any) -> Any:
    """Policy only from verified signed bundles (or the explicit development escape hatch)."""
    from bot.config import ConfigError
    from bot.policy import PolicyError
    from bot.policy.trusted import load_service_policy

    try:
        return load_service_policy(
            bundle_dir=getattr(settings, "policy_bundle_dir", None),
            public_key_file=getattr(settings, "policy_public_key_file", None),
            pin_file=getattr(settings, "constitution_pin_file", None),
            packs=tuple(getattr(settings, "packs", ()) or ()),
            unsigned=bool(getattr(settings, "policy_unsigned", False)),
        )
    except PolicyError as exc:
        raise ConfigError(f"policy: {exc}") from None


class _LazyStore:
    """The store's key/value table and job listing, opened on first use (the dispatcher is built before the
    loop runs): limits and last-good config use the KV; the dashboard lists and retries failed jobs."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._opened = False

    async def _ready(self) -> Any:
        if not self._opened:
            await self._store.open()
            self._opened = True
        return self._store

    async def get_kv(self, key: str) -> str | None:
        return await (await self._ready()).get_kv(key)

    async def set_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> None:
        await (await self._ready()).set_kv(key, value, ttl_seconds=ttl_seconds)

    async def add_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> bool:
        return bool(await (await self._ready()).add_kv(key, value, ttl_seconds=ttl_seconds))

    async def delete_kv(self, key: str) -> bool:
        return bool(await (await self._ready()).delete_kv(key))

    async def list_jobs(self, state: str | None = None, *, limit: int = 100) -> list[Any]:
        return list(await (await self._ready()).list_jobs(state, limit=limit))

    async def get_job(self, job_id: int) -> Any:
        return await (await self._ready()).get_job(job_id)

    async def retry(self, job_id: int) -> bool:
        return bool(await (await self._ready()).retry(job_id))

    async def close(self) -> None:
        if self._opened:
            await self._store.close()


def _repo_filter(settings: Any) -> Any:
    """TRUSTACKS_REPOS as a RepoFilter; a bad pattern stops the service before its port opens."""
    from bot.allowlist import RepoFilter, RepoFilterError
    from bot.config import ConfigError

    try:
        return RepoFilter.parse(getattr(settings, "repos", "") or None)
    except RepoFilterError as exc:
        raise ConfigError(f"TRUSTACKS_REPOS: {exc}") from None


#: events after which the dashboard issue is brought up to date (once the first Profile PR is merged)
_DASHBOARD_EVENTS = frozenset({"onboard", "push", "pr_merged", "pr_closed"})


async def _onboarded(flow: Any) -> bool:
    from bot.pipeline import load_profile
    from bot.profile import ProfileError

    try:
        return await load_profile(flow.forge, flow.platform_repo) is not None
    except (ProfileError, Exception):  # no platform repo yet, or an unreadable Profile: no dashboard
        return False
