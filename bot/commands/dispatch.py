"""Run the slash commands of one PR/MR comment: who may run what where, then the same engines as the handlers.

Checks, in order, each for a reason given where it is made: the comment is new (not edited or
deleted); it is not from a bot or from TruStacks itself; it holds a command; the commenter has write
access; the command is allowed on this PR (forks: `help` and `explain` only; PRs TruStacks did not
open: the read-only commands only). Then each command runs in order through `bot.pipeline`, and its
result is posted as one reply. Nothing here writes anything but comments, reactions, and proposals
that go through the pipeline's policy gate onto `trustacks/...` branches for a human to merge.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Awaitable, Callable

from bot import pipeline
from bot.commands import texts
from bot.commands.parser import Command, CommandName, Ignore, Reply, is_constitution_rule, parse
from bot.commands.waiver import WAIVERS_PATH, WaiverRequest, add_waiver, waiver_proposal
from bot.forges.base import Forge, ForgeError, NotFoundError
from bot.models import BRANCH_PREFIX, ChangeRequest, Decision, Proposal, ProposalKind
from bot.pr_identity import Identity, parse_marker
from bot.profile import PROFILE_PATH, Profile, ProfileError

log = logging.getLogger(__name__)

#: GitHub's comment limit is 65,536 characters; stay under it with room for the truncation note.
MAX_REPLY_CHARS = 60_000
#: what any PR allows (they only read)
READ_ONLY = frozenset({CommandName.HELP, CommandName.EXPLAIN, CommandName.RULES, CommandName.GAPS,
                       CommandName.PROFILE_SHOW})
#: what a PR from a fork allows: its author controls the head branch and may not have write access
#: to this repo at all, so nothing that reads its branch into a proposal or writes anything may run
FORK_ALLOWED = frozenset({CommandName.HELP, CommandName.EXPLAIN})
ACK_REACTION = "eyes"


@dataclass
class CommentContext:
    """One PR/MR comment, forge-neutral (built by the GitHub issue_comment and GitLab note handlers)."""

    forge: Forge
    flow: pipeline.Flow
    repo: str
    number: int
    author: str
    author_is_bot: bool = False
    comment_id: int = 0
    action: str = "created"  # created | edited | deleted
    is_fork: bool = False
    pr_author: str | None = None
    pr_head: str | None = None
    forge_kind: str = "local"  # github | gitlab | local
    bot_name: str = "trustacks"
    today: date | None = None  # the date waiver expiries are checked against; today (UTC) when None


@dataclass
class Run:
    """What the command handlers share for one comment: the context and the PR it is on."""

    ctx: CommentContext
    pr: ChangeRequest | None
    identity: Identity | None
    bot_owned: bool
    is_fork: bool

    @property
    def forge(self) -> Forge:
        return self.ctx.forge

    @property
    def flow(self) -> pipeline.Flow:
        return self.ctx.flow

    @property
    def platform(self) -> str:
        return self.ctx.flow.platform_repo

    def allowed(self) -> frozenset[CommandName]:
        if self.is_fork:
            return FORK_ALLOWED
        if not self.bot_owned:
            return READ_ONLY
        return frozenset(CommandName)


Handler = Callable[[Run, Command], Awaitable[str]]


# ============================================================================ entry point


async def handle_comment(ctx: CommentContext, body: str) -> list[str]:
    """Run the commands in one comment; returns the replies it posted (for logs and tests)."""
    # An edit could replay a command people already saw run (or smuggle one into an old comment);
    # a deletion has nothing to run. Only new comments count, as in Atlantis.
    if ctx.action != "created":
        return []
    # Answering bots invites loops between bots; answering itself would be a loop.
    if ctx.author_is_bot or _is_self(ctx):
        return []
    parsed = parse(body, bot_name=ctx.bot_name, today=ctx.today)
    if isinstance(parsed, Ignore):
        return []
    await _acknowledge(ctx)
    replies: list[str] = []
    # Authorization before anything else is said: a reader gets no usage text, no rule text, nothing
    # but the refusal, and nothing runs.
    permission = await ctx.forge.user_permission(ctx.repo, ctx.author)
    if not permission.can_write:
        log.info("command refused: %s has %s on %s", ctx.author, permission.value, ctx.repo)
        return [await _post(ctx, texts.NEEDS_WRITE.format(author=ctx.author, repo=ctx.repo))]
    if isinstance(parsed, Reply):
        return [await _post(ctx, parsed.text)]

    run = await _open_run(ctx)
    for index, command in enumerate(parsed):
        refusal = _refusal(run, command)
        if refusal is not None:
            replies.append(await _post(ctx, refusal))
            continue
        try:
            text = await HANDLERS[command.name](run, command)
        except Exception as exc:  # noqa: BLE001 - one failing command must not crash the worker
            log.exception("command %s failed on %s#%s", command.name.value, ctx.repo, ctx.number)
            message = texts.FAILED.format(command=command.text.split(" --reason")[0], error=_error_text(exc))
            rest = [c.text.split(" --reason")[0] for c in parsed[index + 1:]]
            if rest:
                message += "\n\n" + texts.NOT_RUN.format(commands=", ".join(f"`{c}`" for c in rest))
            replies.append(await _post(ctx, message))
            break
        replies.append(await _post(ctx, text))
    return replies


def _is_self(ctx: CommentContext) -> bool:
    login = ctx.forge.bot_login
    return ctx.author == login or ctx.author.endswith("[bot]")


async def _acknowledge(ctx: CommentContext) -> None:
    """A quick reaction so people see the bot heard them; never blocks or fails the command."""
    if not ctx.comment_id:
        return
    forge: Any = ctx.forge
    react = getattr(forge, "award_emoji", None) or getattr(forge, "add_reaction", None)
    if react is None:  # the local forge has no reactions
        return
    try:
        await react(ctx.repo, ctx.comment_id, ACK_REACTION, number=ctx.number)
    except Exception as exc:  # noqa: BLE001 - an acknowledgement is a courtesy
        log.warning("could not acknowledge comment %s on %s#%s: %s", ctx.comment_id, ctx.repo, ctx.number, exc)


async def _post(ctx: CommentContext, text: str) -> str:
    if len(text) > MAX_REPLY_CHARS:
        text = text[: MAX_REPLY_CHARS - len(texts.TRUNCATED)] + texts.TRUNCATED
    await ctx.forge.comment(ctx.repo, ctx.number, text)
    return text


def _error_text(exc: BaseException) -> str:
    """What a user may see of a failure: forge and Profile errors are written for people; others are not."""
    if isinstance(exc, (ForgeError, ProfileError)):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return first[:500]
    return texts.INTERNAL_ERROR


async def _open_run(ctx: CommentContext) -> Run:
    """Read the PR once: did TruStacks open it (branch prefix, marker, author), and is it from a fork?"""
    try:
        pr: ChangeRequest | None = await ctx.forge.get_change_request(ctx.repo, ctx.number)
    except NotFoundError:
        pr = None
    identity = parse_marker(pr.body) if pr is not None else None
    bot_owned = (
        pr is not None
        and identity is not None
        and pr.head.startswith(BRANCH_PREFIX)
        and pr.author == ctx.forge.bot_login
    )
    head_repo = getattr(pr, "head_repo", "") if pr is not None else ""
    is_fork = ctx.is_fork or bool(head_repo and head_repo != ctx.repo)
    return Run(ctx=ctx, pr=pr, identity=identity, bot_owned=bot_owned, is_fork=is_fork)


def _refusal(run: Run, command: Command) -> str | None:
    if command.name in run.allowed():
        return None
    if run.is_fork:
        return texts.FORK_LIMITED.format(command=command.name.value, repo=run.ctx.repo)
    allowed = ", ".join(f"`{n.value}`" for n in CommandName if n in READ_ONLY)
    return texts.NOT_BOT_PR.format(command=command.name.value, allowed=allowed)


# ============================================================================ help


async def cmd_help(run: Run, command: Command) -> str:
    if command.topic is not None:
        topic = command.topic
        return f"`{topic.usage}`\n\n{topic.summary[:1].upper()}{topic.summary[1:]}."
    allowed = run.allowed()
    lines = [texts.HELP_HEADER, ""]
    for name in CommandName:
        mark = "" if name in allowed else " _(not available here)_"
        lines.append(f"- `{name.usage}`: {name.summary}{mark}")
    lines.append("")
    if run.is_fork:
        lines.append(texts.HELP_LIMITED_FORK)
    elif not run.bot_owned:
        lines.append(texts.HELP_LIMITED_HUMAN.format(
            allowed=", ".join(f"`{n.value}`" for n in CommandName if n in READ_ONLY)))
    lines.append(texts.HELP_FOOTER)
    return "\n".join(lines)


# ============================================================================ discovery and generation


async def _merged_profile(run: Run) -> Profile | None:
    return await pipeline.load_profile(run.forge, run.platform)


async def _profile_repos(run: Run) -> list[str]:
    """Repos to discover: this one (an application repo), or every repo the Profile names (platform repo)."""
    if run.ctx.repo != run.platform:
        return [run.ctx.repo]
    repos: set[str] = set()
    refs: list[str | None] = [None]
    if run.bot_owned and run.identity is not None and run.identity.kind == ProposalKind.PROFILE.value:
        refs.append(run.pr.head if run.pr is not None else None)
    for ref in refs:
        try:
            profile = await pipeline.load_profile(run.forge, run.platform, ref=ref)
        except (ProfileError, NotFoundError):
            continue
        if profile is not None:
            repos.update(s.repo for s in profile.services())
    repos.discard(run.platform)
    return sorted(r for r in repos if run.flow.allows(r))  # a repo TRUSTACKS_REPOS denies is not even read


async def _propose_profile(run: Run) -> tuple[Proposal | None, list[str]]:
    repos = await _profile_repos(run)
    if not repos:
        return None, []
    results = [await pipeline.discover_repo(run.forge, repo) for repo in repos]
    return await pipeline.propose_profile(run.flow, results), repos


async def _current_profile_or_none(run: Run) -> Profile | None:
    try:
        return await _merged_profile(run)
    except ProfileError:
        return None  # a broken Profile is what a Profile PR may be fixing


async def cmd_discover(run: Run, command: Command) -> str:
    proposal, repos = await _propose_profile(run)
    if not repos:
        return texts.NO_REPOS
    if proposal is None:
        return texts.DISCOVER_NOTHING.format(repos=", ".join(f"`{r}`" for r in repos))
    profile = await _current_profile_or_none(run)
    decision = await pipeline.evaluate(run.flow, proposal, profile)
    outcome = await pipeline.open_proposal(run.flow, proposal, decision, profile=profile)
    return _format_outcomes([outcome])


def _services_here(run: Run, profile: Profile) -> list[str] | None:
    """Services to generate for a comment on this repo: all of them on the platform repo."""
    if run.ctx.repo == run.platform:
        return None
    return [s.name for s in profile.services() if s.repo == run.ctx.repo]


async def cmd_generate(run: Run, command: Command) -> str:
    try:
        profile = await _merged_profile(run)
    except ProfileError as exc:
        return texts.PROFILE_UNREADABLE.format(platform=run.platform, error=str(exc)[:500])
    if profile is None:
        return texts.NO_PROFILE.format(platform=run.platform)
    services = _services_here(run, profile)
    if services == []:
        return texts.NO_SERVICES.format(repo=run.ctx.repo)
    only = set(command.targets) or None
    proposals, gaps = await pipeline.propose_generation(run.flow, profile, services=services, only=only)
    outcomes = []
    for proposal in proposals:
        decision = await pipeline.evaluate(run.flow, proposal, profile)
        outcomes.append(await pipeline.open_proposal(run.flow, proposal, decision, profile=profile))
    if not outcomes:
        names = ", ".join(f"`{s}`" for s in services) if services else "every service"
        text = texts.GENERATE_NOTHING.format(services=names)
    else:
        text = _format_outcomes(outcomes)
    if gaps:
        text += "\n\n" + texts.GAPS_REPORTED + "\n" + "\n".join(f"- {_gap_line(g)}" for g in gaps[:20])
    return text


def _gap_line(gap: object) -> str:
    for attr in ("message", "msg", "reason"):
        value = getattr(gap, attr, None)
        if isinstance(value, str) and value:
            return value
    return str(gap)


def _link(outcome: pipeline.Outcome) -> str:
    """`owner/repo#12` (GitHub and local) or `group/project!12` (GitLab): both forges autolink these."""
    cr = outcome.change_request
    if cr is None:
        return f"`{outcome.proposal.repo}`"
    sep = "!" if cr.url.startswith("http") and "/-/merge_requests/" in cr.url else "#"
    return f"{cr.repo}{sep}{cr.number}"


def _format_outcomes(outcomes: list[pipeline.Outcome]) -> str:
    lines = []
    for outcome in outcomes:
        template = texts.OUTCOME.get(outcome.action, "{link}: {title}")
        lines.append("- " + template.format(link=_link(outcome), title=outcome.proposal.title))
        if outcome.action == "denied":
            lines.extend(f"  - {_violation_line(v)}" for v in outcome.decision.deny)
    return "\n".join(lines)


def _violation_line(v: Any) -> str:
    return f"`{v.rule}` ({v.layer}, {v.severity}): {v.msg}"


# ============================================================================ rebase and recreate


async def _rebuild(run: Run) -> tuple[Proposal | None, Profile | None, str | None]:
    """Regenerate what this bot PR proposes. Returns (proposal, profile, refusal text)."""
    assert run.pr is not None and run.identity is not None
    kind = run.identity.kind
    if kind == ProposalKind.PROFILE.value:
        proposal, repos = await _propose_profile(run)
        if not repos:
            return None, None, texts.NO_REPOS
        profile = await _current_profile_or_none(run)
    elif kind == ProposalKind.GENERATE.value:
        try:
            profile = await _merged_profile(run)
        except ProfileError as exc:
            return None, None, texts.PROFILE_UNREADABLE.format(platform=run.platform, error=str(exc)[:500])
        if profile is None:
            return None, None, texts.NO_PROFILE.format(platform=run.platform)
        services = _services_here(run, profile)
        if services == []:
            return None, None, texts.NO_SERVICES.format(repo=run.ctx.repo)
        proposals, _gaps = await pipeline.propose_generation(run.flow, profile, services=services)
        proposal = next((p for p in proposals if p.repo == run.ctx.repo), None)
    else:
        return None, None, texts.REBUILD_UNSUPPORTED.format(kind=f"`{kind}`")
    if proposal is None:
        return None, profile, texts.REBUILD_GONE.format(base=run.pr.base)
    if proposal.head_branch != run.pr.head:
        return None, profile, texts.REBUILD_UNSUPPORTED.format(kind=f"`{kind}` (branch `{run.pr.head}`)")
    return proposal, profile, None


async def _human_commits(run: Run) -> list[str]:
    """Short shas of commits on the PR branch not made by the bot (or ignored automation)."""
    assert run.pr is not None
    allowed = [run.forge.bot_email, *run.flow.ignore_emails]
    found = []
    for c in await run.forge.branch_commits(run.ctx.repo, run.pr.head, run.pr.base):
        if any(not any(fnmatch.fnmatchcase(e, p) for p in allowed) for e in (c.author_email, c.committer_email)):
            found.append(c.sha[:7])
    return found


async def _behind(run: Run) -> bool:
    assert run.pr is not None
    return bool(await run.forge.branch_commits(run.ctx.repo, run.pr.base, run.pr.head))


async def _recommit(run: Run, proposal: Proposal) -> str:
    """Put the proposal as one bot commit on the current base (the caller decided the branch may be rewritten)."""
    base_sha = await run.forge.branch_sha(proposal.repo, proposal.base_branch)
    if base_sha is None:
        raise NotFoundError(f"{proposal.repo}: base branch {proposal.base_branch} does not exist")
    message = f"{proposal.title}\n\n{proposal.summary}\n\nProposed by TruStacks; a human reviews and merges."
    return await run.forge.commit_files(proposal.repo, proposal.head_branch, proposal.files,
                                        message=message, parent=base_sha)


def _denied(decision: Decision) -> str:
    return "\n".join([texts.DENIED_ON_REBUILD, *(f"- {_violation_line(v)}" for v in decision.deny)])


async def cmd_rebase(run: Run, command: Command) -> str:
    assert run.pr is not None
    branch, base = run.pr.head, run.pr.base
    # Read-and-preserve applies to branches too: a human's commits are never rewritten by a rebase.
    if await pipeline.is_edited(run.flow, run.ctx.repo, branch, base):
        who = await _human_commits(run)
        return texts.REBASE_EDITED.format(branch=branch, who="commits " + ", ".join(who) if who else "a commit")
    proposal, profile, refusal = await _rebuild(run)
    if refusal is not None:
        return refusal
    assert proposal is not None
    decision = await pipeline.evaluate(run.flow, proposal, profile)
    if not decision.allowed:
        return _denied(decision)
    outcome = await pipeline.open_proposal(run.flow, proposal, decision, profile=profile)
    if outcome.action == "edited":  # a human pushed between our check and the write
        return texts.REBASE_EDITED.format(branch=branch, who="a commit")
    if outcome.action == "unchanged":
        if not await _behind(run):
            return texts.REBASE_CURRENT.format(branch=branch, base=base)
        sha = await _recommit(run, proposal)
    else:
        sha = await run.forge.branch_sha(run.ctx.repo, branch) or ""
    return texts.REBASED.format(branch=branch, base=base, sha=sha[:7])


async def cmd_recreate(run: Run, command: Command) -> str:
    assert run.pr is not None
    branch, base = run.pr.head, run.pr.base
    proposal, profile, refusal = await _rebuild(run)
    if refusal is not None:
        return refusal
    assert proposal is not None
    decision = await pipeline.evaluate(run.flow, proposal, profile)
    if not decision.allowed:
        return _denied(decision)
    edited = await pipeline.is_edited(run.flow, run.ctx.repo, branch, base)
    outcome = await pipeline.open_proposal(run.flow, proposal, decision, profile=profile, recreate=True)
    if outcome.action == "unchanged" and not (edited or await _behind(run)):
        return texts.REBASE_CURRENT.format(branch=branch, base=base)
    # `open_proposal` skips the write when the proposal itself is unchanged; recreate must still
    # discard the human commits (or the stale base), so commit the proposal on the base explicitly.
    sha = await _recommit(run, proposal) if outcome.action == "unchanged" else \
        (await run.forge.branch_sha(run.ctx.repo, branch) or "")
    return texts.RECREATED.format(branch=branch, base=base, sha=sha[:7])


# ============================================================================ policy: explain, rules, gaps


def _rule_meta(engine: Any, rule_id: str) -> Any | None:
    try:
        return engine.rule(rule_id)
    except (KeyError, LookupError):
        return None


def _layer_label(meta: Any) -> str:
    label = getattr(meta, "layer_label", None)
    if isinstance(label, str) and label:
        return label
    pack = getattr(meta, "pack", None)
    return f"pack {pack}" if pack else str(getattr(meta, "layer", "?"))


def _render_rule(meta: Any) -> list[str]:
    lines = [f"**`{meta.id}`** {meta.title} ({_layer_label(meta)}, {meta.severity})"]
    description = getattr(meta, "description", "")
    remediation = getattr(meta, "remediation", "")
    if description:
        lines.append(f"{description}")
    if remediation:
        lines.append(f"_How to fix:_ {remediation}")
    return lines


async def _verdict_here(run: Run) -> Decision | None:
    """The policy verdict on this PR's changes, evaluated as the policy check does."""
    if run.pr is None or not run.pr.head_sha:
        return None
    from bot.handlers.events import Event, Kind
    from bot.handlers.flows import proposal_from_pr

    ev = Event(Kind.PR_OPENED, run.ctx.forge_kind, repo=run.ctx.repo, number=run.ctx.number, head=run.pr.head,
               base=run.pr.base, head_sha=run.pr.head_sha, pr_author=run.pr.author, pr_body=run.pr.body,
               is_fork=run.is_fork)
    try:
        proposal = await proposal_from_pr(run.forge, ev)
    except ForgeError as exc:  # explain still shows the rule text without a verdict
        log.warning("could not read %s#%s for explain: %s", run.ctx.repo, run.ctx.number, exc)
        return None
    try:
        profile = await pipeline.load_profile(run.forge, run.platform,
                                              ref=run.pr.head_sha if run.ctx.repo == run.platform else None)
    except ProfileError:
        profile = None
    pr_meta = {"number": run.ctx.number, "author": run.pr.author, "base_branch": run.pr.base,
               "head_branch": run.pr.head, "body": run.pr.body, "approvals": [], "is_fork": run.is_fork}
    return run.flow.policy.evaluate(proposal, profile, pr=pr_meta)  # type: ignore[attr-defined]


