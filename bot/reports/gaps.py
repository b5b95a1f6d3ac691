"""The Gap Analysis Report as a self-contained HTML page, as Markdown and as JSON.

Builds on `bot.policy.gaps.gap_report` (which finds the gaps) and adds what a reader deciding a
tooling budget needs: how many rules each category and each pack can and cannot satisfy with the
tools the Profile names (two charts, drawn server-side by pygal), and for every gap the catalog's
tools that would close it. The HTML loads nothing at view time: CSS and SVG are inline, and its
Content-Security-Policy forbids every fetch and every script.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from bot.catalog import CATEGORIES, CATEGORY_NAMES, display_name
from bot.policy.gaps import REQUIRED_TOOLING_RULE, Gap, GapReport
from bot.reports.charts import stacked_bars
from bot.reports.templating import CSP, html_env

if TYPE_CHECKING:
    from bot.policy.engine import PolicyEngine
    from bot.profile import Profile

FORMATS = ("html", "md", "json")
CANDIDATES_HEADING = "## Tools that would close each gap"
CANDIDATE_ITEM = "- `{rule}` ({category}): {tools}"
NO_CANDIDATE = "no catalog tool; declare the tool you use in the Profile"
CHART_CATEGORY_TITLE = "Rules by Profile category"
CHART_PACK_TITLE = "Rules by policy layer"
SERIES = ("satisfied", "unsatisfiable")


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: rules that the Profile's tools satisfy and rules they cannot."""

    label: str
    satisfied: int
    unsatisfiable: int

    @property
    def total(self) -> int:
        return self.satisfied + self.unsatisfiable


@dataclass(frozen=True)
class Candidate:
    tool: str
    name: str


@dataclass(frozen=True)
class GapRow:
    gap: Gap
    candidates: tuple[Candidate, ...]


@dataclass
class GapView:
    """Everything the three renderers show, computed once."""

    report: GapReport
    by_category: list[Bar] = field(default_factory=list)
    by_pack: list[Bar] = field(default_factory=list)
    rows: list[GapRow] = field(default_factory=list)
    profile_tools: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        doc = self.report.to_dict()
        doc["chart"] = {
            "by_category": [asdict(b) for b in self.by_category],
            "by_pack": [asdict(b) for b in self.by_pack],
        }
        doc["candidates"] = [
            {"rule": r.gap.rule, "category": r.gap.category, "tools": [c.tool for c in r.candidates]} for r in self.rows
        ]
        return doc


def build_view(report: GapReport, *, engine: "PolicyEngine", profile: "Profile") -> GapView:
    """Chart counts per category and per layer, and the tool candidates for each gap."""
    metas = engine.rules()
    unsat_by_cat: dict[str, set[str]] = {}
    for g in report.gaps:
        unsat_by_cat.setdefault(g.category, set()).add(g.rule)
    required = set(engine.required_categories)
    by_category = []
    extra = sorted(set(unsat_by_cat) - set(CATEGORY_NAMES))
    for cat in [*CATEGORY_NAMES, *extra]:
        relevant = {m.id for m in metas if any(r.category == cat for r in m.requires)}
        if cat in required:
            relevant.add(REQUIRED_TOOLING_RULE)
        unsat = unsat_by_cat.get(cat, set())
        relevant |= unsat
        if relevant:
            by_category.append(Bar(cat, len(relevant - unsat), len(unsat)))

    layer_rules: dict[str, set[str]] = {}
    for m in metas:
        layer_rules.setdefault(f"packs/{m.pack}" if m.pack else m.layer, set()).add(m.id)
    unsat_by_layer: dict[str, set[str]] = {}
    for g in report.gaps:
        unsat_by_layer.setdefault(g.layer, set()).add(g.rule)
    order = {"constitution": 0, "overlay": 2}
    by_pack = [
        Bar(layer, len(rules - unsat_by_layer.get(layer, set())), len(rules & unsat_by_layer.get(layer, set())))
        for layer, rules in sorted(layer_rules.items(), key=lambda kv: (order.get(kv[0], 1), kv[0]))
    ]

    profile_tools = {}
    for cat in CATEGORY_NAMES:
        try:
            profile_tools[cat] = [e.tool for e in profile.tools(cat)]
        except KeyError:
            profile_tools[cat] = []
    rows = [GapRow(g, _candidates(g, engine=engine, have=profile_tools.get(g.category, []))) for g in report.gaps]
    return GapView(report=report, by_category=by_category, by_pack=by_pack, rows=rows, profile_tools=profile_tools)


def _candidates(gap: Gap, *, engine: "PolicyEngine", have: Sequence[str]) -> tuple[Candidate, ...]:
    """Tools named by the rule's requirement for this category, else every catalog tool of it, minus those present."""
    tools: tuple[str, ...] = ()
    try:
        meta = engine.rule(gap.rule)
    except KeyError:
        meta = None
    if meta is not None:
        for req in meta.requires:
            if req.category == gap.category and req.tools:
                tools = tuple(req.tools)
                break
    if not tools:
        tools = tuple(CATEGORIES.get(gap.category, {}))
    return tuple(Candidate(t, display_name(gap.category, t)) for t in tools if t not in have)


# ---------------------------------------------------------------------------- renderers


def render_html(view: GapView) -> str:
    report = view.report
    charts = [_chart(chart_id, title, bars) for chart_id, title, bars in (
        ("gaps-by-category", CHART_CATEGORY_TITLE, view.by_category),
        ("gaps-by-layer", CHART_PACK_TITLE, view.by_pack)) if bars]
    from markupsafe import Markup

    template = html_env().get_template("gaps_report.html.j2")
    return template.render(
        csp=CSP,
        report=report,
        view=view,
        categories=len(report.by_category()),
        revisions=sorted(report.revisions.items()),
        charts=[Markup(svg) for svg in charts],  # generated by pygal from escaped data; scripts removed
        display_name=display_name,
    )


def _chart(chart_id: str, title: str, bars: Sequence[Bar]) -> str:
    ordered = list(reversed(bars))  # pygal draws horizontal bars bottom-up; read them top-down like the table
    return stacked_bars(chart_id, title=title, labels=[b.label for b in ordered],
                        series=[(SERIES[0], [b.satisfied for b in ordered]),
                                (SERIES[1], [b.unsatisfiable for b in ordered])])


def render_markdown(view: GapView) -> str:
    lines = [view.report.to_markdown().rstrip(), ""]
    if view.rows:
        lines += [CANDIDATES_HEADING, ""]
        for row in view.rows:
            tools = ", ".join(f"{c.name} (`{c.tool}`)" for c in row.candidates) or NO_CANDIDATE
            lines.append(CANDIDATE_ITEM.format(rule=row.gap.rule, category=row.gap.category, tools=tools))
        lines.append("")
    return "\n".join(lines)


def render_json(view: GapView) -> str:
    return json.dumps(view.to_dict(), indent=2, sort_keys=True) + "\n"


def render(report: GapReport, *, engine: "PolicyEngine", profile: "Profile", fmt: str) -> str:
    """The report in `fmt` (html, md or json)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    view = build_view(report, engine=engine, profile=profile)
    return {"html": render_html, "md": render_markdown, "json": render_json}[fmt](view)
