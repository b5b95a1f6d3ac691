"""Regression tests for each known regorus difference from OPA (DESIGN.md §7) and the hazards we guard.

If one of these starts failing after a regorus upgrade, the behaviour changed: re-read the guard
named in the test's docstring before deleting it.
"""

from __future__ import annotations

import json

import pytest

from bot.policy import PolicyError, RegoEngine
from bot.policy.engine import clean_error
from bot.policy.rules_meta import file_info


def engine_with(text: str, path: str = "t.rego") -> RegoEngine:
    e = RegoEngine()
    e.add_policy(path, text)
    return e


@pytest.mark.parametrize("builtin", ["json.is_valid", "yaml.is_valid", "semver.is_valid"])
def test_is_valid_builtins_raise_on_non_strings(builtin):
    """OPA returns false; regorus raises. Rules guard these calls with is_string."""
    e = engine_with(f"package t\nimport rego.v1\nbad := {builtin}(1)\ngood := is_string(1)\n")
    with pytest.raises(PolicyError, match=f"`{builtin}` expects string argument"):
        e.query("data.t.bad")


def test_with_cannot_replace_a_builtin_by_a_builtin():
    """OPA allows `with count as sum`; regorus calls it an unsafe variable (and every query then fails)."""
    e = engine_with("package t\nimport rego.v1\na := count([1])\nt if { a == 1 with count as sum }\nu := 1\n")
    with pytest.raises(PolicyError, match="undefined variable `sum` is unsafe"):
        e.query("data.t.u")


def test_nested_function_mocks_do_not_reach_inside_mocks():
    """OPA applies `with f` inside the mock of g too (result 100001); regorus does not (2001)."""
    e = engine_with(
        "package t\nimport rego.v1\nf(x) := x + 1\ng(x) := f(x) * 2\nh(x) := g(x) + 1\n"
        "mock_f(x) := 100\nmock_g(x) := f(x) * 1000\n"
        "v := y if { y := h(1) with g as mock_g with f as mock_f }\n"
    )
    assert e.value("data.t.v") == (True, 2001)


def test_sets_of_objects_need_the_json_interface():
    """eval_query cannot hand sets of arrays/objects to Python; the engine only uses *_as_json."""
    import regorus

    raw = regorus.Engine()
    raw.add_policy("t.rego", 'package t\nimport rego.v1\ns := {[1], {"a": 2}}\n')
    with pytest.raises(TypeError, match="unhashable"):
        raw.eval_query("data.t.s")
    defined, value = RegoEngine(raw).value("data.t.s")
    assert defined and sorted(json.dumps(v) for v in value) == ['[1]', '{"a": 2}']


def test_backtrace_is_stripped_from_errors(monkeypatch):
    """With RUST_BACKTRACE set, regorus appends a stack trace to every error."""
    monkeypatch.setenv("RUST_BACKTRACE", "1")
    with pytest.raises(PolicyError) as info:
        engine_with("package t\n\nx[1] { true }\n")
    assert str(info.value).startswith("t.rego:3:")
    assert "backtrace" not in str(info.value).lower()


def test_undefined_rule_reads_as_a_string_through_eval_rule():
    """eval_rule_as_json returns the string "<undefined>": never read a test result through it."""
    import regorus

    raw = regorus.Engine()
    raw.add_policy("t.rego", "package t\nimport rego.v1\nx if input.nope\n")
    assert json.loads(raw.eval_rule_as_json("data.t.x")) == "<undefined>"
    assert RegoEngine(raw).value("data.t.x") == (False, None)


def test_line_width_limit_applies_to_queries():
    """The policy length limits reject a long one-line query with a bare "expecting"; the engine
    writes its collection query one entry per line."""
    e = RegoEngine.build([("t.rego", "package t\nimport rego.v1\nx := 1\n")])
    long = "y := [" + ", ".join(["data.t.x"] * 60) + "]"
    with pytest.raises(PolicyError):
        e.query(long)
    assert e.value("y := [\n" + ",\n".join(["data.t.x"] * 60) + "\n]")[0]


def test_test_helper_names_clash_with_rule_locals():
    """A package-level name in a test file shadows `some x` in the rule's package: name helpers fx_*."""
    e = engine_with("package t\nimport rego.v1\nd contains v.id if { some v in input.xs }\n")
    e.add_policy("t_test.rego", "package t\nimport rego.v1\nv := 1\n")
    e.set_input_json('{"xs": [{"id": 1}]}')
    with pytest.raises(PolicyError, match="used before definition"):
        e.query("data.t.d")


def test_package_paths_render_alike_but_ast_segments_differ():
    """get_packages() shows trustacks["overlay.lib"] and trustacks.overlay.lib the same way."""
    a = engine_with('package trustacks["overlay.lib"]\nimport rego.v1\nx := 1\n', "a.rego")
    b = engine_with("package trustacks.overlay.lib\nimport rego.v1\nx := 1\n", "b.rego")
    assert file_info(a.ast()[0]).package == ("trustacks", "overlay.lib")
    assert file_info(b.ast()[0]).package == ("trustacks", "overlay", "lib")


def test_two_defaults_load_and_the_first_wins():
    """The engine does not refuse duplicate defaults; the loader does (test_engine_load)."""
    e = engine_with("package t\nimport rego.v1\ndefault x := 1\ndefault x := 2\n")
    assert e.value("data.t.x") == (True, 1)
    assert file_info(e.ast()[0]).default_names == ("x", "x")


def test_data_at_a_rule_path_replaces_the_rule():
    """A data document at the same path silently wins; the engine keeps its data under trustacks.effective."""
    e = RegoEngine.build([("t.rego", "package t\nimport rego.v1\nx := 1\n")], data=['{"t": {"x": 2}}'])
    assert e.value("data.t.x") == (True, 2)


def test_nondeterministic_builtins_are_not_refused_by_the_engine():
    """The ratchet linter refuses them from the AST; the engine happily loads them."""
    e = engine_with("package t\nimport rego.v1\nx := time.now_ns()\n")
    defined, value = e.value("data.t.x")
    assert defined and isinstance(value, int)


def test_clean_error_on_a_real_engine_error():
    import regorus

    raw = regorus.Engine()
    with pytest.raises(Exception) as info:
        raw.add_policy("z.rego", "package z\nimport rego.v1\np := [\n")
    assert clean_error(info.value).startswith("z.rego:")
