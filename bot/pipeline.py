"""discover -> profile -> generate -> merge -> policy -> forge: the bot's one flow, forge-neutral.

The handlers, the slash commands and `trustacks demo` all call these functions; none of them talks
HTTP itself (the `Forge` does). Each step is idempotent: re-running a proposal updates its existing PR,
an unchanged proposal writes nothing, and a branch a human has pushed to is never rewritten.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

from bot.forges.base import Forge, NotFoundError
from bot.models import (
    BRANCH_PREFIX,
    ChangeRequest,
    CheckConclusion,
    Decision,
    FileChange,
    MergeNote,
    Proposal,
    ProposalKind,
    Service,
    ToolChoice,
)
from bot.pr_identity import Identity, input_hash, parse_marker, with_marker
from bot.profile import PROFILE_PATH, Profile, ProfileError

log = logging.getLogger(__name__)

#: the rules each proposal serves, cited in its PR body (TS-CITE-001)
PROFILE_RULES = ("TS-PROF-001", "TS-PROF-002")
ARTIFACT_RULES: dict[str, tuple[str, ...]] = {
    "ci": ("TS-SUPPLY-001", "TS-SUPPLY-002", "TS-SUPPLY-003", "TS-SUPPLY-004", "TS-CRED-001", "TS-CRED-002"),
    "docker": ("TS-CRED-001",),
    "helm": ("TS-CRED-003",),
    "kustomize": ("TS-CRED-003",),
    "argocd": ("TS-PROC-001",),
}
GENERATION_RULES = ("TS-CITE-003",)

#: the slash commands that apply to each kind of bot PR, at the end of its body
COMMANDS_SECTION = {
    "profile": (
        "<details><summary>Commands</summary>\n\n"
        "- `/trustacks discover`: re-run discovery and update this PR\n"
        "- `/trustacks profile show`: the proposed Profile as a table\n"
        "- `/trustacks gaps`: required tooling the Profile does not name yet\n"
        "- `/trustacks explain [RULE]`: why the verdict, with the rule's text\n"
        "- Close this PR unmerged to opt these repos out; `/trustacks discover` or reopening opts in again.\n"
        "</details>"
    ),
    "generate": (
        "<details><summary>Commands</summary>\n\n"
        "- `/trustacks rebase`: rebuild this branch on the current base (read-and-preserve)\n"
        "- `/trustacks recreate`: discard this branch, including any edits, and regenerate\n"
        "- `/trustacks generate [ci|docker|helm|kustomize|argocd|all]`: regenerate\n"
        "- `/trustacks explain [RULE]` · `/trustacks rules` · `/trustacks waive RULE --until DATE --reason TEXT`\n"
        "</details>"
    ),
    "waiver": (
        "<details><summary>Commands</summary>\n\n"
        "- `/trustacks explain [RULE]`: the rule this waiver would relax and why\n"
        "- A human approver signs the waiver before merging; unsigned waivers are ignored.\n"
        "</details>"
    ),
}

EDITED_COMMENT = (
    "You edited this branch, so I stopped updating it. I will keep this description current, but I will not "
    "push to `{branch}` again. Comment `/trustacks recreate` to discard your edits and regenerate."
)


@dataclass
class Flow:
    """What one run of the flow needs: the forge, the policy engine and the org's choices."""

    forge: Forge
    policy: "object"  # bot.policy.PolicyEngine (kept loose so the pipeline imports without it)
    platform_repo: str
    #: author/committer emails (globs) of other automation whose commits do not count as human edits
    ignore_emails: Sequence[str] = ()
    progress: Callable[[str], None] = lambda msg: None
    #: bot.audit.AuditLog: every decision is appended to the hash-chained log when set
    audit: "object | None" = None
    actor: str = "trustacks[bot]"
    delivery_id: str = ""
    #: bot.orgconfig.OrgConfig in force for this org (defaults when None)
    org_config: "object | None" = None
    #: bot.limits.NoiseLimiter: new generation PRs beyond the limits are held back, listed, opened later
    limiter: "object | None" = None
    #: bot.allowlist.RepoFilter (TRUSTACKS_REPOS): repos it denies get no proposal, even when the Profile names them
    repo_filter: "object | None" = None
    #: trusted waiver approvers' public keys (TRUSTACKS_WAIVER_KEYS_DIR); a waiver signed by anyone else is ignored
    waiver_keys: Mapping[str, bytes] = field(default_factory=dict)

    def allows(self, repo: str) -> bool:
        """False for a repo TRUSTACKS_REPOS denies: nothing is read for or proposed to it."""
        return self.repo_filter is None or bool(self.repo_filter.allows(repo))  # type: ignore[attr-defined]

    def config_for(self, repo: str):  # -> bot.orgconfig.EffectiveConfig
        from bot.orgconfig import OrgConfig

        org = self.org_config or OrgConfig.default()
        return org.for_repo(repo, force_dry_run=bool(getattr(self.forge, "dry_run", False)))  # type: ignore[attr-defined]


