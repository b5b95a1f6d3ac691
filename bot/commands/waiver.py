"""The waiver request `/trustacks waive` proposes: a file and a PR in the platform repo. Pure, no I/O.

A comment can never waive anything by itself. The command only *proposes* a waiver file on a
`trustacks/waiver/...` branch; the file carries no approver and no signature, and the policy loader
ignores unsigned waivers (issue #7), so nothing changes until an approver signs it and a human merges
the PR. The reason is stored verbatim in YAML (dumped, never templated) and shown in the PR body in a
form that cannot render Markdown, HTML or mentions.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from ruamel.yaml import YAML

from bot.models import BRANCH_PREFIX, FileChange, Proposal, ProposalKind
from bot.pr_identity import input_hash

WAIVERS_DIR = ".trustacks/waivers"
WAIVER_VERSION = 1
HEADER = (
    "Waiver request proposed by TruStacks from a slash command. It has NO effect until an approver\n"
    "signs it (approver and signature below) and a human merges this file. Unsigned or expired waivers\n"
    "are ignored by the policy engine and reported."
)


@dataclass(frozen=True)
class WaiverRequest:
    rule: str
    repo: str  # the repo the waiver is scoped to
    until: date
    reason: str
    requested_by: str
    requested_in: str  # "owner/repo#12": where the command was commented


def _slug(text: str) -> str:
    from bot.pipeline import slug

    return slug(text)


def waiver_path(rule: str, repo: str) -> str:
    """One file per (rule, repo): a renewed request updates the same file and the same PR."""
    return f"{WAIVERS_DIR}/{rule}--{_slug(repo)}.yaml"


def waiver_branch(rule: str, repo: str) -> str:
    return f"{BRANCH_PREFIX}waiver/{rule.lower()}--{_slug(repo)}"


def render_waiver(req: WaiverRequest) -> str:
    """The waiver file (YAML) for a human approver to complete."""
    from ruamel.yaml.comments import CommentedMap

    doc = CommentedMap()
    doc["version"] = WAIVER_VERSION
    doc["rule"] = req.rule
    doc["scope"] = CommentedMap(repo=req.repo)
    doc["reason"] = req.reason
    doc["expires"] = req.until.isoformat()
    doc["requested_by"] = req.requested_by
    doc["requested_in"] = req.requested_in
    doc["approver"] = None
    doc["signature"] = None
    doc.yaml_set_start_comment(HEADER)
    yaml = YAML(typ="rt")
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def safe_text(value: str) -> str:
    """User text for a PR body: no Markdown code fences, HTML or mention pings survive."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("`", "'").replace("@", "@\u200b")
    )


def waiver_proposal(req: WaiverRequest, *, platform_repo: str, base_branch: str, old: str | None) -> Proposal:
    """The waiver request as a Proposal on the platform repo (policy-gated and opened like any other)."""
    path = waiver_path(req.rule, req.repo)
    content = render_waiver(req)
    details = "\n".join([
        "### Waiver request",
        f"- Rule: `{req.rule}`",
        f"- Scope: `{req.repo}`",
        f"- Expires: {req.until.isoformat()}",
        f"- Requested by: `{req.requested_by}` in `{req.requested_in}`",
        "",
        "Reason given:",
        "",
        f"> {safe_text(req.reason)}",
        "",
        "To approve: an approver reviews the reason, fills in `approver` and signs the file, and a human "
        "merges this PR. To refuse: close it. Until then the rule applies as before.",
    ])
    proposal = Proposal(
        kind=ProposalKind.WAIVER,
        repo=platform_repo,
        base_branch=base_branch,
        head_branch=waiver_branch(req.rule, req.repo),
        title=f"Waive {req.rule} for {req.repo} until {req.until.isoformat()}",
        summary=(
            f"`{req.requested_by}` asked to waive `{req.rule}` for `{req.repo}` until {req.until.isoformat()}. "
            "This PR only proposes the waiver file; it has no effect until an approver signs it and a human merges it."
        ),
        files=[FileChange(path=path, new=content, old=old)],
        blast_radius=[f"file: {path} in {platform_repo}", f"repos: {req.repo}", f"rule: {req.rule}",
                      f"until: {req.until.isoformat()} (the waiver lapses by itself then)"],
        rollback=["Close this PR unmerged: nothing changes.",
                  f"After merge: revert this PR or delete `{path}`; the rule applies again at once."],
        details=details,
    )
    proposal.input_hash = input_hash("waiver", platform_repo, path, content)
    return proposal
