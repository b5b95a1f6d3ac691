"""Gap analysis: the rules the Profile's current tooling cannot satisfy, by category and by pack.

Three sources, merged per (rule, category):
1. each rule's declared `requires` (a tooling category, optionally specific tools) checked against
   the Profile;
2. the effective required categories (constitution plus anything packs and the overlay added),
   reported under TS-PROF-002 with the "because" trail of the layers that required them;
3. the rules themselves, evaluated on a synthetic generation proposal with no files, for the
   rules that declare `requires`: this catches constraints only Rego knows (a scanner not declared
   FIPS-capable, a registry outside the allowed hosts).
The report renders as Markdown (for the dashboard issue and `trustacks gaps`) and as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bot.models import Proposal, ProposalKind, ToolChoice
from bot.policy.rules_meta import RuleMeta, severity_rank

if TYPE_CHECKING:
    from bot.policy.engine import PolicyEngine
    from bot.profile import Profile

REQUIRED_TOOLING_RULE = "TS-PROF-002"

TITLE = "# Gap Analysis Report"
SUMMARY = "Profile `{profile}` · {rules} rules checked · **{count} gap(s)** in {categories} categor(ies)"
REVISIONS = "Policy revisions: {revisions}"
NO_GAPS = "No gaps: every loaded rule can be satisfied by the tools this Profile names."
BY_CATEGORY = "## By category"
BY_PACK = "## By pack"
PACK_TABLE = "| Layer | Rules with gaps | Highest severity |\n|---|---|---|"
PACK_ROW = "| {layer} | {rules} | {severity} |"
GAP_ITEM = "- `{rule}` {title} ({layer}, {severity})"
REASON_ITEM = "  - {reason}"
FIX_ITEM = "  - Fix: {remediation}"
NO_TOOL = "the Profile names no {category} tool (needed for {purpose})"
NO_CAPABLE_TOOL = "the Profile's {category} tools ({have}) include none of {need} (needed for {purpose})"
REQUIRED = "{category} is a required category and the Profile names no tool for it"


@dataclass(frozen=True)
class Gap:
    rule: str
    title: str
    layer: str  # constitution | packs/<name> | overlay
    severity: str
    category: str
    reasons: tuple[str, ...]
    remediation: str


@dataclass
class GapReport:
    profile: str
    gaps: list[Gap] = field(default_factory=list)
    rules_checked: int = 0
    revisions: dict[str, str] = field(default_factory=dict)

    def by_category(self) -> dict[str, list[Gap]]:
        out: dict[str, list[Gap]] = {}
        for g in self.gaps:
            out.setdefault(g.category, []).append(g)
        return dict(sorted(out.items()))

    def by_pack(self) -> dict[str, list[Gap]]:
        out: dict[str, list[Gap]] = {}
        for g in self.gaps:
            out.setdefault(g.layer, []).append(g)
        order = lambda k: (0 if k == "constitution" else 2 if k == "overlay" else 1, k)  # noqa: E731
        return {k: out[k] for k in sorted(out, key=order)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "rules_checked": self.rules_checked,
            "revisions": dict(self.revisions),
            "gaps": [asdict(g) | {"reasons": list(g.reasons)} for g in self.gaps],
            "by_category": {k: sorted({g.rule for g in v}) for k, v in self.by_category().items()},
            "by_pack": {k: sorted({g.rule for g in v}) for k, v in self.by_pack().items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_markdown(self) -> str:
        cats = self.by_category()
        lines = [TITLE, "", SUMMARY.format(profile=self.profile, rules=self.rules_checked, count=len(self.gaps),
                                           categories=len(cats))]
        if self.revisions:
            lines += ["", REVISIONS.format(revisions=", ".join(f"{k} `{v}`" for k, v in sorted(self.revisions.items())))]
        if not self.gaps:
            return "\n".join([*lines, "", NO_GAPS]) + "\n"
        lines += ["", BY_CATEGORY]
        for cat, gaps in cats.items():
            lines += ["", f"### {cat}"]
            for g in gaps:
                lines.append(GAP_ITEM.format(rule=g.rule, title=g.title, layer=g.layer, severity=g.severity))
                lines += [REASON_ITEM.format(reason=r) for r in g.reasons]
                lines.append(FIX_ITEM.format(remediation=g.remediation))
        lines += ["", BY_PACK, "", PACK_TABLE]
        for layer, gaps in self.by_pack().items():
            worst = max((g.severity for g in gaps), key=severity_rank)
            lines.append(PACK_ROW.format(layer=layer, rules=", ".join(f"`{r}`" for r in sorted({g.rule for g in gaps})),
                                         severity=worst))
        return "\n".join(lines) + "\n"


def gap_report(profile: "Profile", engine: "PolicyEngine") -> GapReport:
    """Every rule the Profile's tooling cannot satisfy, with reasons and the fix."""
    from bot.policy.engine import POLICY_ERROR_ID, PolicyError

    found: dict[tuple[str, str], tuple[RuleMeta, list[str]]] = {}

    def add(meta: RuleMeta, category: str, reason: str) -> None:
        _, reasons = found.setdefault((meta.id, category), (meta, []))
        if reason not in reasons:
            reasons.append(reason)

    metas = engine.rules()
    for meta in metas:
        for req in meta.requires:
            try:
                entries = profile.tools(req.category)
            except KeyError:
                add(meta, req.category, f"unknown Profile category {req.category}")
                continue
            purpose = req.purpose or meta.title
            if not entries:
                add(meta, req.category, NO_TOOL.format(category=req.category, purpose=purpose))
            elif req.tools and not any(e.tool in req.tools for e in entries):
                add(meta, req.category, NO_CAPABLE_TOOL.format(
                    category=req.category, have=", ".join(e.tool for e in entries),
                    need=", ".join(req.tools), purpose=purpose))
    try:
        required_meta = engine.rule(REQUIRED_TOOLING_RULE)
    except KeyError:
        required_meta = None
    if required_meta is not None:
        because = list(engine.effective.because.get("required_categories", ()))
        for cat in engine.required_categories:
            try:
                named = bool(profile.tools(cat))
            except KeyError:
                named = False
            if not named:
                add(required_meta, cat, REQUIRED.format(category=cat) + (f" ({'; '.join(because)})" if because else ""))
    tooling_rules = {m.id: m for m in metas if m.requires}
    decision = engine.evaluate(_synthetic_proposal(profile), profile)
    for v in [*decision.deny, *decision.warn]:
        meta = tooling_rules.get(v.rule)
        if meta is not None:
            add(meta, meta.requires[0].category, v.msg)
        elif v.rule == POLICY_ERROR_ID:
            raise PolicyError(v.msg)
    gaps = [
        Gap(rule=m.id, title=m.title, layer=f"packs/{m.pack}" if m.pack else m.layer, severity=m.severity,
            category=cat, reasons=tuple(reasons), remediation=m.remediation)
        for (_, cat), (m, reasons) in found.items()
    ]
    gaps.sort(key=lambda g: (g.category, -severity_rank(g.severity), g.rule))
    return GapReport(profile=profile.platform_repo, gaps=gaps, rules_checked=len(metas), revisions=dict(engine.revisions))


def _synthetic_proposal(profile: "Profile") -> Proposal:
    """A generation proposal with no files that cites every Profile entry: only Profile checks can fire."""
    from bot.catalog import CATEGORY_NAMES

    choices = [ToolChoice(category=c, tool=e.tool, profile_ref=e.ref) for c in CATEGORY_NAMES for e in profile.tools(c)]
    return Proposal(
        kind=ProposalKind.GENERATE,
        repo=profile.platform_repo,
        base_branch="main",
        head_branch="trustacks/gaps/analysis",
        title="gap analysis",
        summary="",
        files=[],
        tool_choices=choices,
        blast_radius=["none: analysis only"],
        rollback=["none: analysis only"],
        citations=[REQUIRED_TOOLING_RULE],
    )
