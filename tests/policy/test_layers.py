"""Strictest wins across layers: parameters merge by fixed rules, packs and the overlay only tighten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.policy import OverlayRejected, PolicyEngine
from bot.policy.params import LayerParams, ParamsError, check_params, merge_params

from .conftest import GOOD_WORKFLOW, make_profile, make_proposal

CRITICAL_ONLY = GOOD_WORKFLOW.replace("severity: HIGH,CRITICAL", "severity: CRITICAL")


def _layers(*pairs: tuple[str, dict]) -> list[LayerParams]:
    return [LayerParams(layer=name, values=check_params(values, where=name)) for name, values in pairs]


def test_merge_rules_per_parameter():
    eff = merge_params(_layers(
        ("constitution", {"vuln_fail_at": "critical", "min_approvals": 1, "required_categories": ["ci"],
                          "allowed_registries": ["a", "b", "c"]}),
        ("packs/pci", {"vuln_fail_at": "high", "required_categories": ["registry"], "allowed_registries": ["a", "b"]}),
        ("overlay", {"vuln_fail_at": "critical", "min_approvals": 2, "allowed_registries": ["b", "z"]}),
    ))
    assert eff.values == {"vuln_fail_at": "high", "min_approvals": 2, "required_categories": ["ci", "registry"],
                          "allowed_registries": ["b"]}
    assert eff.because["vuln_fail_at"] == ("vuln_fail_at=critical set by constitution",
                                           "vuln_fail_at=high tightened by packs/pci",
                                           "overlay asked for vuln_fail_at=critical: looser, ignored")
    assert eff.to_data()["params"]["vuln_fail_at_rank"] == 3


@pytest.mark.parametrize("raw, fragment", [
    ({"vuln_fail_at": "extreme"}, "must be one of"),
    ({"min_approvals": -1}, "non-negative integer"),
    ({"min_approvals": True}, "non-negative integer"),
    ({"required_categories": "ci"}, "must be a list of str"),
    ({"max_fun": 3}, "unknown parameter 'max_fun'"),
])
def test_bad_params_refused(raw, fragment):
    with pytest.raises(ParamsError, match=fragment):
        check_params(raw, where="params.json")


def test_pci_lowers_the_vulnerability_threshold(engine, engine_all, profile):
    """A scan failing only on critical passes the constitution floor; PCI requires high."""
    proposal = make_proposal(files={".github/workflows/build.yml": CRITICAL_ONLY})
    assert engine.evaluate(proposal, profile).allowed
    pci = PolicyEngine.load(packs=("pci",), isolate=False)
    decision = pci.evaluate(proposal, profile)
    assert [v.rule for v in decision.deny] == ["TS-SUPPLY-004"]
    assert "fails only at critical; policy requires failing at high or lower" in decision.deny[0].msg
    assert "vuln_fail_at=high tightened by packs/pci" in decision.deny[0].because


def _overlay(tmp_path: Path, params: dict, rules: dict[str, str] | None = None) -> Path:
    d = tmp_path / "overlay"
    d.mkdir()
    (d / "params.json").write_text(json.dumps(params))
    for name, text in (rules or {}).items():
        (d / name).write_text(text)
    return d


def test_overlay_cannot_loosen_a_parameter(tmp_path, profile):
    overlay = _overlay(tmp_path, {"vuln_fail_at": "critical"})
    with pytest.raises(OverlayRejected, match=r"looser-parameter.*vuln_fail_at") as info:
        PolicyEngine.load(packs=("pci",), overlay_dir=overlay, isolate=False)
    assert not info.value.report.ok
    # behind the linter, the engine's strictest-wins merge holds the line on its own
    engine = PolicyEngine.load(packs=("pci",), overlay_dir=overlay, isolate=False, lint_overlay=False)
    assert engine.effective.values["vuln_fail_at"] == "high"
    proposal = make_proposal(files={".github/workflows/build.yml": CRITICAL_ONLY})
    assert [v.rule for v in engine.evaluate(proposal, profile).deny] == ["TS-SUPPLY-004"]


def test_overlay_adds_a_required_category(tmp_path):
    engine = PolicyEngine.load(overlay_dir=_overlay(tmp_path, {"required_categories": ["compliance_evidence"]}), isolate=False)
    decision = engine.evaluate(make_proposal(), make_profile(compliance_evidence=False))
    assert [v.msg for v in decision.deny] == ["the Profile names no tool for required category compliance_evidence"]
    assert "required_categories=[compliance_evidence, ...]" not in decision.deny[0].because
    assert any("tightened by overlay" in b for b in decision.deny[0].because)
    assert "compliance_evidence" in decision.required_tooling


def test_escalate_turns_a_warning_into_a_denial(tmp_path):
    profile = make_profile()
    wf = GOOD_WORKFLOW.replace("permissions:\n  contents: read\n  packages: write\n  id-token: write\n", "")
    proposal = make_proposal(files={".github/workflows/build.yml": wf})
    plain = PolicyEngine.load(packs=("soc2",), isolate=False).evaluate(proposal, profile)
    assert [v.rule for v in plain.warn] == ["TS-CRED-002", "SOC2-CC6.1-002"] and plain.allowed
    strict = PolicyEngine.load(packs=("soc2",), overlay_dir=_overlay(tmp_path, {"escalate": ["SOC2-CC6.1-002"]}),
                               isolate=False).evaluate(proposal, profile)
    assert [v.rule for v in strict.deny] == ["SOC2-CC6.1-002"]
    assert strict.deny[0].because[-1] == "escalated from warn to deny by overlay"
    assert [v.rule for v in strict.warn] == ["TS-CRED-002"]


def test_deny_and_warn_are_ordered_by_severity(engine_all):
    from bot.models import ProposalKind

    decision = engine_all.evaluate(make_proposal(kind=ProposalKind.GENERATE, citations=[], rollback=[],
                                                 head_branch="feature/x"), make_profile(observability=False))
    severities = [v.severity for v in decision.deny]
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)
    assert {"TS-PROC-003", "TS-CITE-001", "TS-CITE-002", "SOC2-CC7.2-001", "HIPAA-164.312b-001", "PCI-10.2-001"} <= {
        v.rule for v in decision.deny}