@dataclass
class Outcome:
    """What happened to one proposal."""

    proposal: Proposal
    decision: Decision
    action: str  # opened | updated | unchanged | denied | edited | held | empty
    change_request: ChangeRequest | None = None
    body: str = ""
    notes: list[str] = field(default_factory=list)


# ====================================================================== reading


async def load_profile(forge: Forge, platform_repo: str, *, ref: str | None = None) -> Profile | None:
    """The Profile on the platform repo's default branch (or `ref`); None when there is none yet."""
    data = await forge.read_file(platform_repo, PROFILE_PATH, ref=ref)
    if data is None:
        return None
    return Profile.loads(data, path=f"{platform_repo}:{PROFILE_PATH}")


async def discover_repo(forge: Forge, repo: str, *, ref: str | None = None):  # -> DiscoveryResult
    from bot.discovery import discover

    tree = await forge.read_tree(repo, ref=ref)
    return discover(tree, repo=repo)


# ====================================================================== building proposals


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def profile_branch(platform_repo: str) -> str:
    return f"{BRANCH_PREFIX}profile/{slug(platform_repo)}"


def generate_branch(repo: str, service: str = "") -> str:
    """One generation branch per repo, or per service when the org config groups per service."""
    return f"{BRANCH_PREFIX}generate/{slug(repo)}" + (f"/{slug(service)}" if service else "")


async def propose_profile(flow: Flow, results: Sequence[object]) -> Proposal | None:
    """A Profile PR proposal from discovery results, or None when the Profile already matches."""
    from bot.discovery import profile_diff

    forge = flow.forge
    base = await forge.default_branch(flow.platform_repo)
    current_text = await forge.read_file(flow.platform_repo, PROFILE_PATH)
    current = None
    if current_text is not None:
        current = Profile.loads(current_text, path=f"{flow.platform_repo}:{PROFILE_PATH}")
    diff = profile_diff(current, list(results), platform_repo=flow.platform_repo)
    if diff.is_empty:
        return None
    new_profile = diff.apply(current)
    new_text = new_profile.dumps()
    old = current_text.decode("utf-8") if current_text is not None else None
    if new_text == old:
        return None
    repos = sorted({r.repo for r in results})
    services = [s.name for r in results for s in r.services]
    proposal = Proposal(
        kind=ProposalKind.PROFILE,
        repo=flow.platform_repo,
        base_branch=base,
        head_branch=profile_branch(flow.platform_repo),
        title=("Create" if old is None else "Update") + " the TruStacks Environment Profile",
        summary=(
            f"Discovery read {', '.join(repos)} and proposes "
            f"{'a new' if old is None else 'an updated'} Environment Profile (`{PROFILE_PATH}`). "
            "Nothing else happens in these repos until a human merges this PR; closing it unmerged opts them out."
        ),
        files=[FileChange(path=PROFILE_PATH, new=new_text, old=old)],
        blast_radius=[f"file: {PROFILE_PATH} in {flow.platform_repo}",
                      f"repos: {', '.join(repos)}", f"services: {', '.join(services) or 'none'}",
                      "environments: none directly (generation PRs follow after merge, each reviewed)"],
        rollback=["Revert this PR: the previous Profile is restored and the bot proposes nothing new from it.",
                  "Already-opened generation PRs stay open for review; close them to discard."],
        details=diff.to_markdown(),
        citations=list(PROFILE_RULES),
    )
    proposal.tool_choices = [
        ToolChoice(category=e.category, tool=e.tool, profile_ref=e.ref, path=PROFILE_PATH)
        for cat in _categories() for e in new_profile.tools(cat)
    ]
    proposal.input_hash = input_hash("profile", flow.platform_repo, new_text)
    return proposal


