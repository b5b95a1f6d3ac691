"""A bot branch a human pushed to is never force-pushed or regenerated: the bot says so once and keeps only
the PR description current. A human commit, then push events, then `/trustacks rebase`, through the real
dispatcher on the local forge and the fake GitHub."""

from __future__ import annotations

import copy

from bot.demo import DEMO_DECLARED
from bot.profile import PROFILE_PATH, Profile

from ._wiring import (
    APP,
    BOT,
    PLATFORM,
    WRITER,
    deliver,
    merge_profile,
    onboard,
    push_event,
    say,
)

EDITED = "You edited this branch"
SONAR = {"sonar-project.properties": "sonar.projectKey=acme_payments\n"}
SNYK = {".snyk": "version: v1.25.0\n"}


async def _bot_comments(world, pr, needle):
    return [body for author, body in await world.comments(pr.repo, pr.number) if author == BOT and needle in body]


async def _declared(world, pr):
    profile = Profile.loads(await world.read(PLATFORM, pr.head, PROFILE_PATH) or "")
    for category, entries in DEMO_DECLARED.items():
        profile.set_tools(category, copy.deepcopy(entries))
    return {PROFILE_PATH: profile.dumps()}


async def test_a_human_commit_on_the_profile_branch_is_never_overwritten(world):
    await world.start([APP, PLATFORM])
    world.dispatcher()
    pr = await onboard(world)
    human = await world.push(PLATFORM, pr.head, await _declared(world, pr), user=WRITER)

    # the forge reports the push to the bot branch: not an app's default branch, nothing to do
    world.mark()
    assert (await deliver(world, push_event(world, PLATFORM, pr.head, human, sender=WRITER))).startswith("ignored")
    assert world.writes() == []

    # an app push changes the proposal: the branch is left alone, the description follows, one comment says why
    sha = await world.push(APP, "main", SONAR)
    assert await deliver(world, push_event(world, APP, "main", sha)) == "profile PR edited"
    [after] = await world.bot_prs(PLATFORM, kind="profile/")
    assert after.head_sha == human
    assert after.body != pr.body and "sonarqube" in after.body.lower()
    assert sorted(w.verb for w in world.writes()) == ["comment", "update_pr"]
    assert len(await _bot_comments(world, pr, EDITED)) == 1
    assert "/trustacks recreate" in (await _bot_comments(world, pr, EDITED))[0]

    # another change: the description again, no second comment, no branch write
    world.mark()
    sha = await world.push(APP, "main", SNYK)
    assert await deliver(world, push_event(world, APP, "main", sha)) == "profile PR edited"
    [again] = await world.bot_prs(PLATFORM, kind="profile/")
    assert again.head_sha == human and again.body != after.body and "snyk" in again.body.lower()
    assert [w.verb for w in world.writes()] == ["update_pr"]

    # `/trustacks rebase`: refused with the reason; the branch still ends in the human's commit
    world.mark()
    await say(world, again, "/trustacks rebase", user=WRITER)
    assert await world.head(PLATFORM, pr.head) == human
    replies = await _bot_comments(world, pr, "Not rebased")
    assert len(replies) == 1 and human[:7] in replies[0]
    assert len(await _bot_comments(world, pr, EDITED)) == 1
    assert {w.verb for w in world.writes()} <= {"comment", "reaction"}
    assert [w.verb for w in world.writes()].count("comment") == 1


async def test_an_edited_generation_branch_survives_rebase_and_generate_until_recreate(world):
    await world.start([APP, PLATFORM])
    world.dispatcher()
    await merge_profile(world, await onboard(world))
    [gen] = await world.bot_prs(APP, kind="generate/")
    path = ".github/workflows/trustacks-ci.yml"
    tuned = (await world.read(APP, gen.head, path) or "") + "# tuned by the platform team\n"
    human = await world.push(APP, gen.head, {path: tuned}, user=WRITER)
    sha = await world.push(APP, "main", SONAR)
    await deliver(world, push_event(world, APP, gen.head, human, sender=WRITER))
    await deliver(world, push_event(world, APP, "main", sha))

    for command in ("/trustacks rebase", "/trustacks generate", "/trustacks generate ci", "/trustacks rebase"):
        await say(world, gen, command, user=WRITER)
        assert await world.head(APP, gen.head) == human, command
    assert await world.read(APP, gen.head, path) == tuned
    assert len(await _bot_comments(world, gen, EDITED)) == 1
    assert len(await _bot_comments(world, gen, "Not rebased")) == 2

    # the one way to discard the edit, asked for explicitly: the check above would see it
    await say(world, gen, "/trustacks recreate", user=WRITER)
    head = await world.head(APP, gen.head)
    assert head != human and not await world.is_ancestor(APP, human, head)
    assert await world.read(APP, gen.head, path) != tuned
