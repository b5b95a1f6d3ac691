"""The ratchet linter: every adversarial overlay is rejected for its trick, every stricter one accepted.

Fixtures live in fixtures/overlays/: `upper/` is a small stable set of upper layers, `bad/<trick>/`
each hold one trick (or a combination) and an `expect.json` naming the violation codes it must
produce, `good/<name>/` are genuinely stricter overlays that must pass (a false rejection is a bug).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.policy import lint
from bot.policy.bundle import build_bundle, sign_bundle, verify_bundle
from bot.policy.lint import LintReport, LintViolation, Trick, lint_overlay, lint_overlay_files, load_upper

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "overlays"
UPPER = FIXTURES / "upper"
BAD = sorted(p.name for p in (FIXTURES / "bad").iterdir() if p.is_dir())
GOOD = sorted(p.name for p in (FIXTURES / "good").iterdir() if p.is_dir())
#: codes only the test re-run can produce: those fixtures run the (slower) upper tests
DYNAMIC = {Trick.UPPER_DENIAL_LOST.value, Trick.ENGINE_REFUSES.value, Trick.TESTS_TIMEOUT.value}


@pytest.fixture(scope="module")
def upper():
    return load_upper(UPPER)


def _expect(name: str) -> dict:
    return json.loads((FIXTURES / "bad" / name / "expect.json").read_text())


def _assert_well_formed(report: LintReport) -> None:
    for v in report.violations:
        assert isinstance(v, LintViolation) and v.file and v.line >= 0 and v.rule_weakened and v.message


@pytest.mark.parametrize("name", BAD)
def test_adversarial_overlay_is_rejected_for_its_trick(name, upper):
    expect = _expect(name)
    report = lint_overlay(
        FIXTURES / "bad" / name,
        upper=upper,
        run_tests=bool(DYNAMIC & set(expect["codes"])),
        tests_timeout_s=expect.get("tests_timeout_s", lint.TESTS_TIMEOUT_S),
    )
    assert not report.ok
    assert set(expect["codes"]) <= report.codes(), report.format()
    _assert_well_formed(report)
    tricks = [v for v in report.violations if v.code.value in expect["codes"]]
    if "weakens" in expect:
        assert any(expect["weakens"] in v.rule_weakened for v in tricks), report.format()
    if "message" in expect:
        assert any(expect["message"] in v.message for v in tricks), report.format()
    static = [v for v in report.violations if v.code.value not in DYNAMIC | {Trick.TESTS_TIMEOUT.value}]
    assert all(v.line > 0 or v.code in (Trick.PARSE_TIMEOUT, Trick.FILE) for v in static), report.format()


@pytest.mark.parametrize("name", GOOD)
def test_stricter_overlay_is_accepted(name, upper):
    directory = FIXTURES / "good" / name
    report = lint_overlay(directory, upper=upper)
    assert report.ok, report.format()
    if list(directory.rglob("*.rego")):
        # every upper test was re-run with the overlay's rules loaded, and each still passes
        assert len(report.upper_tests) == 10 and all(ok for _, ok in report.upper_tests)


def test_every_trick_has_an_adversarial_fixture():
    """The Trick list is the linter's registry: each kind of weakening has at least one fixture."""
    covered = set()
    for name in BAD:
        covered |= set(_expect(name)["codes"])
    # FILE (symlinks, non-UTF-8) and PARSE_TIMEOUT (the bounds keep real files parseable) are tested below
    missing = {t.value for t in Trick} - covered - {Trick.FILE.value, Trick.PARSE_TIMEOUT.value}
    assert not missing
    assert len(BAD) >= 40 and len(GOOD) >= 10


def test_symlinks_are_refused(tmp_path, upper):
    (tmp_path / "evil.rego").symlink_to(UPPER / "constitution" / "pr_required.rego")
    report = lint_overlay(tmp_path, upper=upper, run_tests=False)
    assert report.codes() == {Trick.FILE.value}


def test_non_utf8_file_is_refused(tmp_path, upper):
    (tmp_path / "x.rego").write_bytes(b"package trustacks.overlay.x\n# \xff\xfe\n")
    assert Trick.FILE.value in lint_overlay(tmp_path, upper=upper, run_tests=False).codes()


def test_lookalike_package_names_the_codepoint(upper):
    report = lint_overlay(FIXTURES / "bad" / "package_cyrillic_o", upper=upper, run_tests=False)
    (v,) = [v for v in report.violations if v.code is Trick.PACKAGE_OUTSIDE_ROOT]
    assert "U+043E CYRILLIC SMALL LETTER O" in v.message and v.line == 1


def test_shadowing_names_the_upper_rule_and_its_location(upper):
    report = lint_overlay(FIXTURES / "bad" / "default_shadow", upper=upper, run_tests=False)
    (v,) = [v for v in report.violations if v.code is Trick.SHADOWS_UPPER]
    assert (v.file, v.line, v.rule_weakened) == ("x.rego", 5, "TS-PROC-001")
    assert "constitution/pr_required.rego:15" in v.message and "`default`" in v.message


