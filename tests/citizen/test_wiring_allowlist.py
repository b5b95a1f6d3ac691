"""The server-wide repo allowlist (TRUSTACKS_REPOS: globs, `!` negation, last match wins) through the real
dispatcher: a denied repo gets no writes at all, whichever event names it. On the local forge
(`make_dispatcher(repo_filter=...)`) and on the fake GitHub (`build_dispatcher` reading TRUSTACKS_REPOS)."""

from __future__ import annotations

from bot.allowlist import RepoFilter
from bot.profile import PROFILE_PATH

from ._wiring import (
    APP,
    LEGACY,
    OUTSIDE,
    PLATFORM,
    WRITER,
    deliver,
    install,
    merge_profile,
    onboard,
    pr_event,
    push_event,
    say,
)

PATTERNS = "acme/*,!acme/legacy-*"


def filtered(world):
    if world.forge_name == "github":
        return world.production(TRUSTACKS_REPOS=PATTERNS)
    return world.dispatcher(repo_filter=RepoFilter.parse(PATTERNS))


async def test_denied_repos_get_no_writes_at_all(world):
    await world.start([LEGACY, APP, OUTSIDE, PLATFORM])
    filtered(world)

    # onboarding names every repo; discovery and the Profile cover only the allowed application repo
    await deliver(world, install([LEGACY, APP, OUTSIDE, PLATFORM]))
    [pr] = await world.bot_prs(PLATFORM, kind="profile/")
    profile = await world.read(PLATFORM, pr.head, PROFILE_PATH) or ""
    assert f"repo: {APP}" in profile
    assert LEGACY not in profile and OUTSIDE not in profile and LEGACY not in pr.body

    world.mark()
    for repo in (LEGACY, OUTSIDE):
        sha = await world.push(repo, "main", {"sonar-project.properties": "sonar.projectKey=x\n"})
        await deliver(world, push_event(world, repo, "main", sha))
        human = await world.open_pr(repo, branch="feature/x", files={"x.txt": "x\n"}, user=WRITER)
        await deliver(world, pr_event(world, "opened", human, sender=WRITER))
        for command in ("/trustacks help", "/trustacks discover", "/trustacks generate"):
            await say(world, human, command, user=WRITER)
        assert await world.comments(repo, human.number) == [
            (WRITER, c) for c in ("/trustacks help", "/trustacks discover", "/trustacks generate")]
    await deliver(world, install([LEGACY, OUTSIDE]))
    assert world.writes() == []
    assert [p.repo for p in await world.bot_prs()] == [PLATFORM]

    # the allowed repo, same events: handled (the check that the events above were real)
    sha = await world.push(APP, "main", {"sonar-project.properties": "sonar.projectKey=x\n"})
    await deliver(world, push_event(world, APP, "main", sha))
    assert any(w.verb in ("update_pr", "ref", "object") for w in world.writes())


async def test_a_profile_naming_a_denied_repo_generates_nothing_there(world):
    # onboarded before the operator denied acme/legacy-*: the merged Profile still names that repo
    await world.start([LEGACY, APP, PLATFORM])
    world.dispatcher()
    pr = await onboard(world, [LEGACY, APP, PLATFORM])
    assert LEGACY in (await world.read(PLATFORM, pr.head, PROFILE_PATH) or "")
    filtered(world)
    world.mark()
    await merge_profile(world, pr)
    assert [p.repo for p in await world.bot_prs(kind="generate/")] == [APP, PLATFORM]
    # nor when someone asks for generation on the platform repo
    [merged] = [p for p in await world.prs(PLATFORM) if p.number == pr.number]
    await say(world, merged, "/trustacks generate", user=WRITER)
    assert [w for w in world.writes() if w.repo == LEGACY] == []
    assert [b for (r, b) in await world.refs() if r == LEGACY] == ["main"]
    assert await world.prs(LEGACY) == []


async def test_discover_on_the_platform_repo_does_not_read_a_denied_repo(world):
    """`/trustacks discover` on the platform repo re-reads every repo the Profile names, except denied ones."""
    await world.start([LEGACY, APP, PLATFORM])
    world.dispatcher()
    pr = await onboard(world, [LEGACY, APP, PLATFORM])
    await merge_profile(world, pr)
    filtered(world)
    # a new tool in the denied repo: discovery there would propose it
    await world.push(LEGACY, "main", {"sonar-project.properties": "sonar.projectKey=legacy\n"})
    [merged] = [p for p in await world.prs(PLATFORM) if p.number == pr.number]
    world.mark()
    await say(world, merged, "/trustacks discover", user=WRITER)
    for p in await world.bot_prs(PLATFORM, kind="profile/"):
        if p.state.value == "open":
            assert "sonar" not in (await world.read(PLATFORM, p.head, PROFILE_PATH) or "").lower()
    assert [w for w in world.writes() if w.repo == LEGACY] == []
