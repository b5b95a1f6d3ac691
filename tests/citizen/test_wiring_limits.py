"""Noise limits from the org config (`.trustacks/config.yaml` in the platform repo) hold generation PRs back,
list them on the dashboard issue, and open them later: when the sliding hour has room again (an injected
clock, no sleeping) or when a bot PR in the repo is closed. Through the real dispatcher, on both forges."""

from __future__ import annotations

import pytest

from bot import limits

from ._wiring import (
    APP,
    CONFIG_PATH,
    MONO,
    PLATFORM,
    deliver,
    limiter_with,
    merge_profile,
    onboard,
    pr_event,
    push_event,
)

DASHBOARD = "TruStacks Dashboard"


@pytest.fixture(autouse=True)
def clocked_limiter(monkeypatch, clock):
    """The dispatcher's NoiseLimiter reads the test's clock (make_dispatcher imports it when called)."""
    monkeypatch.setattr(limits, "NoiseLimiter", limiter_with(clock))


async def _held_section(world) -> str:
    issues = [body for title, body in await world.issues(PLATFORM) if title == DASHBOARD]
    assert len(issues) == 1, issues
    body = issues[0]
    if "## Held back" not in body:
        return ""
    return body.split("## Held back", 1)[1].split("\n## ", 1)[0]


async def test_the_hourly_limit_holds_back_then_opens_when_the_hour_has_passed(world, clock):
    await world.start([APP, PLATFORM], platform_files={CONFIG_PATH: "limits:\n  max_new_prs_per_hour: 1\n"})
    world.dispatcher()
    outcome = await merge_profile(world, await onboard(world))
    assert "acme/payments-fastapi: opened" in outcome and "acme/platform: held" in outcome, outcome
    assert [p.repo for p in await world.bot_prs(kind="generate/")] == [APP]
    held = await _held_section(world)
    assert "`acme/platform`" in held and "max\\_new\\_prs\\_per\\_hour is 1" in held, held

    # half an hour on: any event re-checks the queue, and the hour is still full
    clock.advance(1800)
    sha = await world.head(APP, "main")
    outcome = await deliver(world, push_event(world, APP, "main", sha))
    assert "released" not in outcome
    assert [p.repo for p in await world.bot_prs(kind="generate/")] == [APP]

    # an hour after the first opening: the next event opens the held PR, and the dashboard stops listing it
    clock.advance(1801)
    outcome = await deliver(world, push_event(world, APP, "main", sha))
    assert "released generate:acme/platform:trustacks/generate/acme-platform: opened" in outcome, outcome
    assert sorted(p.repo for p in await world.bot_prs(kind="generate/")) == [APP, PLATFORM]
    assert await _held_section(world) == ""

    # and the window is full again: a second release does not happen on the next event
    outcome = await deliver(world, push_event(world, APP, "main", sha))
    assert "released" not in outcome and len(await world.bot_prs(kind="generate/")) == 2


async def test_the_open_pr_limit_holds_back_until_a_bot_pr_is_closed(world):
    config = "grouping: per-service\nlimits:\n  max_open_prs_per_repo: 1\n  max_new_prs_per_hour: 50\n"
    await world.start([APP, MONO, PLATFORM], platform_files={CONFIG_PATH: config})
    world.dispatcher()
    outcome = await merge_profile(world, await onboard(world, [APP, MONO, PLATFORM]))
    # one PR per service; at most one open per repo: the platform repo (3 services) and the monorepo (2) queue
    assert outcome.count("acme/platform: held") == 2 and outcome.count("acme/platform-monorepo: held") == 1, outcome
    for repo in (APP, MONO, PLATFORM):
        assert len(await world.bot_prs(repo, kind="generate/")) == 1, repo
    held = await _held_section(world)
    assert held.count("`acme/platform`") == 2 and held.count("`acme/platform-monorepo`") == 1
    assert "max\\_open\\_prs\\_per\\_repo is 1" in held

    # an unrelated event changes nothing: every repo is still at its limit
    sha = await world.head(APP, "main")
    assert "released" not in await deliver(world, push_event(world, APP, "main", sha))

    # a human closes the platform repo's generation PR: exactly one held PR of that repo takes its place
    [first] = await world.bot_prs(PLATFORM, kind="generate/")
    await world.close_pr(PLATFORM, first.number)
    [closed] = [p for p in await world.bot_prs(PLATFORM, kind="generate/", state="closed")]
    outcome = await deliver(world, pr_event(world, "closed", closed))
    assert outcome.count(": opened") == 1 and "generate:acme/platform:" in outcome, outcome
    [second] = await world.bot_prs(PLATFORM, kind="generate/")
    assert second.number != first.number and second.head != first.head
    held = await _held_section(world)
    assert held.count("`acme/platform`") == 1 and held.count("`acme/platform-monorepo`") == 1

    # merging that one frees the slot again: the last platform PR opens; the monorepo's stays held
    await world.merge_pr(PLATFORM, second.number)
    [merged] = [p for p in await world.prs(PLATFORM) if p.number == second.number]
    outcome = await deliver(world, pr_event(world, "closed", merged, merged=True))
    assert outcome.count(": opened") == 1, outcome
    assert len(await world.bot_prs(PLATFORM, kind="generate/")) == 1
    assert len(await world.bot_prs(MONO, kind="generate/")) == 1
    held = await _held_section(world)
    assert "`acme/platform`" not in held and held.count("`acme/platform-monorepo`") == 1
