"""Good-citizen checks around every event: the org's config, the server-wide repo filter, held-back PRs.

The org config (`.trustacks/config.yaml` in the platform repo) is read per event; a broken file keeps
the last good one (remembered in the store's key/value table) and is reported as a failing check on the
commit that broke it. Proposals a noise limit held back are opened here once the window allows.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import pipeline
from bot.forges.base import Forge
from bot.handlers.events import Event, Kind
from bot.models import CheckConclusion
from bot.orgconfig import CONFIG_PATH, OrgConfig, OrgConfigError, resolve_config

log = logging.getLogger(__name__)

CONFIG_CHECK = "trustacks/config"


def _kv_key(platform_repo: str) -> str:
    return f"orgconfig:last-good:{platform_repo}"


async def load_org_config(
    forge: Forge, platform_repo: str, *, kv: Any | None, event: Event | None = None
) -> tuple[OrgConfig, str | None]:
    """The org config in force, and the error text when the file on the default branch is broken."""
    try:
        text = await forge.read_file(platform_repo, CONFIG_PATH)
    except Exception as exc:  # no platform repo yet (before onboarding), or unreadable
        log.info("org config not readable in %s: %s", platform_repo, type(exc).__name__)
        return OrgConfig.default(), None
    last_good = None
    if kv is not None:
        saved = await kv.get_kv(_kv_key(platform_repo))
        if saved:
            try:
                last_good = OrgConfig.loads(saved)
            except OrgConfigError:
                last_good = None
    config, error = resolve_config(text, last_good=last_good)
    if error is None and text is not None and kv is not None and config.source:
        await kv.set_kv(_kv_key(platform_repo), config.source)
    if error is not None and event is not None and event.kind is Kind.PUSH and event.repo == platform_repo \
            and event.head_sha:
        await forge.set_check(platform_repo, event.head_sha, name=CONFIG_CHECK, conclusion=CheckConclusion.FAILURE,
                              title="TruStacks config is invalid; the last good config stays in force",
                              summary=error)
    return config, error


async def release_held(flow: pipeline.Flow) -> list[str]:
    """Open the generation PRs a noise limit held back, now that the limits allow them."""
    limiter: Any = flow.limiter
    if limiter is None or getattr(flow.forge, "dry_run", False):
        return []
    held = await limiter.held()
    if not held:
        return []
    counts = {h.repo: await pipeline.count_open_bot_prs(flow.forge, h.repo) for h in held}
    releases = await limiter.release_ready(open_bot_prs=counts, cfg_for=flow.config_for)
    if not releases:
        return []
    profile = await pipeline.load_profile(flow.forge, flow.platform_repo)
    proposals = (await pipeline.propose_generation(flow, profile))[0] if profile is not None else []
    by_key = {pipeline.proposal_key(p): p for p in proposals}
    done = []
    for release in releases:
        proposal = by_key.get(release.held.key)
        if proposal is None:  # nothing left to propose for it
            await limiter.cancel(release.admission.ticket)
            await limiter.unhold(release.held.key)
            done.append(f"{release.held.key}: dropped")
            continue
        decision = await pipeline.evaluate(flow, proposal, profile)
        outcome = await pipeline.open_proposal(flow, proposal, decision, profile=profile,
                                               preadmitted=release.admission)
        if outcome.action != "opened":
            await limiter.cancel(release.admission.ticket)
            await limiter.unhold(release.held.key)
        done.append(f"{release.held.key}: {outcome.action}")
    return done
