"""Golden files: the exact output for representative services, reviewed as diffs when a generator changes.

Regenerate after an intended change with `TRUSTACKS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/generate/test_golden.py`
and review the diff of fixtures/golden/ like any other code change.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bot.generate import generate
from bot.models import as_dict

from tests.generate.conftest import FIXTURES, load_profile

GOLDEN = FIXTURES / "golden"
CASES = [
    ("github-aws", "pay-api"),  # GitHub Actions, ECR, CodeQL, Helm, Argo CD ApplicationSet
    ("gitlab-gcp", "bff"),  # GitLab in a monorepo subdirectory, GAR, Kustomize, Flux, Istio
    ("azure-acr", "billing"),  # Azure Pipelines, ACR, one environment (Argo CD Application), Traefik + Linkerd
    ("jenkins-artifactory", "orders"),  # Jenkins, Artifactory, Aqua after push, Kustomize
    ("tekton-quay", "gateway"),  # Tekton, Quay, Clair, Flux + Helm
    ("minimal", "pay-api"),  # gaps everywhere
]
UPDATE = os.environ.get("TRUSTACKS_UPDATE_GOLDEN") == "1"


def _expected(profile_name: str, service_name: str) -> dict[str, str]:
    profile = load_profile(profile_name)
    service = profile.service(service_name)
    assert service is not None
    result = generate(profile, service)
    files = {f"{gen.target}/{gen.path}": gen.content for gen in result.files}
    manifest = {
        "files": [{"path": gen.path, "target": gen.target, "artifact": gen.artifact, "root_relative": gen.root_relative,
                   "tool_choices": [f"{c.category}:{c.tool} <- {c.profile_ref}" for c in gen.tool_choices]}
                  for gen in result.files],
        "gaps": [as_dict(g) for g in result.gaps],
    }
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return files


@pytest.mark.parametrize("profile_name,service_name", CASES)
def test_output_matches_the_golden_files(profile_name: str, service_name: str) -> None:
    root = GOLDEN / profile_name / service_name
    expected = _expected(profile_name, service_name)
    if UPDATE:
        if root.exists():
            shutil.rmtree(root)
        for rel, content in expected.items():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(content, encoding="utf-8")
    assert root.is_dir(), f"no golden files for {profile_name}/{service_name}: run with TRUSTACKS_UPDATE_GOLDEN=1"
    on_disk = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(expected), "files added or removed: regenerate and review"
    changed = [rel for rel in expected if on_disk[rel] != expected[rel]]
    assert changed == [], f"output differs from fixtures/golden for {changed}: regenerate and review the diff"


def test_every_golden_directory_is_a_case() -> None:
    dirs = {(p.parent.name, p.name) for p in GOLDEN.glob("*/*") if p.is_dir()}
    assert dirs == set(CASES)


def test_golden_comparison_notices_a_change(tmp_path: Path) -> None:
    expected = _expected(*CASES[0])
    key = next(k for k in expected if k.endswith("trustacks-ci.yml"))
    assert expected[key].replace("trivy", "trivvy") != expected[key]