async def cmd_explain(run: Run, command: Command) -> str:
    engine = run.flow.policy
    decision = await _verdict_here(run)
    fired = {v.rule: v for v in ([*decision.deny, *decision.warn] if decision else [])}
    if command.rule is not None:
        meta = _rule_meta(engine, command.rule)
        if meta is None:
            return texts.EXPLAIN_UNKNOWN.format(rule=command.rule)
        lines = _render_rule(meta)
        v = fired.get(command.rule)
        if v is not None:
            lines += ["", *_render_violation(v, decision)]
        elif decision is not None:
            lines += ["", f"It does not deny or warn on this PR (verdict: **{decision.verdict}**)."]
        return "\n".join(lines)
    if decision is None or not fired:
        verdict = f"Verdict on this PR: **{decision.verdict}**. " if decision is not None else ""
        return verdict + texts.EXPLAIN_NONE
    lines = [f"Verdict on this PR: **{decision.verdict}**", ""]
    for rule_id, v in fired.items():
        meta = _rule_meta(engine, rule_id)
        if meta is not None:
            lines += _render_rule(meta)
        lines += [*_render_violation(v, decision), ""]
    return "\n".join(lines).rstrip()


def _render_violation(v: Any, decision: Decision | None) -> list[str]:
    effect = "denies" if decision is not None and v in decision.deny else "warns"
    lines = [f"On this PR it **{effect}**: {v.msg}"]
    if v.because:
        lines.append("Because:")
        lines += [f"{i}. {step}" for i, step in enumerate(v.because, start=1)]
    return lines


