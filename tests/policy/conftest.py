"""Shared fixtures for the policy tests: engines (loaded once per session), a Profile, proposal builders."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.models import FileChange, Proposal, ProposalKind, ToolChoice
from bot.policy import PolicyEngine, available_packs, default_rules_dir
from bot.profile import Profile

PLATFORM = "acme/platform"

GOOD_WORKFLOW = """\
name: build
on:
  push:
    branches: [main]
permissions:
  contents: read
  packages: write
  id-token: write
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -r requirements.txt
      - run: pytest -q
      - uses: semgrep/semgrep-action@v1
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          role-to-assume: arn:aws:iam::123456789012:role/ci
          aws-region: us-east-1
      - id: build
        uses: docker/build-push-action@v6
        with:
          push: true
          tags: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:${{ github.sha }}
      - uses: aquasecurity/trivy-action@0.28.0
        with:
          image-ref: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:${{ github.sha }}
          exit-code: "1"
          severity: HIGH,CRITICAL
      - uses: anchore/sbom-action@v0
      - uses: sigstore/cosign-installer@v3
      - run: cosign sign --yes 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@${{ steps.build.outputs.digest }}
      - uses: actions/attest-build-provenance@v1
        with:
          subject-name: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop
          subject-digest: ${{ steps.build.outputs.digest }}
"""


def make_profile(**drop: bool) -> Profile:
    """A Profile naming a tool in every category except those passed as `category=False`."""
    p = Profile.new(PLATFORM)
    tools = {
        "ci": [{"tool": "github-actions", "source": "discovered", "evidence": ["acme/shop:.github/workflows/build.yml:1"]}],
        "registry": [{"tool": "ecr", "source": "declared", "settings": {"host": "123456789012.dkr.ecr.us-east-1.amazonaws.com"}}],
        "image_scanning": [{"tool": "trivy", "source": "discovered", "settings": {"fips": True}}],
        "sast_sca": [{"tool": "semgrep", "source": "discovered"}],
        "secret_scanning": [{"tool": "gitleaks", "source": "discovered"}],
        "sbom_signing": [{"tool": "syft", "source": "discovered"}, {"tool": "cosign", "source": "declared"}],
        "gitops": [{"tool": "argocd", "source": "discovered"}],
        "mesh_ingress": [{"tool": "nginx", "source": "discovered"}],
        "secrets_management": [{"tool": "vault", "source": "declared"}],
        "observability": [{"tool": "prometheus", "source": "discovered"}],
        "ticketing": [{"tool": "jira", "source": "declared"}],
        "compliance_evidence": [{"tool": "vanta", "source": "declared"}],
    }
    for cat, entries in tools.items():
        if drop.get(cat, True):
            p.set_tools(cat, entries)
    return p


def make_proposal(files: dict[str, str | None] | None = None, **over: Any) -> Proposal:
    """A compliant generation proposal for acme/shop; `files` maps path -> new content."""
    files = {".github/workflows/build.yml": GOOD_WORKFLOW} if files is None else files
    fields: dict[str, Any] = dict(
        kind=ProposalKind.GENERATE,
        repo="acme/shop",
        base_branch="main",
        head_branch="trustacks/generate/acme-shop",
        title="TruStacks: CI for shop (CHG0012345)",
        summary="Generated CI for shop.",
        files=[FileChange(path=p, new=c) for p, c in files.items()],
        tool_choices=[ToolChoice("ci", "github-actions", ".trustacks/profile.yaml#tooling.ci[0]", ".github/workflows/build.yml")],
        blast_radius=["repo: acme/shop", "files: 1"],
        rollback=["Revert this PR."],
        citations=["TS-SUPPLY-001", "TS-SUPPLY-004"],
    )
    fields.update(over)
    return Proposal(**fields)


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    """Constitution only, evaluated in-process."""
    return PolicyEngine.load(isolate=False)


@pytest.fixture(scope="session")
def engine_all() -> PolicyEngine:
    """Constitution and every shipped pack, evaluated in-process."""
    return PolicyEngine.load(packs=available_packs(), isolate=False)


@pytest.fixture(scope="session")
def engine_isolated() -> Iterator[PolicyEngine]:
    """Constitution and every pack, evaluated in the child process (the production path)."""
    e = PolicyEngine.load(packs=available_packs())
    yield e
    e.close()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped rules a test may change."""
    dest = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), dest)
    return dest


@pytest.fixture
def profile() -> Profile:
    return make_profile()
