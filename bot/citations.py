"""The body of every PR the bot opens: what it changes, the policy verdict, and why (DESIGN.md §3).

Sections, in order: summary, proposal details, Policy (verdict and each cited rule with its title and
layer), Blast radius, Rollback, Why these tools (each tool choice with the Profile entry that decided
it), merge notes and conflicts, then the hidden identity marker the pipeline finds its PRs by. The
text lives in the templates below; the functions only fill them. `bot/policy/facts.py` reads the
same headings back from an agent's PR body to check they are still there (TS-CITE-*).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from bot.models import Decision, Proposal, Violation
from bot.pr_identity import input_hash, marker

if TYPE_CHECKING:
    from bot.policy.engine import PolicyEngine
    from bot.profile import Profile

HEADINGS = {
    "proposal": "## Proposal",
    "policy": "## Policy",
    "blast_radius": "## Blast radius",
    "rollback": "## Rollback",
    "why_tools": "## Why these tools",
    "merge_notes": "## Merge notes",
}

VERDICT_LINE = {
    "pass": "**Verdict: pass.** No rule denies or warns about this change.",
    "warn": "**Verdict: pass with warnings.** Nothing is denied; read the warnings below before approving.",
    "deny": "**Verdict: denied.** This change violates the rules below and must not be merged as is.",
}
PROPOSAL_LINE = "- **{kind}** change to `{repo}`: `{head}` → `{base}`"
FILES_LINE = "- Files ({count}):"
FILE_ITEM = "  - {action} `{path}`"
REVISIONS_LINE = "Evaluated {count} rules; bundle revisions: {revisions}."
RULES_TABLE_HEAD = "| Rule | Title | Layer | Result |\n|---|---|---|---|"
RULE_ROW = "| `{id}` | {title} | {layer} | {result} |"
FINDING_ITEM = "- {mark} `{rule}` ({severity}): {msg}"
BECAUSE_ITEM = "  - because: {because}"
TOOLS_TABLE_HEAD = "| Category | Tool | Profile entry | Source | Used in |\n|---|---|---|---|---|"
TOOL_ROW = "| {category} | {tool} | `{ref}` | {source} | {used_in} |"
NOTE_ITEM = "- {mark} `{path}`{key}: {message}"
NOTHING = "_None._"
NO_TOOLS = "_This change makes no tool choice._"
FOOTER = "_Agents propose. Policy decides. Humans approve._ Comment `/trustacks explain RULE` for a rule's text."

RESULT_DENY = "denied: {msg}"
RESULT_WARN = "warning: {msg}"
RESULT_CITED = "cited, satisfied"
RESULT_WAIVED = "waived until {expires} ({approver}): {msg}"
WAIVED_ITEM = ("- 🔓 `{rule}` ({severity}) waived, would have been a {was}: {msg}\n"
               "  - waiver: approved by {approver} for `{repo}` paths `{path}` until {expires}: {reason}")
WAIVED_NOTE = ("{count} pack or overlay violation(s) lifted by signed, unexpired waivers (listed below); "
               "constitution rules are never waived.")
IGNORED_WAIVER_ITEM = "- ⚪ waiver not applied: {text}"


def render_pr_body(
    proposal: Proposal,
    decision: Decision,
    *,
    engine: "PolicyEngine | None",
    profile: "Profile | None",
) -> str:
    """The Markdown body for the proposal's PR, ending with its identity marker."""
    parts = [proposal.summary.strip(), _proposal_section(proposal), _policy_section(proposal, decision, engine),
             _list_section(HEADINGS["blast_radius"], proposal.blast_radius, ordered=False),
             _list_section(HEADINGS["rollback"], proposal.rollback, ordered=True),
             _tools_section(proposal, profile)]
    if proposal.merge_notes:
        parts.append(_notes_section(proposal))
    parts.append(FOOTER)
    digest = proposal.input_hash or input_hash(proposal.kind.value, proposal.repo, [(f.path, f.new) for f in proposal.files])
    parts.append(marker(proposal.kind.value, proposal.repo, digest))
    return "\n\n".join(p for p in parts if p) + "\n"


def cited_rules(proposal: Proposal, decision: Decision) -> list[str]:
    """Rules the proposal cites first, then those the decision names, without repeats."""
    return list(dict.fromkeys([*getattr(proposal, "citations", []), *decision.cited_rules,
                               *(w.violation.rule for w in decision.waived)]))


# --------------------------------------------------------------------------- sections


def _proposal_section(proposal: Proposal) -> str:
    lines = [HEADINGS["proposal"], PROPOSAL_LINE.format(kind=proposal.kind.value, repo=proposal.repo,
                                                       head=proposal.head_branch, base=proposal.base_branch)]
    lines.append(FILES_LINE.format(count=len(proposal.files)))
    lines += [FILE_ITEM.format(action=f.action, path=f.path) for f in proposal.files]
    if proposal.details.strip():
        lines += ["", proposal.details.strip()]
    return "\n".join(lines)