async def cmd_rules(run: Run, command: Command) -> str:
    engine = run.flow.policy
    metas = list(engine.rules())
    if not metas:
        return texts.RULES_NONE
    groups: dict[str, list[Any]] = {}
    for meta in metas:
        groups.setdefault(_layer_label(meta), []).append(meta)
    lines = [f"**{len(metas)} policy rules active for `{run.ctx.repo}`**"]
    for label, items in groups.items():
        lines += ["", f"**{label}** ({len(items)})"]
        lines += [f"- `{m.id}` {m.title} ({m.severity})" for m in items]
    lines += ["", "`/trustacks explain RULE-ID` shows a rule's text and why it applies."]
    return "\n".join(lines)


async def cmd_gaps(run: Run, command: Command) -> str:
    from bot.policy.gaps import gap_report

    try:
        profile = await _merged_profile(run)
    except ProfileError as exc:
        return texts.PROFILE_UNREADABLE.format(platform=run.platform, error=str(exc)[:500])
    if profile is None:
        return texts.NO_PROFILE.format(platform=run.platform)
    return gap_report(profile, run.flow.policy).to_markdown()


# ============================================================================ profile show


async def cmd_profile_show(run: Run, command: Command) -> str:
    ref = None
    label = f"merged Environment Profile (`{run.platform}:{PROFILE_PATH}`)"
    if run.bot_owned and run.identity is not None and run.identity.kind == ProposalKind.PROFILE.value \
            and run.ctx.repo == run.platform and run.pr is not None:
        ref = run.pr.head
        label = f"Environment Profile proposed in this PR (`{run.pr.head}`)"
    try:
        profile = await pipeline.load_profile(run.forge, run.platform, ref=ref)
    except ProfileError as exc:
        return texts.PROFILE_UNREADABLE.format(platform=run.platform, error=str(exc)[:500])
    if profile is None:
        return texts.NO_PROFILE.format(platform=run.platform)
    return render_profile(profile, label=label)


