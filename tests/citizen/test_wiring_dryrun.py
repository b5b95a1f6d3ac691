"""Dry run (`mode: dry-run` in the org config, or TRUSTACKS_DRY_RUN): everything is computed, and nothing is
written to any repo except check runs, for onboarding, pushes, merges and slash commands. Through the real
dispatcher on the local forge, and on the fake GitHub (whose recorded writes are the assertion surface);
the server setting goes through `build_dispatcher` there, as `trustacks serve` runs it."""

from __future__ import annotations

import pytest

from ._wiring import (
    APP,
    BOT,
    CONFIG_PATH,
    PLATFORM,
    WAIVE,
    WRITER,
    deliver,
    declare_and_merge,
    install,
    non_check,
    onboard,
    pr_event,
    push_event,
    say,
    set_org_config,
)

DRY = "mode: dry-run\n"
COMMANDS = ["/trustacks generate", "/trustacks discover", "/trustacks rebase", "/trustacks recreate",
            "/trustacks help", "/trustacks explain", f"/trustacks {WAIVE}", "/trustacks bogus"]


def dry_dispatcher(world, how: str):
    """The dispatcher in dry run by the server setting (the org config needs no dispatcher change)."""
    if how == "org config":
        return world.dispatcher()
    if world.forge_name == "github":
        return world.production(TRUSTACKS_DRY_RUN="1")
    return world.dispatcher(dry_run=True)


async def _state(world):
    """Everything a write could change: refs, PRs, comments on them, issues."""
    prs = await world.prs()
    comments = {(p.repo, p.number): await world.comments(p.repo, p.number) for p in prs}
    issues = {repo: await world.issues(repo) for repo in (APP, PLATFORM)}
    return await world.refs(), [(p.repo, p.number, p.state, p.body, p.head_sha) for p in prs], comments, issues


@pytest.mark.parametrize("how", ["org config", "setting"])
async def test_dry_run_onboarding_and_pushes_write_nothing_but_checks(world, how):
    await world.start([APP, PLATFORM], platform_files={CONFIG_PATH: DRY} if how == "org config" else None)
    dry_dispatcher(world, how)
    before = await _state(world)

    outcome = await deliver(world, install([APP, PLATFORM]))
    # computed, and said to be a dry run with the writes it did not make (build_dispatcher records no outcomes)
    assert outcome == "" or (outcome.startswith("dry run, ") and outcome.endswith(": profile PR opened")
                             and " 0 write(s)" not in outcome), outcome
    sha = await world.push(APP, "main", {"sonar-project.properties": "sonar.projectKey=payments\n"})
    await deliver(world, push_event(world, APP, "main", sha))
    await deliver(world, push_event(world, PLATFORM, "main", await world.head(PLATFORM, "main")))
    assert non_check(world.writes()) == []
    assert await world.bot_prs() == []

    # a human PR in the platform repo still gets its policy check: the one write dry run allows
    human = await world.open_pr(PLATFORM, branch="feature/env", files={"envs/dev.yaml": "replicas: 1\n"}, user=WRITER)
    await deliver(world, pr_event(world, "opened", human, sender=WRITER))
    assert [w.verb for w in world.writes()] == ["check"]
    assert [c["name"] for c in await world.checks(PLATFORM) if c["sha"] == human.head_sha] == ["trustacks/policy"]
    after = await _state(world)
    assert after[0] == {**before[0], (PLATFORM, "feature/env"): human.head_sha, (APP, "main"): sha}
    assert after[1:] == ([(PLATFORM, human.number, "open", human.body, human.head_sha)], {(PLATFORM, human.number): []},
                         {APP: [], PLATFORM: []})


@pytest.mark.parametrize("how", ["org config", "setting"])
async def test_dry_run_merge_and_commands_write_nothing_but_checks(world, how):
    await world.start([APP, PLATFORM])
    world.dispatcher()  # live until the Profile is merged
    profile_pr = await onboard(world)
    merged = await declare_and_merge(world, profile_pr)
    if how == "org config":
        await set_org_config(world, DRY)
    dry_dispatcher(world, how)
    world.mark()
    before = await _state(world)

    outcome = await deliver(world, pr_event(world, "closed", merged, merged=True))
    assert outcome == "" or ("acme/payments-fastapi: opened" in outcome and "acme/platform: opened" in outcome), outcome
    sha = await world.push(APP, "main", {".snyk": "version: v1.25.0\n"})
    await deliver(world, push_event(world, APP, "main", sha))
    for command in COMMANDS:
        await say(world, merged, command, user=WRITER)
    assert non_check(world.writes()) == []
    assert await world.bot_prs(kind="generate/") == []
    after = await _state(world)
    assert after[0] == {**before[0], (APP, "main"): sha}
    assert after[1] == before[1]
    # the humans' comments are all there is on the Profile PR
    assert all(author != BOT for author, _ in after[2][(PLATFORM, merged.number)])
    assert after[2][(PLATFORM, merged.number)][-len(COMMANDS):] == [(WRITER, c) for c in COMMANDS]
    assert after[3] == before[3] == {APP: [], PLATFORM: []}  # no dashboard issue either