def _categories() -> tuple[str, ...]:
    from bot.catalog import CATEGORY_NAMES

    return CATEGORY_NAMES


async def propose_generation(
    flow: Flow, profile: Profile, *, services: Sequence[str] | None = None, only: set[str] | None = None
) -> tuple[list[Proposal], list[object]]:
    """Generation proposals (one per target repo), read-and-preserve merged. Returns (proposals, gaps)."""
    from bot.generate import generate
    from bot.merge import LOCK_PATH, GeneratedLock, merge_file

    forge = flow.forge
    by_repo: dict[tuple[str, str], list[tuple[Service, object]]] = {}
    gaps: list[object] = []
    for service in profile.services():
        if services and service.name not in services:
            continue
        result = generate(profile, service, only=only)
        gaps.extend(result.gaps)
        for gen in result.files:
            if gen.target == "app":
                repo = service.repo
                in_root = gen.root_relative or service.path in ("", ".")
                path = gen.path if in_root else f"{service.path.rstrip('/')}/{gen.path}"
            else:
                repo = profile.platform_repo
                path = gen.path
            group = service.name if flow.config_for(repo).grouping.value == "per-service" else ""
            by_repo.setdefault((repo, group), []).append((service, _Placed(path=path, gen=gen)))

    proposals = []
    for (repo, group), placed in sorted(by_repo.items()):
        if not flow.allows(repo):
            log.info("not generating for %s: not allowed by TRUSTACKS_REPOS", repo)
            continue
        cfg = flow.config_for(repo)
        base = await forge.default_branch(repo)
        lock_text = await forge.read_file(repo, LOCK_PATH)
        lock = GeneratedLock.loads(lock_text.decode("utf-8") if lock_text is not None else None)
        files: list[FileChange] = []
        notes: list[MergeNote] = []
        choices: list[ToolChoice] = []
        artifacts: set[str] = set()
        names: list[str] = []
        for service, item in placed:
            gen = item.gen
            if cfg.ignores_path(item.path):
                notes.append(MergeNote(path=item.path, key="", message="not generated: the org config ignores this path"))
                continue
            current_bytes = await forge.read_file(repo, item.path)
            current = current_bytes.decode("utf-8", "replace") if current_bytes is not None else None
            merged = merge_file(item.path, current=current, base=lock.base_for(item.path), generated=gen.content)
            notes.extend(merged.notes)
            notes.extend(merged.conflicts)
            if merged.error:
                notes.append(MergeNote(path=item.path, key="", message=f"not changed: {merged.error}", conflict=True))
                continue
            lock.record(item.path, gen.content, generator=gen.artifact, version=_version())
            choices.extend(ToolChoice(category=c.category, tool=c.tool, profile_ref=c.profile_ref,
                                      path=item.path) for c in gen.tool_choices)
            artifacts.add(gen.artifact)
            if service.name not in names:
                names.append(service.name)
            if merged.changed and merged.content is not None and merged.content != current:
                files.append(FileChange(path=item.path, new=merged.content, old=current))
        if not files:
            continue
        new_lock = lock.dumps()
        old_lock = lock_text.decode("utf-8") if lock_text is not None else None
        if new_lock != old_lock:
            files.append(FileChange(path=LOCK_PATH, new=new_lock, old=old_lock))
        envs = profile.environments if repo == profile.platform_repo else []
        proposal = Proposal(
            kind=ProposalKind.GENERATE,
            repo=repo,
            base_branch=base,
            head_branch=generate_branch(repo, group),
            title=f"TruStacks: {', '.join(sorted(artifacts))} for {', '.join(names)}",
            summary=(
                f"Generated from the merged Environment Profile in `{profile.platform_repo}` for "
                f"{', '.join(names)}: {', '.join(sorted(artifacts))}. Existing files were merged read-and-preserve: "
                "your edits, comments and key order are kept; conflicts are listed below, never overwritten."
            ),
            files=files,
            tool_choices=_dedupe(choices),
            merge_notes=notes,
            blast_radius=[f"repo: {repo}", f"files: {len(files)} ({', '.join(f.path for f in files[:8])}"
                          f"{', ...' if len(files) > 8 else ''})", f"services: {', '.join(names)}",
                          f"environments: {', '.join(envs) if envs else 'none until deployed by GitOps'}"],
            rollback=["Revert this PR; generated files return to their previous content (or are removed).",
                      *(["GitOps: after the revert, Argo CD / Flux syncs the previous revision; to roll back at "
                         "once, sync the Application to the prior commit."] if repo == profile.platform_repo else []),
                      "The lock file `.trustacks/generated.lock` is reverted with it, so the next run merges "
                      "against the previous base."],
        )
        proposal.citations = list(dict.fromkeys(
            [r for a in sorted(artifacts) for r in ARTIFACT_RULES.get(a, ())] + list(GENERATION_RULES)))
        proposal.input_hash = input_hash("generate", repo, [(f.path, f.new) for f in files])
        proposals.append(proposal)
    return proposals, gaps


