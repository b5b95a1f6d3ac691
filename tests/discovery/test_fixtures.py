"""Golden tests: every sample app in fixtures/apps/ yields exactly the findings in tests/discovery/expected/.

Regenerate after an intended change with `TRUSTACKS_UPDATE_GOLDEN=1 pytest tests/discovery/test_fixtures.py`
and review the diff of the expectation files like code.
"""

from __future__ import annotations

import json
import os

import pytest

from bot.catalog import CATEGORIES, LANGUAGES
from bot.discovery import discover
from bot.tree import DirTree

from .conftest import APPS, EXPECTED, summarize

APP_NAMES = sorted(p.name for p in APPS.iterdir() if p.is_dir())


def test_there_are_at_least_eight_fixture_apps_each_with_expectations():
    assert len(APP_NAMES) >= 8
    assert "payments-fastapi" in APP_NAMES
    assert sorted(p.stem for p in EXPECTED.glob("*.json")) == APP_NAMES


@pytest.mark.parametrize("name", APP_NAMES)
def test_fixture_findings_match_expectations(name):
    result = discover(DirTree(APPS / name), repo=f"acme/{name}")
    got = summarize(result)
    path = EXPECTED / f"{name}.json"
    if os.environ.get("TRUSTACKS_UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))


def test_fixtures_cover_every_language_framework_and_the_required_tools():
    frameworks, tools = set(), set()
    for name in APP_NAMES:
        data = json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))
        frameworks |= {(s["language"], s["framework"]) for s in data["services"]}
        tools |= {(f["category"], f["tool"]) for f in data["findings"]}
    assert frameworks == {(lang, fw) for lang, fws in LANGUAGES.items() for fw in fws}
    assert {t for c, t in tools if c == "ci"} == set(CATEGORIES["ci"])
    assert {t for c, t in tools if c == "registry"} == set(CATEGORIES["registry"])
    for category in ("image_scanning", "sast_sca", "secret_scanning", "gitops", "mesh_ingress"):
        assert {t for c, t in tools if c == category}, category


def test_payments_fastapi_is_the_demo_app():
    """The demo relies on this exact stack (issue #3)."""
    result = discover(DirTree(APPS / "payments-fastapi"), repo="acme/payments-fastapi")
    keys = {f.key for f in result.findings}
    assert {
        ("ci", "github-actions"), ("registry", "ecr"), ("image_scanning", "trivy"), ("sast_sca", "semgrep"),
        ("secret_scanning", "gitleaks"), ("ticketing", "jira"), ("observability", "prometheus"),
        ("secrets_management", "vault"),
    } <= keys
    [svc] = result.services
    assert (svc.language, svc.framework, svc.runtime_version, svc.port) == ("python", "fastapi", "3.12", 8000)
    ecr = next(f for f in result.findings if f.key == ("registry", "ecr"))
    assert dict(ecr.details)["host"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