def render_profile(profile: Profile, *, label: str) -> str:
    from bot.catalog import CATEGORY_NAMES, display_name

    lines = [f"**The {label}**", "",
             f"Platform repo `{profile.platform_repo}`, deploys with **{profile.deploy_with}**, environments: "
             + ", ".join(f"`{e}`" for e in profile.environments), "",
             "| category | tool | source | evidence |", "| --- | --- | --- | --- |"]
    empty = []
    for category in CATEGORY_NAMES:
        entries = profile.tools(category)
        if not entries:
            empty.append(category)
        for e in entries:
            evidence = ", ".join(f"`{x}`" for x in e.evidence[:3]) + (" …" if len(e.evidence) > 3 else "")
            lines.append(f"| {category} | {display_name(category, e.tool)} | {e.source} | {evidence or '-'} |")
    if empty:
        lines += ["", "Not named yet: " + ", ".join(f"`{c}`" for c in empty)]
    services = profile.services()
    if services:
        lines += ["", "| service | repo | path | language | framework | port |", "| --- | --- | --- | --- | --- | --- |"]
        for s in services:
            lines.append(f"| {s.name} | `{s.repo}` | `{s.path}` | {s.language or '-'} | {s.framework or '-'} | "
                         f"{s.port or '-'} |")
    lines += ["", "Change it only by a PR to the platform repo (or `/trustacks discover`)."]
    return "\n".join(lines)