@dataclass
class _Placed:
    path: str
    gen: object


def _dedupe(choices: list[ToolChoice]) -> list[ToolChoice]:
    seen: dict[tuple[str, str, str, str], ToolChoice] = {}
    for c in choices:
        seen.setdefault((c.category, c.tool, c.profile_ref, c.path), c)
    return list(seen.values())


def _version() -> str:
    from bot import __version__

    return __version__


# ====================================================================== policy and the forge


async def evaluate(flow: Flow, proposal: Proposal, profile: Profile | None) -> Decision:
    """The policy verdict; fails closed (the engine turns its own errors into a denial). Audited.

    Signed, unexpired waivers merged in the platform repo's `.trustacks/waivers.yaml` lift the pack or
    overlay violations they cover (never a constitution rule); the PR body and the audit say so.
    """
    decision: Decision = flow.policy.evaluate(proposal, profile)  # type: ignore[attr-defined]
    decision = await _with_waivers(flow, proposal, decision)
    if flow.audit is not None:
        digest = proposal.input_hash or input_hash(proposal.kind.value, proposal.repo,
                                                   [(f.path, f.new) for f in proposal.files])
        flow.audit.append_decision(  # type: ignore[attr-defined]
            decision, input_digest=digest, actor=flow.actor, delivery_id=flow.delivery_id,
            repo=proposal.repo, subject=proposal.title)
    return decision


async def _with_waivers(flow: Flow, proposal: Proposal, decision: Decision) -> Decision:
    from bot.policy.waivers import WAIVERS_PATH, waive

    if not (decision.deny or decision.warn):
        return decision
    try:
        text = await flow.forge.read_file(flow.platform_repo, WAIVERS_PATH)
    except NotFoundError:
        return decision  # no platform repo yet (onboarding): no waivers
    constitution = [m.id for m in flow.policy.rules(layer="constitution")]  # type: ignore[attr-defined]
    return waive(decision, text, trusted_keys=flow.waiver_keys, constitution_rules=constitution,
                 repo=proposal.repo, paths=[f.path for f in proposal.files])


