"""Event handlers: route one leased job (a stored webhook delivery) to the function for its event.

`build_dispatcher(settings)` is what `trustacks serve` gives its worker pool; `make_dispatcher` is the
same with its collaborators passed in (tests, the demo). Handlers are small and idempotent: a retried
job updates the same PR instead of opening another. Events the bot does not act on are acknowledged.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Protocol

from bot.forges.base import Forge
from bot.handlers.events import Event, PayloadError, normalize
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
) -> Dispatcher:
    """A dispatcher over explicit collaborators; `outcomes` (if given) collects (delivery, outcome)."""
    from bot.pipeline import Flow

    async def dispatch(job: Any) -> None:
        try:
            event = normalize(job.forge, job.event, job.payload)
        except (PayloadError, ValueError) as exc:
            raise PayloadError(f"{job.forge} {job.event} delivery {job.delivery_id}: {exc}") from None
        if event is None:
            result = f"ignored {job.event}"
        else:
            forge = await forge_for(event)
            flow = Flow(forge=forge, policy=policy, platform_repo=resolve_platform_repo(platform_repo, event),
                        ignore_emails=ignore_emails)
            handler = ROUTES.get(event.kind)
            if handler is None:
                result = f"ignored {event.kind.value}"
            else:
                result = await handler(HandlerContext(forge=forge, flow=flow, event=event, delivery_id=job.delivery_id))
        log.info("delivery %s (%s %s): %s", job.delivery_id, job.forge, job.event, result)
        if outcomes is not None:
            outcomes.append((job.delivery_id, result))

    return dispatch


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
    from bot.policy import PolicyEngine

    policy = PolicyEngine.load(packs=tuple(getattr(settings, "packs", ()) or ()))
    factory = ForgeFactory(settings)
    dispatch = make_dispatcher(
        forge_for=factory, policy=policy, platform_repo=settings.platform_repo or "platform",
        ignore_emails=tuple(getattr(settings, "ignore_emails", ()) or ()),
    )

    async def aclose() -> None:
        await factory.close()
        policy.close()

    # `trustacks serve` reads these: /readyz includes "policy loaded"; aclose runs after the workers stop.
    dispatch.ready_checks = {"policy": lambda: bool(policy.revisions)}  # type: ignore[attr-defined]
    dispatch.aclose = aclose  # type: ignore[attr-defined]
    return dispatch
