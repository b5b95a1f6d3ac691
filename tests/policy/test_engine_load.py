"""Loading the layers: bounds before parsing, AST checks, metadata, parameters, revisions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.policy import OverlayRejected, PolicyEngine, PolicyError, UnknownRule, available_packs
from bot.policy.engine import MAX_NESTING, Source, check_bounds, clean_error, max_nesting

META = '{"id": "%s", "title": "t", "severity": "low", "description": "d", "remediation": "r"}'


def overlay(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "overlay"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def rule(pkg: str, rule_id: str = "ACME-X-001", extra: str = "") -> str:
    return (f"package {pkg}\n\nimport rego.v1\n\nmetadata := {META % rule_id}\n\n"
            f'deny contains {{"msg": "m"}} if input.never\n{extra}')


def load_error(tmp_path: Path, files: dict[str, str]) -> str:
    """The engine's own checks, behind the linter (which runs first at load; see test_overlay_lint_at_load)."""
    with pytest.raises(PolicyError) as info:
        PolicyEngine.load(overlay_dir=overlay(tmp_path, files), isolate=False, lint_overlay=False)
    return str(info.value)


def test_shipped_layers_load_with_metadata(engine_all):
    ids = [m.id for m in engine_all.rules()]
    assert len(ids) == len(set(ids)) >= 30
    assert {m.layer for m in engine_all.rules()} == {"constitution", "packs"}
    assert set(engine_all.packs) == set(available_packs()) == {"fedramp", "hipaa", "itil", "pci", "soc2"}
    assert all(m.id.startswith("TS-") for m in engine_all.rules(layer="constitution"))
    for m in engine_all.rules(layer="packs"):
        assert m.id.split("-")[0] == m.pack.upper(), m
        assert m.controls, f"{m.id} maps no control"
    assert engine_all.rule("TS-SUPPLY-004").requires[0].category == "image_scanning"
    assert engine_all.rule("TS-POLICY-ERROR").layer == "engine"
    with pytest.raises(UnknownRule):
        engine_all.rule("TS-NOPE-1")
    assert set(engine_all.revisions) == {"constitution", *(f"packs/{p}" for p in available_packs())}
    assert all(v.startswith("sha256:") for v in engine_all.revisions.values())


def test_rules_filter_by_layer_and_pack(engine_all):
    soc2 = engine_all.rules(pack="soc2")
    assert soc2 and all(m.pack == "soc2" for m in soc2)
    assert engine_all.rules(layer="overlay") == []


def test_overlay_rule_loads_and_fires(tmp_path, profile):
    text = rule("trustacks.overlay.weekend", "ACME-WEEKEND-001").replace("input.never", 'input.proposal.kind == "generate"')
    engine = PolicyEngine.load(overlay_dir=overlay(tmp_path, {"weekend.rego": text}), isolate=False)
    assert engine.rule("ACME-WEEKEND-001").layer == "overlay"
    assert "overlay" in engine.revisions
    from .conftest import make_proposal

    d = engine.evaluate(make_proposal(), profile)
    assert [(v.rule, v.layer) for v in d.deny] == [("ACME-WEEKEND-001", "overlay")]


@pytest.mark.parametrize(
    "pkg, fragment",
    [
        ("trustacks.constitution.sneaky", "outside this layer's root trustacks.overlay"),
        ('trustacks["overlay.sneaky"]', "outside this layer's root"),
        ("trustacks.overlay", "outside this layer's root"),
        ("trustacks.effective.x", "outside this layer's root"),
        ("acme.rules", "outside this layer's root"),
    ],
)
def test_package_outside_root_refused(tmp_path, pkg, fragment):
    assert fragment in load_error(tmp_path, {"r.rego": rule(pkg)})


def test_duplicate_rule_id_refused(tmp_path):
    msg = load_error(tmp_path, {"r.rego": rule("trustacks.overlay.dup", "TS-PROC-001")})
    assert "rule id TS-PROC-001 is already used by constitution/pr_required.rego" in msg


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("package trustacks.overlay.a\nimport rego.v1\ndeny contains 1 if input.x\n", "needs `metadata := {...}`"),
        (rule("trustacks.overlay.a").replace('"remediation": "r"', '"remediation": ""'), "missing remediation"),
        (rule("trustacks.overlay.a").replace('"severity": "low"', '"severity": "extreme"'), "severity must be one of"),
        (rule("trustacks.overlay.a", "lowercase-id"), "is not like TS-PROC-001"),
        (rule("trustacks.overlay.a").replace('"title": "t"', '"title": input.x'), "must be a literal"),
        (rule("trustacks.overlay.a").replace("deny contains", "allow contains"), "defines neither deny nor warn"),
        (rule("trustacks.overlay.a", extra="default x := 1\ndefault x := 2\n"), "two `default x` rules"),
        (rule("trustacks.overlay.a", extra="sub.rule contains 1 if true\n"), "rule head sub.rule reaches into another document"),
    ],
)
def test_bad_rule_file_refused(tmp_path, text, fragment):
    assert fragment in load_error(tmp_path, {"r.rego": text})