def render_body(flow: Flow, proposal: Proposal, decision: Decision, profile: Profile | None) -> str:
    from bot.citations import render_pr_body

    body = render_pr_body(proposal, decision, engine=flow.policy, profile=profile)
    body = body.rstrip() + "\n\n" + COMMANDS_SECTION[proposal.kind.value]
    ident = Identity(kind=proposal.kind.value, target=proposal.repo, input_hash=proposal.input_hash)
    return with_marker(body, ident)


async def find_own_pr(forge: Forge, proposal: Proposal) -> ChangeRequest | None:
    """The bot's open PR for this proposal: same head branch and a marker of the same kind and target."""
    for cr in await forge.find_change_requests(proposal.repo, head=proposal.head_branch, state="open"):
        ident = parse_marker(cr.body)
        if ident and ident.kind == proposal.kind.value and cr.author == forge.bot_login:
            return cr
    return None


async def is_edited(flow: Flow, repo: str, branch: str, base: str) -> bool:
    """True when any commit on the bot branch since base was authored or committed by someone else."""
    forge = flow.forge
    if await forge.branch_sha(repo, branch) is None:
        return False
    cfg = flow.config_for(repo)
    for c in await forge.branch_commits(repo, branch, base):
        for email in (c.author_email, c.committer_email):
            # the bot's own address compares exactly; other automation by literal-bracket globs
            # (`renovate[bot]@*`), never fnmatch, whose `[bot]` would be a character class
            if email != forge.bot_email and not cfg.ignores_email(email, extra=flow.ignore_emails):
                return True
    return False


def proposal_key(proposal: Proposal) -> str:
    """Stable identity of a proposal across runs (for held-back bookkeeping): kind, repo, branch."""
    return f"{proposal.kind.value}:{proposal.repo}:{proposal.head_branch}"


async def count_open_bot_prs(forge: Forge, repo: str) -> int:
    return sum(1 for p in await forge.find_change_requests(repo, state="open")
               if p.author == forge.bot_login and p.head.startswith(BRANCH_PREFIX))


