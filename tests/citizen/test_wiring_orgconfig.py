"""A broken org config (`.trustacks/config.yaml` in the platform repo) is reported as a failing
`trustacks/config` check on the commit that broke it, and the last good config stays in force until the
file is fixed. Through the real dispatcher on the local forge and the fake GitHub."""

from __future__ import annotations

import pytest

from bot import limits
from bot.handlers.citizen import CONFIG_CHECK

from ._wiring import (
    APP,
    CONFIG_PATH,
    PLATFORM,
    deliver,
    limiter_with,
    merge_profile,
    onboard,
    push_event,
    set_org_config,
)

GOOD = "limits:\n  max_new_prs_per_hour: 1\n"
BROKEN = "limits:\n  max_new_prs_per_hour: lots\n"  # valid YAML, invalid config: a string where a number goes
FIXED = "limits:\n  max_new_prs_per_hour: 4\n"


@pytest.fixture(autouse=True)
def clocked_limiter(monkeypatch, clock):
    monkeypatch.setattr(limits, "NoiseLimiter", limiter_with(clock))


async def _config_checks(world):
    return [c for c in await world.checks(PLATFORM) if c["name"] == CONFIG_CHECK]


async def test_a_broken_org_config_is_reported_and_the_last_good_one_stays_in_force(world):
    await world.start([APP, PLATFORM], platform_files={CONFIG_PATH: GOOD})
    world.dispatcher()
    pr = await onboard(world)  # reads the good config: it becomes the last good one
    assert await _config_checks(world) == []

    bad = await set_org_config(world, BROKEN)
    await deliver(world, push_event(world, PLATFORM, "main", bad))
    [check] = await _config_checks(world)
    assert check["sha"] == bad and check["conclusion"] == "failure"
    assert "last good config stays in force" in check["title"]
    assert "limits.max_new_prs_per_hour (line 2)" in check["summary"] and "'lots'" in check["summary"]
    assert "the last good configuration" in check["summary"] and "push again" in check["summary"]

    # the broken file is still on main; the last good limit (1 new PR an hour, not the default 5) decides
    outcome = await merge_profile(world, pr)
    assert "acme/payments-fastapi: opened" in outcome and "acme/platform: held" in outcome, outcome
    assert [p.repo for p in await world.bot_prs(kind="generate/")] == [APP]
    assert len(await _config_checks(world)) == 1  # reported on the commit that broke it, not on every event

    # fixed: the push of the fix is read at once (4 an hour), so the held PR opens on that very event
    fixed = await set_org_config(world, FIXED)
    outcome = await deliver(world, push_event(world, PLATFORM, "main", fixed))
    assert "released generate:acme/platform:" in outcome, outcome
    assert sorted(p.repo for p in await world.bot_prs(kind="generate/")) == [APP, PLATFORM]
    assert [c["sha"] for c in await _config_checks(world)] == [bad]


async def test_a_broken_org_config_without_a_last_good_one_falls_back_to_the_defaults(world):
    await world.start([APP, PLATFORM], platform_files={CONFIG_PATH: "mode: [dry-run\n"})  # not even YAML
    world.dispatcher()
    sha = await world.head(PLATFORM, "main")
    await deliver(world, push_event(world, PLATFORM, "main", sha))
    [check] = await _config_checks(world)
    assert check["conclusion"] == "failure" and "invalid YAML" in check["summary"]
    assert "the built-in defaults stays in force" in check["summary"]
    # the defaults are live (not dry run) with 5 new PRs an hour: onboarding and generation go ahead
    outcome = await merge_profile(world, await onboard(world))
    assert "held" not in outcome and sorted(p.repo for p in await world.bot_prs(kind="generate/")) == [APP, PLATFORM]
