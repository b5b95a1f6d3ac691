"""One small function per event kind; each calls the pipeline and returns a short outcome for the log.

All of them are idempotent: a retried job finds its PRs again by branch and marker and changes nothing
that already matches. Opt-out is derived from the forge, not the database: a Profile PR closed without
merge, with no open one after it, means "stop proposing here" (losing the database loses no state).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot import pipeline
from bot.forges.base import Forge
from bot.handlers.events import Event, Kind
from bot.handlers.dashboard_flow import on_issue_edited
from bot.models import (
    BRANCH_PREFIX,
    Annotation,
    ChangeRequestState,
    CheckConclusion,
    FileChange,
    Proposal,
    ProposalKind,
)
from bot.pr_identity import parse_marker
from bot.profile import PROFILE_PATH, ProfileError

log = logging.getLogger(__name__)

CHECK_NAME = pipeline.CHECK_NAME
OPTED_OUT_COMMENT = (
    "You closed this Profile PR without merging it, so TruStacks stopped proposing changes for these repos. "
    "Comment `/trustacks discover` or reopen this PR to opt in again."
)


@dataclass
class HandlerContext:
    forge: Forge
    flow: pipeline.Flow
    event: Event
    delivery_id: str = ""
    #: the job store (bot.store), for the dashboard's failed-jobs list and retries; None in tests without one
    store: Any = None


async def opted_out(ctx: HandlerContext) -> bool:
    """True when the latest Profile PR was closed unmerged and none is open now."""
    forge, platform = ctx.forge, ctx.flow.platform_repo
    prs = await forge.find_change_requests(platform, head=pipeline.profile_branch(platform), state="all")
    own = [p for p in prs if p.author == forge.bot_login and parse_marker(p.body)]
    if not own:
        return False
    latest = max(own, key=lambda p: p.number)
    return latest.state is ChangeRequestState.CLOSED


async def onboarded(ctx: HandlerContext) -> bool:
    """Nothing but discovery happens until the first Profile PR is merged."""
    return await pipeline.load_profile(ctx.forge, ctx.flow.platform_repo) is not None


async def _propose_profile_for(ctx: HandlerContext, repos: list[str]) -> str:
    flow = ctx.flow
    results = [await pipeline.discover_repo(ctx.forge, r) for r in repos if r != flow.platform_repo]
    if not results:
        return "no application repos"
    try:
        proposal = await pipeline.propose_profile(flow, results)
    except ProfileError as exc:
        # A human merged a Profile that does not load: retrying cannot help until someone fixes it, and the
        # Profile PR check already showed the error. Say so once instead of failing the job five times.
        log.warning("cannot propose Profile changes for %s: %s", ", ".join(repos), exc)
        return "profile invalid"
    if proposal is None:
        return "profile matches"
    profile = await pipeline.load_profile(ctx.forge, flow.platform_repo)
    decision = await pipeline.evaluate(flow, proposal, profile)
    outcome = await pipeline.open_proposal(flow, proposal, decision, profile=profile)
    return f"profile PR {outcome.action}"


async def on_onboard(ctx: HandlerContext) -> str:
    if await opted_out(ctx):
        return "opted out"
    return await _propose_profile_for(ctx, ctx.event.repos)


async def on_push(ctx: HandlerContext) -> str:
    ev = ctx.event
    if ev.repo == ctx.flow.platform_repo or ev.branch != ev.default_branch:
        return "ignored: not an app repo's default branch"
    if await opted_out(ctx):
        return "opted out"
    return await _propose_profile_for(ctx, [ev.repo])


async def on_pr_merged(ctx: HandlerContext) -> str:
    ev, flow = ctx.event, ctx.flow
    ident = parse_marker(ev.pr_body)
    if ev.repo != flow.platform_repo or not ev.head.startswith(BRANCH_PREFIX + "profile/") or not ident \
            or ident.kind != ProposalKind.PROFILE.value:
        return "ignored: not a merged Profile PR"
    try:
        profile = await pipeline.load_profile(ctx.forge, flow.platform_repo)
    except ProfileError as exc:
        await ctx.forge.comment(ev.repo, ev.number, f"TruStacks cannot read the merged Profile: {exc}")
        return "profile invalid"
    if profile is None:
        return "no profile"
    proposals, _gaps = await pipeline.propose_generation(flow, profile)
    actions = []
    for proposal in proposals:
        decision = await pipeline.evaluate(flow, proposal, profile)
        outcome = await pipeline.open_proposal(flow, proposal, decision, profile=profile)
        if outcome.action == "denied":
            await pipeline.report_denial(flow, outcome, on_repo=ev.repo, number=ev.number)
        actions.append(f"{proposal.repo}: {outcome.action}")
    return "; ".join(actions) or "nothing to generate"


async def on_pr_closed(ctx: HandlerContext) -> str:
    ev = ctx.event
    ident = parse_marker(ev.pr_body)
    if ev.repo == ctx.flow.platform_repo and ident and ident.kind == ProposalKind.PROFILE.value \
            and ev.pr_author == ctx.forge.bot_login:
        comments = await ctx.forge.list_comments(ev.repo, ev.number)
        if not any(c.author == ctx.forge.bot_login and "stopped proposing" in c.body for c in comments):
            await ctx.forge.comment(ev.repo, ev.number, OPTED_OUT_COMMENT)
        return "opted out"
    return "ignored"


async def on_pr_opened(ctx: HandlerContext) -> str:
    """Policy check run on every PR in the platform repo, so branch protection can require it."""
    ev, flow, forge = ctx.event, ctx.flow, ctx.forge
    if ev.repo != flow.platform_repo or not ev.head_sha:
        return "ignored: not the platform repo"
    proposal = await proposal_from_pr(forge, ev)
    profile = None
    try:
        profile = await pipeline.load_profile(forge, flow.platform_repo, ref=ev.head_sha)
    except ProfileError as exc:
        await forge.set_check(ev.repo, ev.head_sha, name=CHECK_NAME, conclusion=CheckConclusion.FAILURE,
                              title="Invalid Environment Profile", summary=str(exc),
                              annotations=[Annotation(path=PROFILE_PATH, line=1, message=str(exc))])
        return "check: invalid profile"
    pr_meta = {"number": ev.number, "author": ev.pr_author, "base_branch": ev.base, "head_branch": ev.head,
               "body": ev.pr_body, "approvals": [], "is_fork": ev.is_fork}
    decision = flow.policy.evaluate(proposal, profile, pr=pr_meta)  # type: ignore[attr-defined]
    await pipeline.report_check(forge, ev.repo, ev.head_sha, decision)
    return f"check: {decision.verdict}"


async def proposal_from_pr(forge: Forge, ev: Event) -> Proposal:
    """The files a PR changes, as a Proposal the policy gate can read."""
    head_files = set(await forge.list_files(ev.repo, ref=ev.head_sha))
    base_files = set(await forge.list_files(ev.repo, ref=ev.base))
    changes = []
    for path in sorted(head_files | base_files):
        new = await forge.read_file(ev.repo, path, ref=ev.head_sha) if path in head_files else None
        old = await forge.read_file(ev.repo, path, ref=ev.base) if path in base_files else None
        if new != old:
            changes.append(FileChange(
                path=path, new=None if new is None else new.decode("utf-8", "replace"),
                old=None if old is None else old.decode("utf-8", "replace")))
    ident = parse_marker(ev.pr_body)
    kind = ProposalKind(ident.kind) if ident and ident.kind in {k.value for k in ProposalKind} else ProposalKind.GENERATE
    return Proposal(kind=kind, repo=ev.repo, base_branch=ev.base, head_branch=ev.head,
                    title=f"PR #{ev.number}", summary=ev.pr_body[:2000], files=changes)


async def on_comment(ctx: HandlerContext) -> str:
    from bot.commands import CommentContext, handle_comment

    ev = ctx.event
    pr = await ctx.forge.get_change_request(ev.repo, ev.number)
    cctx = CommentContext(
        forge=ctx.forge, flow=ctx.flow, repo=ev.repo, number=ev.number, author=ev.actor,
        author_is_bot=ev.actor_is_bot, comment_id=ev.comment_id,
        action={"created": "created", "create": "created"}.get(ev.action, ev.action),
        is_fork=ev.is_fork, pr_author=pr.author, pr_head=pr.head, forge_kind=ev.forge,
    )
    replies = await handle_comment(cctx, ev.comment_body)
    return f"{len(replies)} repl{'y' if len(replies) == 1 else 'ies'}"


ROUTES: dict[Kind, Any] = {
    Kind.ONBOARD: on_onboard,
    Kind.PUSH: on_push,
    Kind.PR_MERGED: on_pr_merged,
    Kind.PR_CLOSED: on_pr_closed,
    Kind.PR_OPENED: on_pr_opened,
    Kind.COMMENT: on_comment,
    Kind.ISSUE_EDITED: on_issue_edited,
}