async def open_proposal(
    flow: Flow,
    proposal: Proposal,
    decision: Decision,
    *,
    profile: Profile | None,
    recreate: bool = False,
    preadmitted: object | None = None,
) -> Outcome:
    """Ensure the proposal's PR exists and matches: open, update, or leave it; never push to an edited branch."""
    forge = flow.forge
    if not proposal.files:
        return Outcome(proposal, decision, "empty")
    if not decision.allowed:
        return Outcome(proposal, decision, "denied", body=render_body(flow, proposal, decision, profile))
    body = render_body(flow, proposal, decision, profile)
    existing = await find_own_pr(forge, proposal)
    branch = proposal.head_branch
    base_sha = await forge.branch_sha(proposal.repo, proposal.base_branch)
    if base_sha is None:
        raise NotFoundError(f"{proposal.repo}: base branch {proposal.base_branch} does not exist")
    head_sha = await forge.branch_sha(proposal.repo, branch)
    edited = not recreate and await is_edited(flow, proposal.repo, branch, proposal.base_branch)
    if edited:
        if existing is not None:
            if existing.body != body:
                existing = await forge.update_change_request(proposal.repo, existing.number, body=body)
            comments = await forge.list_comments(proposal.repo, existing.number)
            if not any(c.author == forge.bot_login and "You edited this branch" in c.body for c in comments):
                await forge.comment(proposal.repo, existing.number, EDITED_COMMENT.format(branch=branch))
        return Outcome(proposal, decision, "edited", existing, body)

    if existing is not None and not recreate:
        ident = parse_marker(existing.body)
        if ident and ident.input_hash == proposal.input_hash and existing.title == proposal.title \
                and existing.body == body:
            return Outcome(proposal, decision, "unchanged", existing, body)
    admission = None
    key = proposal_key(proposal)
    if existing is None and flow.limiter is not None and proposal.kind is ProposalKind.GENERATE \
            and not getattr(forge, "dry_run", False):
        admission = preadmitted or await flow.limiter.may_open(  # type: ignore[attr-defined]
            proposal.repo, open_bot_prs=await count_open_bot_prs(forge, proposal.repo),
            cfg=flow.config_for(proposal.repo), proposal_key=key)
        if not admission.allowed:
            await flow.limiter.hold(key, proposal.repo, proposal.title, reason=admission.reason)  # type: ignore[attr-defined]
            return Outcome(proposal, decision, "held", body=body, notes=[admission.reason])
    message = f"{proposal.title}\n\n{proposal.summary}\n\nProposed by TruStacks; a human reviews and merges."
    try:
        if head_sha is None:
            await forge.create_branch(proposal.repo, branch, from_ref=base_sha)
            await forge.commit_files(proposal.repo, branch, proposal.files, message=message, parent=base_sha)
        else:
            # The branch holds only the bot's commits. Rebuild it on the current base when asked
            # (recreate, or rebase_when: behind-base); otherwise add a commit on top of it.
            rebuild = recreate or flow.config_for(proposal.repo).rebase_when.value == "behind-base"
            await forge.commit_files(proposal.repo, branch, proposal.files, message=message,
                                     parent=base_sha if rebuild else None)
        # The check goes on the new head before the PR is opened or its marker updated: a crash in between
        # re-runs this block (no PR yet, or a marker naming the old input), so a PR whose marker matches
        # always has its check. Checking after the PR left it without one when a crash fell in between.
        await report_check(forge, proposal.repo, await forge.branch_sha(proposal.repo, branch), decision)
        if existing is None:
            cr = await forge.open_change_request(
                proposal.repo, head=branch, base=proposal.base_branch, title=proposal.title, body=body)
    except BaseException:
        if admission is not None and admission.ticket:
            await flow.limiter.cancel(admission.ticket)  # type: ignore[union-attr]
        raise
    if existing is None:
        if admission is not None:
            await flow.limiter.record_opened(  # type: ignore[union-attr]
                proposal.repo, ticket=admission.ticket, proposal_key=key)
        action = "opened"
    else:
        cr = await forge.update_change_request(proposal.repo, existing.number, title=proposal.title, body=body)
        action = "updated"
    return Outcome(proposal, decision, action, cr, body)


CHECK_NAME = "trustacks/policy"


async def report_check(forge: Forge, repo: str, sha: str | None, decision: Decision) -> None:
    """The verdict as a check run / commit status on `sha`, so branch protection can require it."""
    if not sha:
        return
    lines = [f"Verdict: **{decision.verdict}**"]
    lines += [f"- deny `{v.rule}` ({v.layer}): {v.msg}" for v in decision.deny]
    lines += [f"- warn `{v.rule}` ({v.layer}): {v.msg}" for v in decision.warn]
    if decision.bundle_revisions:
        lines.append("Bundles: " + ", ".join(f"{k} `{v}`" for k, v in sorted(decision.bundle_revisions.items())))
    await forge.set_check(
        repo, sha, name=CHECK_NAME,
        conclusion=CheckConclusion.FAILURE if decision.deny else CheckConclusion.SUCCESS,
        title=f"TruStacks policy: {decision.verdict}", summary="\n".join(lines))


async def report_denial(flow: Flow, outcome: Outcome, *, on_repo: str, number: int) -> None:
    """Tell humans why a proposal was not opened (a comment on the PR that triggered it)."""
    lines = [f"TruStacks did not open **{outcome.proposal.title}**: policy denied it."]
    for v in outcome.decision.deny:
        lines.append(f"- `{v.rule}` ({v.layer}, {v.severity}): {v.msg}")
    lines.append("Fix the Profile or the cited rule's cause, then comment `/trustacks generate` to retry.")
    await flow.forge.comment(on_repo, number, "\n".join(lines))


__all__ = [
    "Flow",
    "Outcome",
    "ProfileError",
    "discover_repo",
    "evaluate",
    "find_own_pr",
    "is_edited",
    "load_profile",
    "open_proposal",
    "propose_generation",
    "propose_profile",
    "report_denial",
]
