"""A PR from a fork never triggers writes or commands beyond `help` and `explain`, even when a maintainer with
write access asks: every other command gets the refusal reply and nothing else is written. Through the real
dispatcher on the fake GitHub (which reports the fork as the PR's head repo) and on the local forge (which
has no forks: there the comment arrives as a GitLab note naming the MR's source project)."""

from __future__ import annotations

from bot.commands import texts

from ._wiring import ADMIN, APP, BOT, FORKER, PLATFORM, WAIVE, merge_profile, onboard

FORK = f"{FORKER}/payments-fastapi"
REFUSED = ["discover", "generate", "generate ci", "rebase", "recreate", "rules", "gaps", "profile show", WAIVE]
ALLOWED = ["help", "explain", "explain TS-PROC-001"]


async def test_commands_on_a_fork_pr_are_refused_except_help_and_explain(world):
    await world.start([APP, PLATFORM])
    world.dispatcher()
    await merge_profile(world, await onboard(world))  # so generate, rebase and waive would have work to do
    pr = await world.open_pr(APP, branch="patch-1", files={"app/main.py": "print('hi from a fork')\n"},
                             user=FORKER, fork=FORK)
    refs, prs = await world.refs(), await world.prs()
    world.mark()

    for command in REFUSED + ALLOWED:
        outcome = await world.say_on_fork_pr(pr, f"/trustacks {command}", fork=FORK, user=ADMIN)
        assert outcome == "1 reply", (command, outcome)
    replies = [body for author, body in await world.comments(APP, pr.number) if author == BOT]
    assert len(replies) == len(REFUSED) + len(ALLOWED)
    for command, reply in zip(REFUSED, replies):
        name = "profile show" if command == "profile show" else command.split()[0]
        assert reply == texts.FORK_LIMITED.format(command=name, repo=APP), command
    help_reply, *explain_replies = replies[len(REFUSED):]
    assert help_reply.startswith(texts.HELP_HEADER) and texts.HELP_LIMITED_FORK in help_reply
    assert all("not available on a pull request from a fork" not in r for r in explain_replies)
    assert "TS-PROC-001" in explain_replies[1]

    # the replies (and, on GitHub, the acknowledging reaction) are all that was written
    assert {w.verb for w in world.writes()} <= {"comment", "reaction"}
    assert all(w.repo == APP and (w.verb != "comment" or w.number == pr.number) for w in world.writes())
    assert await world.refs() == refs
    assert await world.prs() == prs
