"""`trustacks discover PATH`: text and JSON output, Profile diffing, a clear error for a broken Profile."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from bot.profile import Profile

from .conftest import APPS


def test_text_output_lists_findings_services_and_the_profile_diff():
    res = CliRunner().invoke(cli, ["discover", str(APPS / "payments-fastapi"), "--repo", "acme/payments", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "registry             ecr" in res.output
    assert ".github/workflows/ci.yml:13" in res.output
    assert "payments [.] language=python, framework=fastapi, runtime_version=3.12, port=8000" in res.output
    assert "### Environment Profile changes" in res.output
    assert "`acme/payments:.github/workflows/ci.yml:54` `- uses: aquasecurity/trivy-action@0.24.0`" in res.output


def test_json_output_is_one_document_with_the_proposed_profile():
    res = CliRunner().invoke(cli, ["discover", str(APPS / "platform-monorepo"), "--json", "--repo", "acme/platform"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["repo"] == "acme/platform" and doc["complete"] is True
    assert [s["name"] for s in doc["services"]] == ["accounts", "pricing"]
    assert any(f["category"] == "unparseable" for f in doc["findings"])
    profile = Profile.loads(doc["profile"])
    assert profile.first_tool("registry").settings["host"] == "210987654321.dkr.ecr.eu-central-1.amazonaws.com"


def test_an_up_to_date_profile_gives_an_empty_diff(tmp_path):
    first = CliRunner().invoke(cli, ["discover", str(APPS / "shop-express"), "--json", "--repo", "acme/shop"])
    (tmp_path / "profile.yaml").write_text(json.loads(first.output)["profile"])
    res = CliRunner().invoke(
        cli, ["discover", str(APPS / "shop-express"), "--repo", "acme/shop", "--profile", str(tmp_path / "profile.yaml")]
    )
    assert res.exit_code == 0
    assert "No change" in res.output


def test_an_invalid_profile_is_an_error_that_says_how_to_fix_it(tmp_path):
    (tmp_path / "profile.yaml").write_text("version: 2\nplatform: {repo: acme/platform}\n")
    res = CliRunner().invoke(cli, ["discover", str(APPS / "shop-express"), "--profile", str(tmp_path / "profile.yaml")])
    assert res.exit_code != 0
    assert "version" in res.output and "--profile" in res.output


def test_progress_goes_to_stderr_on_large_trees(tmp_path):
    for i in range(600):
        (tmp_path / f"svc{i}").mkdir()
        (tmp_path / f"svc{i}" / "values.yaml").write_text("replicaCount: 1\n")
    res = CliRunner().invoke(cli, ["discover", str(tmp_path), "--repo", "acme/big"])
    assert res.exit_code == 0
    assert "discover: 600/600 candidate files" in res.stderr
    assert "candidate files" not in res.stdout
