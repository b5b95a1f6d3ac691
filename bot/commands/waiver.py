"""The waiver request `/trustacks waive` proposes: one entry appended to the platform repo's waiver file.

A comment can never waive anything by itself. The command only *proposes* an entry in
`.trustacks/waivers.yaml` (the format `bot.policy.waivers` owns) on a `trustacks/waiver/...` branch.
The entry has no approver and no signature, and `load_waivers` ignores (and reports) such entries, so
nothing changes until an approver fills in their name, signs it with their key, and a human merges
the PR.

Read-and-preserve (DESIGN.md §8): the existing file is never re-dumped. The new entry is appended as
text after the last one, indented like the others, and the result is re-read to prove it holds exactly
the old entries plus the new one; when that cannot be done safely, the command says so and shows the
entry to add by hand. Pure: text in, text out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bot.models import BRANCH_PREFIX, FileChange, Proposal, ProposalKind
from bot.policy.waivers import WAIVERS_PATH, Waiver, WaiverError, read_entries
from bot.pr_identity import input_hash

HEADER = (
    "# Waivers for pack and overlay rules (never constitution rules). Each entry applies only once an\n"
    "# approver has filled in `approver` and signed it with their key, and only until `expires`.\n"
    "# Unsigned, wrongly signed or expired entries are ignored and reported.\n"
)


@dataclass(frozen=True)
class WaiverRequest:
    rule: str
    repo: str  # the repo the waiver is scoped to
    until: date
    reason: str
    requested_by: str
    requested_in: str  # "owner/repo#12": where the command was commented


@dataclass(frozen=True)
class WaiverEdit:
    """The new file text, or why it could not be made (`problem`), plus the entry text for a human."""

    content: str | None
    entry: str
    problem: str = ""
    existing_expiry: str = ""


def _slug(text: str) -> str:
    from bot.pipeline import slug

    return slug(text)


def waiver_branch(rule: str, repo: str) -> str:
    """One branch per (rule, repo): asking again updates the same PR."""
    return f"{BRANCH_PREFIX}waiver/{rule.lower()}--{_slug(repo)}"


def entry_text(req: WaiverRequest, *, indent: int = 2) -> str:
    """The YAML of one list item (dash at column `indent`), with who asked for it as comments."""
    waiver = Waiver(rule=req.rule, repo=req.repo, reason=req.reason, approver="", expires=req.until)
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump([waiver.as_entry()], buf)
    lines = [
        f"# requested by {_comment_safe(req.requested_by)} in {_comment_safe(req.requested_in)}; "
        "an approver fills in `approver` and signs",
        *buf.getvalue().rstrip("\n").split("\n"),
    ]
    pad = " " * indent
    return "".join(f"{pad}{line}\n" for line in lines)


def _comment_safe(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable() and ch not in "\r\n")[:200]


def add_waiver(existing: str | None, req: WaiverRequest) -> WaiverEdit:
    """The waiver file with `req` appended (read-and-preserve), or the reason it cannot be done."""
    if existing is None:
        entry = entry_text(req, indent=2)
        return WaiverEdit(content=HEADER + "waivers:\n" + entry, entry=entry)
    snippet = entry_text(req, indent=2)
    try:
        entries = read_entries(existing)
    except WaiverError as exc:
        return WaiverEdit(None, snippet, problem=f"`{WAIVERS_PATH}` cannot be read ({exc})")
    for _line, item in entries:
        if isinstance(item, Mapping) and item.get("rule") == req.rule and _scope_repo(item) == req.repo:
            return WaiverEdit(None, snippet, problem="exists", existing_expiry=str(item.get("expires", "")))
    doc = YAML(typ="rt").load(existing)
    newline = "\r\n" if "\r\n" in existing else "\n"  # keep the file's line endings
    text = existing if existing.endswith("\n") or not existing else existing + newline
    if doc is None:  # only comments: start the list after them
        entry = entry_text(req, indent=2).replace("\n", newline)
        content = text + "waivers:" + newline + entry
    else:
        seq = doc.get("waivers") if isinstance(doc, CommentedMap) else None
        last_key = list(doc.keys())[-1] if isinstance(doc, CommentedMap) and doc else None
        if not isinstance(seq, CommentedSeq) or not seq or last_key != "waivers" or seq.fa.flow_style():
            return WaiverEdit(None, snippet, problem=f"`{WAIVERS_PATH}` is not laid out so an entry can be "
                                                    "appended without rewriting it")
        indent = _dash_column(existing, seq)
        if indent is None:
            return WaiverEdit(None, snippet, problem=f"`{WAIVERS_PATH}` could not be appended to safely")
        entry = entry_text(req, indent=indent).replace("\n", newline)
        content = text + entry
    if not _appended_exactly(existing, content, req):
        return WaiverEdit(None, snippet, problem=f"`{WAIVERS_PATH}` could not be appended to safely")
    return WaiverEdit(content=content, entry=entry)


def _scope_repo(item: Mapping[str, Any]) -> str | None:
    scope = item.get("scope")
    return scope.get("repo") if isinstance(scope, Mapping) else None


def _dash_column(text: str, seq: CommentedSeq) -> int | None:
    """Column of the `-` of the list's last item, from the parser's positions."""
    try:
        line, col = seq.lc.item(len(seq) - 1)
    except (AttributeError, KeyError, TypeError):
        return None
    lines = text.splitlines()
    if line >= len(lines):
        return None
    dash = lines[line].rfind("-", 0, col + 1)
    if dash < 0 or lines[line][:dash].strip():
        return None
    return dash


def _appended_exactly(old: str, new: str, req: WaiverRequest) -> bool:
    """Re-read both: the new file must hold the old entries unchanged plus exactly the requested one."""
    try:
        before = [item for _, item in read_entries(old)]
        after = [item for _, item in read_entries(new)]
    except (WaiverError, YAMLError):
        return False
    if len(after) != len(before) + 1 or after[:-1] != before:
        return False
    last = after[-1]
    return (isinstance(last, Mapping) and last.get("rule") == req.rule and _scope_repo(last) == req.repo
            and last.get("reason") == req.reason and str(last.get("expires")) == req.until.isoformat())


def safe_text(value: str) -> str:
    """User text for a PR body: no Markdown code, HTML or mention pings survive."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("`", "'").replace("@", "@\u200b")
    )


def waiver_proposal(req: WaiverRequest, *, platform_repo: str, base_branch: str, old: str | None,
                    content: str) -> Proposal:
    """The waiver request as a Proposal on the platform repo (policy-gated and opened like any other)."""
    until = req.until.isoformat()
    details = "\n".join([
        "### Waiver request",
        f"- Rule: `{req.rule}`",
        f"- Scope: `{req.repo}` (all paths)",
        f"- Expires: {until}",
        f"- Requested by: `{req.requested_by}` in `{req.requested_in}`",
        "",
        "Reason given:",
        "",
        f"> {safe_text(req.reason)}",
        "",
        "To approve: an approver other than the requester reviews the reason, signs the entry with their key "
        f"(`trustacks waiver sign --rule {req.rule} --repo {req.repo} --expires {until} --approver NAME "
        "--key KEY --reason ...` with the reason above), replaces the unsigned entry with the signed one on this "
        "branch, and a human merges this PR. To refuse: close it. Until then the rule applies.",
    ])
    proposal = Proposal(
        kind=ProposalKind.WAIVER,
        repo=platform_repo,
        base_branch=base_branch,
        head_branch=waiver_branch(req.rule, req.repo),
        title=f"Waive {req.rule} for {req.repo} until {until}",
        summary=(
            f"`{req.requested_by}` asked to waive `{req.rule}` for `{req.repo}` until {until}. This PR only "
            "proposes an unsigned waiver entry; it has no effect until an approver signs it and a human merges it."
        ),
        files=[FileChange(path=WAIVERS_PATH, new=content, old=old)],
        blast_radius=[f"file: {WAIVERS_PATH} in {platform_repo}", f"repos: {req.repo}", f"rule: {req.rule}",
                      f"until: {until} (the waiver lapses by itself then)"],
        rollback=["Close this PR unmerged: nothing changes.",
                  f"After merge: revert this PR or delete the entry from `{WAIVERS_PATH}`; the rule applies again."],
        details=details,
    )
    proposal.input_hash = input_hash("waiver", platform_repo, WAIVERS_PATH, content)
    return proposal
