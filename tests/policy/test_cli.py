"""`trustacks rule`, `policy` and `gaps` through the root CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from bot.policy.facts import build_input

from .conftest import make_profile, make_proposal


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_rule_list_and_show():
    out = run("rule", "list", "--layer", "constitution")
    assert out.exit_code == 0 and "TS-PROC-001" in out.output and "SOC2" not in out.output
    soc2 = run("rule", "list", "--pack", "soc2", "--format", "json")
    assert {r["pack"] for r in json.loads(soc2.output)} == {"soc2"}
    show = run("rule", "show", "TS-SUPPLY-004")
    assert show.exit_code == 0 and "Remediation:" in show.output and "constitution/vulnerability_scan.rego" in show.output
    missing = run("rule", "show", "TS-NOPE-9")
    assert missing.exit_code != 0 and "unknown rule 'TS-NOPE-9'" in missing.output


def test_policy_test_passes_and_fails(rules_copy):
    ok = run("policy", "test", "-q", "--pack", "soc2")
    assert ok.exit_code == 0 and " 0 failed" in ok.output
    f = rules_copy / "constitution" / "signed_artifacts.rego"
    f.write_text(f.read_text().replace("count(f.signs) == 0", "count(f.signs) == 9"))
    bad = run("policy", "test", "--rules-dir", str(rules_copy), "--pack", "itil")
    assert bad.exit_code == 1 and "FAIL trustacks.constitution.signed_artifacts.test_unsigned_push_denied" in bad.output


def test_policy_test_coverage():
    out = run("policy", "test", "-q", "--coverage", "--pack", "itil")
    assert out.exit_code == 0 and "coverage:" in out.output and "constitution/ci_oidc.rego" in out.output


def test_policy_eval(tmp_path):
    doc = build_input(make_proposal(citations=[]), make_profile())
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc))
    out = run("policy", "eval", "--input", str(path), "--pack", "soc2")
    assert out.exit_code == 1
    decision = json.loads(out.output)
    assert decision["verdict"] == "deny" and [v["rule"] for v in decision["deny"]] == ["TS-CITE-001"]
    doc["proposal"]["cites_rules"] = ["TS-SUPPLY-001"]
    good = run("policy", "eval", "--input", "-", input=json.dumps(doc))
    assert good.exit_code == 0 and json.loads(good.output)["verdict"] == "pass"
    assert run("policy", "eval", "--input", "-", input="[1]").exit_code != 0


def test_gaps_md_and_json(tmp_path):
    p = tmp_path / "profile.yaml"
    p.write_text(make_profile(observability=False).dumps())
    md = run("gaps", "--profile", str(p))
    assert md.exit_code == 0 and "### observability" in md.output
    js = run("gaps", "--profile", str(p), "--format", "json", "--pack", "soc2")
    assert js.exit_code == 0 and json.loads(js.output)["by_category"] == {"observability": ["SOC2-CC7.2-001"]}
    assert run("gaps", "--profile", str(tmp_path / "nope.yaml")).exit_code == 2  # click: path does not exist


def test_gaps_without_profile_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run("gaps")
    assert out.exit_code != 0 and "trustacks discover" in out.output
