"""The Rego test suite: every rule has its own tests (at least two), they pass, and the runner can fail."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.policy import PolicyEngine, available_packs, default_rules_dir


def test_every_rego_test_passes(engine_all):
    report = engine_all.run_tests()
    failures = [(r.name, r.error) for r in report.results if not r.passed]
    assert not failures
    assert report.ok and report.passed >= 2 * len(engine_all.rules())


def test_every_rule_has_at_least_two_tests(engine_all):
    report = engine_all.run_tests()
    per_package = Counter(r.name.rsplit(".", 1)[0] for r in report.results)
    for meta in engine_all.rules():
        assert per_package[meta.package] >= 2, f"{meta.id} ({meta.path}) has {per_package[meta.package]} test(s)"


def test_every_rule_file_has_a_test_file_beside_it():
    root = default_rules_dir()
    for f in [*root.glob("constitution/*.rego"), *root.glob("packs/*/*.rego")]:
        if not f.name.endswith("_test.rego"):
            assert f.with_name(f.stem + "_test.rego").is_file(), f"{f} has no tests"


def test_each_rule_has_a_deny_case_and_an_allow_case(engine_all):
    """Test names say which side they check: at least one that passes a change, one that stops it."""
    report = engine_all.run_tests()
    names: dict[str, list[str]] = {}
    for r in report.results:
        pkg, name = r.name.rsplit(".", 1)
        names.setdefault(pkg, []).append(name)
    stop_words = ("denied", "warns", "refused", "blocked")
    for meta in engine_all.rules():
        tests = names[meta.package]
        assert any(any(w in t for w in stop_words) for t in tests), f"{meta.id}: no deny/warn case in {tests}"
        assert any(not any(w in t for w in stop_words) for t in tests), f"{meta.id}: no allow case in {tests}"


def test_runner_reports_a_broken_rule(rules_copy: Path):
    f = rules_copy / "constitution" / "sbom_required.rego"
    f.write_text(f.read_text().replace("count(f.sbom) == 0", "count(f.sbom) == 99"))
    report = PolicyEngine.load(rules_dir=rules_copy, isolate=False).run_tests()
    failed = {r.name for r in report.results if not r.passed}
    assert failed == {"trustacks.constitution.sbom_required.test_push_without_sbom_denied"}
    assert not report.ok
    bad = next(r for r in report.results if not r.passed)
    assert "undefined" in bad.error and bad.file == "constitution/sbom_required_test.rego"


def test_runner_reports_a_test_file_that_does_not_parse(rules_copy: Path):
    (rules_copy / "constitution" / "broken_test.rego").write_text("package trustacks.constitution.x\n\ntest_a if {\n")
    report = PolicyEngine.load(rules_dir=rules_copy, isolate=False).run_tests()
    bad = [r for r in report.results if not r.passed]
    assert len(bad) == 1 and bad[0].file == "constitution/broken_test.rego" and "broken_test.rego:" in bad[0].error


def test_coverage_comes_from_the_engine(engine):
    report = engine.run_tests(coverage=True)
    assert report.coverage is not None
    assert all(not p.endswith("_test.rego") for p in report.coverage)
    assert "constitution/vulnerability_scan.rego" in report.coverage
    covered, missed = report.coverage["constitution/vulnerability_scan.rego"]
    assert covered and not set(covered) & set(missed)
    assert 80.0 <= report.coverage_percent() <= 100.0


def test_packs_are_only_tested_when_loaded(engine, engine_all):
    only_constitution = {r.file.split("/")[0] for r in engine.run_tests().results}
    assert only_constitution == {"constitution"}
    everything = {r.file.split("/")[1] for r in engine_all.run_tests().results if r.file.startswith("packs/")}
    assert everything == set(available_packs())
