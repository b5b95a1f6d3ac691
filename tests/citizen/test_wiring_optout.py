"""Onboarding is the Profile PR: closing it unmerged opts the repos out; `/trustacks discover` or reopening
opts them in again. Through the real dispatcher, on the local forge and on the fake GitHub."""

from __future__ import annotations

from bot.handlers.flows import OPTED_OUT_COMMENT

from ._wiring import (
    APP,
    BOT,
    PLATFORM,
    deliver,
    install,
    onboard,
    pr_event,
    push_event,
    say,
)

#: a file discovery reads as a tool choice (SonarQube): a push of it changes the proposed Profile
SONAR = {"sonar-project.properties": "sonar.projectKey=acme_payments\nsonar.sources=app\n"}
SNYK = {".snyk": "version: v1.25.0\n"}


async def _opt_out(world):
    """Onboard, then a human closes the Profile PR unmerged and the close is delivered."""
    pr = await onboard(world)
    await world.close_pr(PLATFORM, pr.number)
    [closed] = await world.bot_prs(PLATFORM, kind="profile/", state="closed")
    assert await deliver(world, pr_event(world, "closed", closed)) == "opted out"
    return closed


async def _bot_comments(world, pr, needle):
    return [body for author, body in await world.comments(pr.repo, pr.number) if author == BOT and needle in body]


async def test_closing_the_profile_pr_opts_out_and_discover_opts_in(world):
    await world.start([APP, PLATFORM])
    world.dispatcher()
    closed = await _opt_out(world)
    # the PR body said so, and the close is answered once (a redelivered close adds nothing)
    assert "closing it unmerged opts them out" in closed.body and "/trustacks discover" in closed.body
    await deliver(world, pr_event(world, "closed", closed))
    assert await _bot_comments(world, closed, "stopped proposing") == [OPTED_OUT_COMMENT]

    # opted out: a push that changes what discovery sees, and a new installation event, write nothing at all
    world.mark()
    sha = await world.push(APP, "main", SONAR)
    assert await deliver(world, push_event(world, APP, "main", sha)) == "opted out"
    assert await deliver(world, install([APP, PLATFORM])) == "opted out"
    assert world.writes() == []
    assert await world.bot_prs(PLATFORM) == []

    # someone comments `/trustacks discover` on the closed Profile PR: a new Profile PR with the change
    assert "1 reply" in await say(world, closed, "/trustacks discover")
    [reopened] = await world.bot_prs(PLATFORM, kind="profile/")
    assert reopened.number != closed.number
    assert "sonarqube" in (await world.read(PLATFORM, reopened.head, ".trustacks/profile.yaml") or "")

    # opted in again: the next push is proposed (the open Profile PR is updated), not ignored
    sha = await world.push(APP, "main", SNYK)
    outcome = await deliver(world, push_event(world, APP, "main", sha))
    assert outcome.startswith("profile PR updated"), outcome
    assert [p.number for p in await world.bot_prs(PLATFORM)] == [reopened.number]
    assert "snyk" in (await world.read(PLATFORM, reopened.head, ".trustacks/profile.yaml") or "")


async def test_reopening_the_profile_pr_opts_in_again(world):
    await world.start([APP, PLATFORM])
    world.dispatcher()
    closed = await _opt_out(world)
    sha = await world.push(APP, "main", SONAR)
    assert await deliver(world, push_event(world, APP, "main", sha)) == "opted out"

    await world.reopen_pr(PLATFORM, closed.number)
    [reopened] = await world.bot_prs(PLATFORM, kind="profile/")
    assert reopened.number == closed.number
    assert (await deliver(world, pr_event(world, "reopened", reopened))).startswith("check:")

    # the same push, delivered again now that the PR is open, updates that PR (no second Profile PR)
    outcome = await deliver(world, push_event(world, APP, "main", sha))
    assert outcome.startswith("profile PR updated"), outcome
    [updated] = await world.bot_prs(PLATFORM, kind="profile/")
    assert updated.number == closed.number
    assert "sonarqube" in (await world.read(PLATFORM, updated.head, ".trustacks/profile.yaml") or "")
    assert updated.body != closed.body  # the description follows the new proposal
