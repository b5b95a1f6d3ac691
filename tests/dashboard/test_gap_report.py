"""The Gap Analysis Report as HTML, Markdown and JSON: numbers that agree, candidates, no network, no markup leaks."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.policy.gaps import Gap, gap_report
from bot.reports import build_view, render

from .conftest import complete_profile

XSS = "<script>alert('gap')</script>"


def hostile(report):
    """An overlay rule's text is customer-written: a title, reason and fix carrying markup."""
    gap = Gap(rule="ACME-OVERLAY-001", title=f"Overlay {XSS}", layer="overlay", severity="high", category="ticketing",
              reasons=(f"because {XSS}",), remediation=f"fix <img src=x onerror=alert(1)>")
    return replace(report, gaps=[*report.gaps, gap], profile=f"acme/{XSS}")


def test_chart_counts_agree_with_the_gaps(engine):
    profile = complete_profile(observability=False, ticketing=False)
    report = gap_report(profile, engine)
    view = build_view(report, engine=engine, profile=profile)
    by_cat = {b.label: b for b in view.by_category}
    for category, gaps in report.by_category().items():
        assert by_cat[category].unsatisfiable == len({g.rule for g in gaps})
    assert by_cat["observability"].satisfied == 0 and by_cat["observability"].unsatisfiable == 3
    assert by_cat["registry"].unsatisfiable == 0 and by_cat["registry"].satisfied > 0
    by_layer = {b.label: b for b in view.by_pack}
    for layer, bar in by_layer.items():
        rules = engine.rules(layer="constitution") if layer == "constitution" else engine.rules(pack=layer.split("/", 1)[1])
        assert bar.total == len(rules)
        assert bar.unsatisfiable == len({g.rule for g in report.gaps if g.layer == layer})
    assert sum(b.total for b in view.by_pack) == report.rules_checked


def test_candidates_come_from_the_rule_or_the_catalog_minus_what_is_there(engine):
    profile = complete_profile(observability=False)
    profile.set_tools("sbom_signing", [{"tool": "syft", "source": "discovered"}])
    view = build_view(gap_report(profile, engine), engine=engine, profile=profile)
    rows = {(r.gap.rule, r.gap.category): [c.tool for c in r.candidates] for r in view.rows}
    assert rows[("TS-SUPPLY-002", "sbom_signing")] == ["cosign", "sigstore"]  # the rule names them
    assert "prometheus" in rows[("SOC2-CC7.2-001", "observability")]  # any catalog observability tool
    assert all("syft" not in tools for tools in rows.values())


def test_html_is_self_contained_deterministic_and_escaped(engine):
    profile = complete_profile(observability=False)
    report = hostile(gap_report(profile, engine))
    html = render(report, engine=engine, profile=profile, fmt="html")
    assert html == render(report, engine=engine, profile=profile, fmt="html")  # same data, same bytes
    assert html.count("<svg") == 2 and "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html), "loads something at view time"
    assert 'content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;' in html and "@import" not in html
    assert "&lt;script&gt;alert(&#39;gap&#39;)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert f'<div class="value" id="stat-gaps">{len(report.gaps)}</div>' in html


def test_markdown_and_json_carry_candidates_and_chart(engine):
    profile = complete_profile(ticketing=False)
    report = gap_report(profile, engine)
    md = render(report, engine=engine, profile=profile, fmt="md")
    assert md.startswith("# Gap Analysis Report") and "## Tools that would close each gap" in md
    assert "- `ITIL-CHG-002` (ticketing): " in md and "Jira (`jira`)" in md
    doc = json.loads(render(report, engine=engine, profile=profile, fmt="json"))
    assert doc["by_category"] == {"ticketing": ["ITIL-CHG-002"]}
    assert {"label": "ticketing", "satisfied": 0, "unsatisfiable": 1} in doc["chart"]["by_category"]
    assert doc["candidates"][0]["rule"] == "ITIL-CHG-002" and "jira" in doc["candidates"][0]["tools"]


def test_cli_writes_the_html_report(tmp_path: Path):
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(complete_profile(observability=False).dumps())
    out = tmp_path / "gaps.html"
    result = CliRunner().invoke(cli, ["gaps", "--profile", str(profile_file), "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and 'data-rule="SOC2-CC7.2-001"' in html