def _policy_section(proposal: Proposal, decision: Decision, engine: "PolicyEngine | None") -> str:
    lines = [HEADINGS["policy"], VERDICT_LINE[decision.verdict], ""]
    if decision.waived:
        lines[-1:] = [WAIVED_NOTE.format(count=len(decision.waived)), ""]
    by_rule: dict[str, list[tuple[str, Violation]]] = {}
    for effect, items in (("deny", decision.deny), ("warn", decision.warn)):
        for v in items:
            by_rule.setdefault(v.rule, []).append((effect, v))
    waived_by_rule: dict[str, Any] = {}
    for w in decision.waived:
        waived_by_rule.setdefault(w.violation.rule, w)
    rules = cited_rules(proposal, decision)
    if rules:
        lines.append(RULES_TABLE_HEAD)
        for rule_id in rules:
            title, layer = _describe(rule_id, engine, by_rule)
            found = by_rule.get(rule_id, [])
            if found:
                result = "; ".join(
                    (RESULT_DENY if effect == "deny" else RESULT_WARN).format(msg=_cell(v.msg)) for effect, v in found[:3]
                ) + (f" (+{len(found) - 3} more)" if len(found) > 3 else "")
            elif rule_id in waived_by_rule:
                w = waived_by_rule[rule_id]
                result = RESULT_WAIVED.format(expires=w.waiver.get("expires", "?"), approver=_cell(w.waiver.get("approver", "?")),
                                              msg=_cell(w.violation.msg))
            else:
                result = RESULT_CITED
            lines.append(RULE_ROW.format(id=rule_id, title=_cell(title), layer=layer, result=result))
        lines.append("")
    for effect, items in (("deny", decision.deny), ("warn", decision.warn)):
        for v in items:
            lines.append(FINDING_ITEM.format(mark="❌" if effect == "deny" else "⚠️", rule=v.rule, severity=v.severity, msg=v.msg))
            lines += [BECAUSE_ITEM.format(because=b) for b in v.because]
    for w in decision.waived:
        v = w.violation
        lines.append(WAIVED_ITEM.format(rule=v.rule, severity=v.severity, was=w.was, msg=v.msg,
                                        **{k: w.waiver.get(k, "?") for k in ("approver", "repo", "path", "expires", "reason")}))
    lines += [IGNORED_WAIVER_ITEM.format(text=t) for t in decision.waivers_ignored]
    if decision.bundle_revisions or decision.rules_evaluated:
        revs = ", ".join(f"{k} `{v}`" for k, v in sorted(decision.bundle_revisions.items())) or "n/a"
        if lines[-1]:
            lines.append("")
        lines.append(REVISIONS_LINE.format(count=len(decision.rules_evaluated), revisions=revs))
    return "\n".join(lines).rstrip()


def _describe(rule_id: str, engine: "PolicyEngine | None", found: dict[str, list[tuple[str, Violation]]]) -> tuple[str, str]:
    if engine is not None:
        try:
            meta = engine.rule(rule_id)
            return meta.title, meta.layer_label
        except KeyError:
            pass
    hits = found.get(rule_id)
    return ("(unknown rule)", hits[0][1].layer if hits else "?")


def _list_section(heading: str, items: Iterable[str], *, ordered: bool) -> str:
    items = [i for i in items if i.strip()]
    if not items:
        return f"{heading}\n{NOTHING}"
    body = [f"{n}. {i}" if ordered else f"- {i}" for n, i in enumerate(items, 1)]
    return "\n".join([heading, *body])


def _tools_section(proposal: Proposal, profile: "Profile | None") -> str:
    if not proposal.tool_choices:
        return f"{HEADINGS['why_tools']}\n{NO_TOOLS}"
    lines = [HEADINGS["why_tools"], TOOLS_TABLE_HEAD]
    used: dict[tuple[str, str, str], list[str]] = {}
    for tc in proposal.tool_choices:
        used.setdefault((tc.category, tc.tool, tc.profile_ref), [])
        if tc.path and tc.path not in used[(tc.category, tc.tool, tc.profile_ref)]:
            used[(tc.category, tc.tool, tc.profile_ref)].append(tc.path)
    for (category, tool, ref), paths in used.items():
        lines.append(TOOL_ROW.format(category=category, tool=_display(category, tool), ref=ref,
                                     source=_source(profile, category, tool), used_in=", ".join(f"`{p}`" for p in paths) or "—"))
    return "\n".join(lines)


def _display(category: str, tool: str) -> str:
    from bot.catalog import display_name

    return display_name(category, tool)


def _source(profile: "Profile | None", category: str, tool: str) -> str:
    if profile is None:
        return "—"
    try:
        entry = next((e for e in profile.tools(category) if e.tool == tool), None)
    except KeyError:
        return "—"
    if entry is None:
        return "—"
    evidence = f" ({_cell(entry.evidence[0])})" if entry.evidence else ""
    return f"{entry.source}{evidence}"


def _notes_section(proposal: Proposal) -> str:
    lines = [HEADINGS["merge_notes"]]
    for n in proposal.merge_notes:
        lines.append(NOTE_ITEM.format(mark="⚠️ conflict" if n.conflict else "kept", path=n.path,
                                      key=f" `{n.key}`" if n.key else "", message=n.message))
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
