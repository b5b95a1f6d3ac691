"""The `issues` edited handler: a ticked box on the dashboard issue runs its action once.

Checks, in order, each for the reason given: the edit is in the platform repo and changed the body
(a title edit carries no tick); the editor is not a bot (our own re-render unticks boxes and must not
loop); the edited issue is the bot's dashboard, found again by its marker (a human copying the
marker into another issue gets nothing); a box went from empty to ticked between `changes.body.from`
and the new body; it is still ticked on the issue now (a redelivered or retried event after our
re-render finds it unticked: each tick runs once); the editor has write access, the same check the
slash commands make (a tick without write does nothing at all). Then the action runs through the
slash command's own function (`bot.commands.dispatch.HANDLERS`), never a copy, and the dashboard is
re-rendered with the boxes unticked and the result under "Recent actions".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot import dashboard
from bot.dashboard import ACTION_DISCOVER, ACTION_GENERATE, ACTION_RETRY, ActionRecord

if TYPE_CHECKING:
    from bot.handlers.flows import HandlerContext

log = logging.getLogger(__name__)

RETRY_QUEUED = "job {id} queued again"
RETRY_REFUSED = "job {id} is not a failed or dead job of this org; nothing done"
RETRY_NO_STORE = "job {id}: this process has no job queue to retry it in; run `trustacks jobs retry {id}`"
ACTION_FAILED = "failed: {error}. Tick the box again to retry."


async def on_issue_edited(ctx: "HandlerContext", *, store: Any = None) -> str:
    """Run the actions newly ticked on the dashboard issue; returns a short outcome for the log."""
    ev, forge, flow = ctx.event, ctx.forge, ctx.flow
    store = store if store is not None else ctx.store
    if ev.repo != flow.platform_repo:
        return "ignored: not the platform repo"
    if ev.previous_body is None:
        return "ignored: body unchanged"
    if ev.actor_is_bot or ev.actor == forge.bot_login or ev.actor.endswith("[bot]"):
        return "ignored: edited by a bot"
    ticks = dashboard.new_ticks(ev.previous_body, ev.pr_body)
    if not ticks:
        return "no new ticks"
    issue = await dashboard.find_dashboard(forge, ev.repo)
    if issue is None or issue.number != ev.number:
        return "ignored: not the TruStacks dashboard"
    current = dashboard.checked_actions(issue.body)
    ticks = [t for t in ticks if current.get(t)]
    if not ticks:
        return "ticks already handled"
    permission = await forge.user_permission(ev.repo, ev.actor)
    if not permission.can_write:
        log.info("dashboard tick refused: %s has %s on %s", ev.actor, permission.value, ev.repo)
        return f"ignored: {ev.actor} lacks write access"
    done = []
    record = None
    for action in ticks:
        try:
            name, job_id = dashboard.parse_action(action)
        except ValueError:
            continue
        result = await _run(ctx, name, job_id, store=store)
        record = ActionRecord(action=action, actor=ev.actor, result=dashboard.one_line(result))
        done.append(action)
        # one record per tick: re-render after each so none is lost if a later one fails hard
        await dashboard.ensure_dashboard(forge, platform_repo=flow.platform_repo, policy=flow.policy,
                                         store=store, action=record, limiter=_limiter(ctx))
    return f"ran {', '.join(done)}" if done else "no known action ticked"


async def _run(ctx: "HandlerContext", name: str, job_id: int | None, *, store: Any) -> str:
    if name == ACTION_RETRY:
        assert job_id is not None
        return await _retry(ctx, job_id, store=store)
    from bot.commands.dispatch import HANDLERS, CommentContext, Run, _error_text
    from bot.commands.parser import Command, CommandName

    ev = ctx.event
    command = Command(CommandName.DISCOVER if name == ACTION_DISCOVER else CommandName.GENERATE)
    assert name in (ACTION_DISCOVER, ACTION_GENERATE)
    cctx = CommentContext(forge=ctx.forge, flow=ctx.flow, repo=ev.repo, number=ev.number, author=ev.actor,
                          forge_kind=ev.forge)
    run = Run(ctx=cctx, pr=None, identity=None, bot_owned=False, is_fork=False)
    try:
        return await HANDLERS[command.name](run, command)
    except Exception as exc:  # noqa: BLE001 - a failing action is reported on the dashboard, like a command
        log.exception("dashboard action %s failed on %s", name, ev.repo)
        return ACTION_FAILED.format(error=_error_text(exc))


async def _retry(ctx: "HandlerContext", job_id: int, *, store: Any) -> str:
    if store is None:
        return RETRY_NO_STORE.format(id=job_id)
    # Only a job the dashboard of this org would list: a human can type any id into the issue.
    allowed = {j.id for j in await dashboard.org_jobs(store, ctx.flow.platform_repo, limit=10_000)}
    if job_id not in allowed or not await store.retry(job_id):
        return RETRY_REFUSED.format(id=job_id)
    return RETRY_QUEUED.format(id=job_id)


async def refresh_dashboard(ctx: "HandlerContext", *, outcomes: Any = (), store: Any = None, limiter: Any = None) -> str:
    """Bring the dashboard up to date after an event (call at the end of a handler, with its outcomes).

    Never fails the job: the event's own work is done, and the next event refreshes the dashboard again.
    """
    store = store if store is not None else ctx.store
    try:
        result = await dashboard.ensure_dashboard(ctx.forge, platform_repo=ctx.flow.platform_repo,
                                                  policy=ctx.flow.policy, store=store, outcomes=list(outcomes),
                                                  limiter=limiter if limiter is not None else _limiter(ctx))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("dashboard not refreshed for %s: %s", ctx.flow.platform_repo, exc)
        return f"dashboard not refreshed: {type(exc).__name__}"
    return f"dashboard {result.action}"


def _limiter(ctx: "HandlerContext") -> Any:
    """The noise limiter the flow runs with (its held-back queue is listed on the dashboard)."""
    return getattr(ctx, "limiter", None) or getattr(ctx.flow, "limiter", None)