def test_lost_denial_points_at_the_upper_test(upper):
    report = lint_overlay(FIXTURES / "bad" / "hook_complete_rule", upper=upper)
    (v,) = [v for v in report.violations if v.code is Trick.UPPER_DENIAL_LOST]
    assert (v.file, v.line, v.rule_weakened) == ("packs/legacy/archived_test.rego", 5, "LEGACY-001")
    assert ("trustacks.packs.legacy.archived.test_archived_denied", False) in report.upper_tests


def test_in_memory_overlay_gives_the_same_verdict(upper):
    directory = FIXTURES / "bad" / "combination"
    files = {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    from_disk = lint_overlay(directory, upper=upper, run_tests=False)
    from_memory = lint_overlay_files(files, upper=upper, run_tests=False)
    assert sorted(map(str, from_disk.violations)) == sorted(map(str, from_memory.violations))


def test_signed_overlay_bundle_lints_from_memory(tmp_path, upper, keypair):
    """The runtime path: verify the overlay bundle, then lint its layer files before loading them."""
    out = build_bundle(FIXTURES / "good" / "all_together", revision="7", roots=["trustacks/overlay"], out=tmp_path / "o.tar.gz")
    sign_bundle(out, private_key_pem=keypair[0])
    layer = verify_bundle(out, public_key_pem=keypair[1]).layer_files()
    assert "params.json" in layer and "branches.rego" in layer
    report = lint_overlay_files(layer, upper=upper)
    assert report.ok, report.format()


def test_parameter_directions():
    assert lint.looser("vuln_fail_at", "critical", "high") and not lint.looser("vuln_fail_at", "medium", "high")
    assert lint.looser("min_approvals", 0, 1) and not lint.looser("min_approvals", 2, 1)
    assert lint.looser("allowed_registries", ["a", "b"], ["a"]) and not lint.looser("allowed_registries", [], ["a"])
    assert not lint.looser("required_categories", [], ["ci"])  # union: the upper entries stay required


def test_ref_path_keeps_bracket_segments_exact():
    node = {"RefBrack": {"refr": {"Var": {"value": "trustacks"}}, "index": {"String": {"value": "overlay.lib"}}}}
    assert lint.ref_path(node) == ["trustacks", "overlay.lib"]
    computed = {"RefBrack": {"refr": {"Var": {"value": "data"}}, "index": {"Var": {"value": "x"}}}}
    assert lint.ref_path(computed) == ["data", None]


def test_parse_timeout_names_the_file(monkeypatch, upper, tmp_path):
    """A file whose parse never finishes is refused by name; the child is killed."""
    (tmp_path / "a.rego").write_text("package trustacks.overlay.a\n")
    report = LintReport()
    monkeypatch.setattr(lint, "_WORKER", "import sys, time, json; sys.stdin.read(); "
                        "print(json.dumps({'file': 'a.rego', 'started': True}), flush=True); time.sleep(30)")
    lint.parse_overlay({"a.rego": "package trustacks.overlay.a\n"}, report, timeout_s=1)
    (v,) = report.violations
    assert v.code is Trick.PARSE_TIMEOUT and v.file == "a.rego"


@pytest.fixture(scope="module")
def real_upper():
    try:
        return load_upper()
    except lint.LintError as exc:  # the shipped rules are being edited concurrently
        pytest.skip(f"shipped rules do not load: {exc}")


@pytest.mark.parametrize("name", ["extra_deny", "helpers_and_tests", "unicode_text"])
def test_good_overlays_pass_against_the_shipped_rules(name, real_upper):
    report = lint_overlay(FIXTURES / "good" / name, upper=real_upper)
    assert report.ok, report.format()
    assert report.upper_tests and all(ok for _, ok in report.upper_tests)


@pytest.mark.parametrize("name", ["package_outside_root", "with_upper_data", "builtin_http_send", "constitution_waiver", "parent_dotted_head"])
def test_bad_overlays_fail_against_the_shipped_rules(name, real_upper):
    expect = _expect(name)
    report = lint_overlay(FIXTURES / "bad" / name, upper=real_upper, run_tests=False)
    static = set(expect["codes"]) - DYNAMIC - {Trick.SHADOWS_UPPER.value}
    assert not report.ok and static <= report.codes(), report.format()


def test_upper_layer_reading_the_whole_overlay_is_reported(tmp_path):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(UPPER, rules)
    (rules / "packs" / "legacy" / "greedy.rego").write_text(
        "package trustacks.packs.legacy.greedy\n\nimport rego.v1\n\n"
        'metadata := {"id": "LEGACY-003", "title": "t", "severity": "low", "description": "d", "remediation": "r"}\n\n'
        'warn contains {"rule": "LEGACY-003", "msg": "m"} if count(data.trustacks.overlay) > 100\n'
    )
    report = lint_overlay(FIXTURES / "good" / "extra_deny", rules_dir=rules, run_tests=False)
    assert report.ok and any("greedy.rego:7 reads data.trustacks.overlay as a whole" in n for n in report.notes)
