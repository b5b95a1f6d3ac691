"""Gap Analysis Report: rules the Profile's tooling cannot satisfy, by category and pack."""

from __future__ import annotations

import json

from bot.policy.gaps import gap_report

from .conftest import make_profile


def test_complete_profile_has_no_gaps(engine_all):
    report = gap_report(make_profile(), engine_all)
    assert report.gaps == []
    assert "No gaps" in report.to_markdown()


def test_missing_category_and_incapable_tool(engine_all):
    profile = make_profile(observability=False)
    profile.set_tools("sbom_signing", [{"tool": "syft", "source": "discovered"}])
    report = gap_report(profile, engine_all)
    by_cat = report.by_category()
    assert {g.rule for g in by_cat["observability"]} == {"SOC2-CC7.2-001", "HIPAA-164.312b-001", "PCI-10.2-001"}
    assert {g.rule for g in by_cat["sbom_signing"]} == {"TS-SUPPLY-002", "TS-SUPPLY-003"}
    signing = next(g for g in by_cat["sbom_signing"] if g.rule == "TS-SUPPLY-002")
    assert signing.reasons == ("the Profile's sbom_signing tools (syft) include none of cosign, sigstore (needed for artifact signing)",)
    assert list(report.by_pack()) == ["constitution", "packs/hipaa", "packs/pci", "packs/soc2"]


def test_rego_only_constraints_and_required_categories(engine_all):
    profile = make_profile(registry=False, image_scanning=True)
    profile.set_tools("image_scanning", [{"tool": "trivy", "source": "discovered"}])
    report = gap_report(profile, engine_all)
    rules = {(g.rule, g.category) for g in report.gaps}
    assert ("FEDRAMP-RA5-001", "image_scanning") in rules  # only Rego knows about settings.fips
    assert ("TS-PROF-002", "registry") in rules and ("FEDRAMP-SA9.5-001", "registry") in rules
    required = next(g for g in report.gaps if g.rule == "TS-PROF-002")
    assert "set by constitution" in required.reasons[0]


def test_markdown_and_json(engine_all):
    report = gap_report(make_profile(ticketing=False), engine_all)
    md = report.to_markdown()
    assert md.startswith("# Gap Analysis Report") and "### ticketing" in md and "| packs/itil | `ITIL-CHG-002` | low |" in md
    doc = json.loads(report.to_json())
    assert doc["by_category"] == {"ticketing": ["ITIL-CHG-002"]}
    assert doc["gaps"][0]["remediation"] and doc["rules_checked"] == len(engine_all.rules())
