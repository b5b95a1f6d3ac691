"""Evaluation fails closed: engine errors, timeouts, a dead evaluator or bad input are denials."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from bot.policy import POLICY_ERROR_ID, PolicyEngine

from .conftest import make_proposal

SLOW_RULE = """package trustacks.overlay.slow

import rego.v1

metadata := {"id": "ACME-SLOW-001", "title": "slow", "severity": "low", "description": "d", "remediation": "r"}

deny contains {"rule": "ACME-SLOW-001", "msg": "never"} if {
	input.proposal.kind == "generate"
	n := count([1 | some i in numbers.range(1, 4000); some j in numbers.range(1, 4000); i == j])
	n < 0
}
"""

ERROR_RULE = """package trustacks.overlay.broken

import rego.v1

metadata := {"id": "ACME-BROKEN-001", "title": "broken", "severity": "low", "description": "d", "remediation": "r"}

deny contains {"rule": "ACME-BROKEN-001", "msg": "x"} if {
	json.is_valid(input.proposal.files)
}
"""


def _overlay(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "overlay"
    d.mkdir()
    (d / "rule.rego").write_text(text)
    return d


def _assert_fail_closed(decision, fragment: str) -> None:
    assert not decision.allowed
    assert [v.rule for v in decision.deny] == [POLICY_ERROR_ID]
    assert decision.deny[0].msg.startswith("policy could not be evaluated: ")
    assert fragment in decision.deny[0].msg
    assert "Stack backtrace" not in decision.deny[0].msg and "<unknown>" not in decision.deny[0].msg


def test_engine_error_denies_with_location(tmp_path, profile):
    engine = PolicyEngine.load(overlay_dir=_overlay(tmp_path, ERROR_RULE), isolate=False)
    decision = engine.evaluate(make_proposal(), profile)
    _assert_fail_closed(decision, "overlay/rule.rego:8:")
    assert "json.is_valid" in decision.deny[0].msg


def test_engine_error_in_the_evaluator_process_denies(tmp_path, profile):
    with PolicyEngine.load(overlay_dir=_overlay(tmp_path, ERROR_RULE)) as engine:
        _assert_fail_closed(engine.evaluate(make_proposal(), profile), "overlay/rule.rego:8:")


def test_timeout_denies_within_the_bound_and_the_next_call_works(tmp_path, profile):
    with PolicyEngine.load(overlay_dir=_overlay(tmp_path, SLOW_RULE), timeout_s=0.3) as engine:
        engine.warm()
        t0 = time.monotonic()
        decision = engine.evaluate(make_proposal(), profile)
        elapsed = time.monotonic() - t0
        _assert_fail_closed(decision, "timed out")
        assert elapsed < 5, elapsed
        # a proposal the slow rule does not reach is evaluated by a fresh evaluator
        from bot.models import ProposalKind

        ok = engine.evaluate(make_proposal(kind=ProposalKind.PROFILE, files={}, citations=["TS-PROF-001"], details="d"), profile)
        assert POLICY_ERROR_ID not in {v.rule for v in ok.deny}


def test_killed_evaluator_denies_then_recovers(engine_isolated, profile):
    engine_isolated.warm()
    runner = engine_isolated._runner
    assert runner is not None and runner.pid
    os.kill(runner.pid, signal.SIGKILL)
    time.sleep(0.05)
    _assert_fail_closed(engine_isolated.evaluate(make_proposal(), profile), "exited")
    assert engine_isolated.evaluate(make_proposal(), profile).allowed


def test_extraction_bug_denies(engine, profile, monkeypatch):
    import bot.policy.facts as facts

    def boom(*a, **k):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(facts, "build_input", boom)
    _assert_fail_closed(engine.evaluate(make_proposal(), profile), "facts could not be extracted: ZeroDivisionError")


@pytest.mark.parametrize("doc", [{"x": float("nan")}, {"x": object()}, {"x": "a" * (9 * 1024 * 1024)}])
def test_unserialisable_or_oversized_input_denies(engine, doc):
    assert [v.rule for v in engine.evaluate_input(doc).deny] == [POLICY_ERROR_ID]


def test_malformed_violation_still_denies(tmp_path, profile):
    text = ERROR_RULE.replace("ACME-BROKEN-001", "ACME-ODD-001").replace("broken", "odd").replace(
        'deny contains {"rule": "ACME-ODD-001", "msg": "x"} if {\n\tjson.is_valid(input.proposal.files)\n}',
        'deny contains 42 if input.proposal.kind == "generate"')
    engine = PolicyEngine.load(overlay_dir=_overlay(tmp_path, text), isolate=False)
    decision = engine.evaluate(make_proposal(), profile)
    assert [v.rule for v in decision.deny] == ["ACME-ODD-001"]
    assert "emitted 42" in decision.deny[0].msg


def test_rule_cannot_claim_another_rules_id(tmp_path, profile):
    text = ERROR_RULE.replace("ACME-BROKEN-001\", \"title", "ACME-SPOOF-001\", \"title").replace("broken", "spoof").replace(
        "json.is_valid(input.proposal.files)", 'input.proposal.kind == "generate"').replace(
        '{"rule": "ACME-BROKEN-001", "msg": "x"}', '{"rule": "TS-PROC-001", "msg": "x"}')
    engine = PolicyEngine.load(overlay_dir=_overlay(tmp_path, text), isolate=False)
    decision = engine.evaluate(make_proposal(), profile)
    assert [(v.rule, v.layer) for v in decision.deny] == [("ACME-SPOOF-001", "overlay")]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_evaluator_process_does_not_inherit_the_service_environment(monkeypatch, profile):
    monkeypatch.setenv("TRUSTACKS_WEBHOOK_SECRET", "do-not-leak")
    with PolicyEngine.load() as engine:
        assert engine.evaluate(make_proposal(), profile).allowed
        env = Path(f"/proc/{engine._runner.pid}/environ").read_bytes()
    assert b"do-not-leak" not in env and b"RUST_BACKTRACE=0" in env