# ============================================================================ waive


async def cmd_waive(run: Run, command: Command) -> str:
    assert command.rule is not None and command.until is not None and command.reason is not None
    from bot.policy.waivers import is_constitution_rule as constitution_by_policy

    rule = command.rule
    meta = _rule_meta(run.flow.policy, rule)
    if meta is None:
        return texts.WAIVE_UNKNOWN_RULE.format(rule=rule)
    # The parser refuses `TS-` IDs; the loaded metadata is the authority on which layer a rule is in.
    if is_constitution_rule(rule) or constitution_by_policy(rule) or getattr(meta, "layer", "") == "constitution":
        return texts.WAIVE_CONSTITUTION.format(rule=rule)
    forge, platform = run.forge, run.platform
    base = await forge.default_branch(platform)
    current = await forge.read_file(platform, WAIVERS_PATH)
    old = current.decode("utf-8", "replace") if current is not None else None
    request = WaiverRequest(rule=rule, repo=run.ctx.repo, until=command.until, reason=command.reason,
                            requested_by=run.ctx.author, requested_in=f"{run.ctx.repo}#{run.ctx.number}")
    edit = add_waiver(old, request)
    fields = dict(platform=platform, rule=rule, repo=run.ctx.repo, until=command.until.isoformat(),
                  path=WAIVERS_PATH, entry=edit.entry, expires=edit.existing_expiry)
    if edit.problem == "exists":
        return texts.WAIVE_EXISTS.format(**fields)
    if edit.content is None:
        return texts.WAIVE_BY_HAND.format(problem=edit.problem, **fields)
    proposal = waiver_proposal(request, platform_repo=platform, base_branch=base, old=old, content=edit.content)
    profile = await _current_profile_or_none(run)
    decision = await pipeline.evaluate(run.flow, proposal, profile)
    outcome = await pipeline.open_proposal(run.flow, proposal, decision, profile=profile)
    fields["link"] = _link(outcome)
    if outcome.action == "denied":
        return "\n".join([texts.WAIVE_DENIED.format(**fields),
                          *(f"- {_violation_line(v)}" for v in decision.deny)])
    template = {"opened": texts.WAIVE_OPENED, "updated": texts.WAIVE_UPDATED, "unchanged": texts.WAIVE_UNCHANGED,
                "edited": texts.WAIVE_EDITED}.get(outcome.action, texts.WAIVE_UPDATED)
    return template.format(**fields)


# ============================================================================ the command table

#: every command and the coroutine that runs it (a test checks each CommandName is here)
HANDLERS: dict[CommandName, Handler] = {
    CommandName.HELP: cmd_help,
    CommandName.DISCOVER: cmd_discover,
    CommandName.GENERATE: cmd_generate,
    CommandName.EXPLAIN: cmd_explain,
    CommandName.RULES: cmd_rules,
    CommandName.REBASE: cmd_rebase,
    CommandName.RECREATE: cmd_recreate,
    CommandName.WAIVE: cmd_waive,
    CommandName.PROFILE_SHOW: cmd_profile_show,
    CommandName.GAPS: cmd_gaps,
}

__all__ = ["CommentContext", "HANDLERS", "handle_comment", "render_profile"]