def test_one_package_per_file(tmp_path):
    msg = load_error(tmp_path, {"a.rego": rule("trustacks.overlay.same", "ACME-A-001"),
                                "b.rego": rule("trustacks.overlay.same", "ACME-B-001")})
    assert "is already defined by overlay/a.rego" in msg


def test_parse_error_has_location_and_no_backtrace(tmp_path, monkeypatch):
    monkeypatch.setenv("RUST_BACKTRACE", "1")
    msg = load_error(tmp_path, {"r.rego": "package trustacks.overlay.x\n\ndeny[1] { true }\n"})
    assert msg.startswith("overlay/r.rego:3:")
    assert "Stack backtrace" not in msg and "<unknown>" not in msg


def test_deep_nesting_refused_before_parsing(tmp_path):
    deep = "package trustacks.overlay.deep\nimport rego.v1\np := " + "[" * 24 + "1" + "]" * 24 + "\n"
    t0 = time.monotonic()
    msg = load_error(tmp_path, {"deep.rego": deep})
    assert time.monotonic() - t0 < 5  # parsing this would take minutes
    assert f"brackets nested 24 deep (limit {MAX_NESTING})" in msg and msg.startswith("overlay/deep.rego:3:")


def test_nesting_count_ignores_strings_and_comments():
    text = 'p := "[[[[[[[[[[[[" # {{{{{{{{{{{{{{{{{{\nq := `[[[[[[[[[[[[[[[[`\nr := [{"a": [1]}]\n'
    assert max_nesting(text) == (3, (3, 13))


@pytest.mark.parametrize("text, fragment", [
    ("x" * 500, "over 400 columns"),
    ("a\n" * 4000, "lines is over"),
    ("#" * 100 + "\n" * 0 + "a := 1\n" * 30000, "bytes is over"),
])
def test_size_bounds(text, fragment):
    with pytest.raises(PolicyError, match=fragment):
        check_bounds("f.rego", text)


def test_unknown_pack_and_missing_dirs(tmp_path):
    with pytest.raises(PolicyError, match="unknown pack 'gdpr'"):
        PolicyEngine.load(packs=("gdpr",), isolate=False)
    with pytest.raises(PolicyError, match="no constitution/"):
        PolicyEngine.load(rules_dir=tmp_path, isolate=False)
    with pytest.raises(PolicyError, match="overlay directory not found"):
        PolicyEngine.load(overlay_dir=tmp_path / "nope", isolate=False)


def test_rule_failing_on_empty_input_refused_at_load(tmp_path):
    text = rule("trustacks.overlay.a", extra="warn contains x if { x := 1 / 0 }\n")
    assert "fails on an empty input" in load_error(tmp_path, {"r.rego": text})


def test_revision_comes_from_a_bundle_manifest(rules_copy):
    (rules_copy / "constitution" / ".manifest").write_text(json.dumps({"revision": "constitution-1.4.0"}))
    assert PolicyEngine.load(rules_dir=rules_copy, isolate=False).revisions["constitution"] == "constitution-1.4.0"


def test_revision_changes_when_a_rule_changes(rules_copy):
    before = PolicyEngine.load(rules_dir=rules_copy, isolate=False).revisions["constitution"]
    f = rules_copy / "constitution" / "sbom_required.rego"
    f.write_text(f.read_text() + "\n# edited\n")
    assert PolicyEngine.load(rules_dir=rules_copy, isolate=False).revisions["constitution"] != before


def test_from_sources_is_the_bundle_entry_point(engine):
    sources = [s for s in engine.sources]
    again = PolicyEngine.from_sources(sources, layer_params=engine.layer_params, isolate=False)
    assert [m.id for m in again.rules()] == [m.id for m in engine.rules()]
    assert isinstance(sources[0], Source)


def test_clean_error_strips_backtrace():
    raw = "\n--> a.rego:3:9\n  |\n3 | x\n  |  ^\nerror: boom here\n\nStack backtrace:\n   0: <unknown>\n   1: foo\n"
    assert clean_error(RuntimeError(raw)) == "a.rego:3:9: boom here"
    assert clean_error("plain failure\nStack backtrace:\n 0: x") == "plain failure"


def test_overlay_lint_at_load(tmp_path):
    """The runtime refuses an overlay that fails the ratchet linter, naming file, line and the rule weakened."""
    sneaky = ("package trustacks.overlay.sneaky\n\nimport rego.v1\n\n"
              "import data.trustacks.constitution.pr_required\n\n"
              "x := 1 if { true } with data.trustacks.constitution.pr_required.deny as set()\n")
    with pytest.raises(OverlayRejected) as info:
        PolicyEngine.load(overlay_dir=overlay(tmp_path, {"sneaky.rego": sneaky}), isolate=False)
    msg = str(info.value)
    assert "sneaky.rego:7" in msg and "overlay REJECTED" in msg and "trustacks policy lint" in msg
    assert info.value.report.violations


def test_stricter_overlay_passes_the_linter_at_load(tmp_path):
    text = rule("trustacks.overlay.weekend", "ACME-WEEKEND-001").replace("input.never", 'input.proposal.kind == "generate"')
    engine = PolicyEngine.load(overlay_dir=overlay(tmp_path, {"weekend.rego": text}), isolate=False)
    assert engine.rule("ACME-WEEKEND-001").layer == "overlay"
