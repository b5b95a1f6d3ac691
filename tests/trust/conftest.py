"""Shared fixtures for the trust-artifact tests: key pairs and a tiny layer directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.policy import keys


@pytest.fixture(scope="session")
def keypair() -> tuple[bytes, bytes]:
    return keys.generate_keypair()


@pytest.fixture(scope="session")
def other_keypair() -> tuple[bytes, bytes]:
    return keys.generate_keypair()


@pytest.fixture
def layer_dir(tmp_path: Path) -> Path:
    src = tmp_path / "constitution"
    (src / "ci").mkdir(parents=True)
    (src / "ci" / "oidc.rego").write_text(
        "package trustacks.constitution.ci\nimport rego.v1\n\n"
        'deny contains {"rule": "TS-CI-001", "msg": "static credential"} if input.static_credential\n'
    )
    (src / "ci" / "oidc_test.rego").write_text(
        "package trustacks.constitution.ci_test\nimport rego.v1\n\n"
        "test_denies if count(data.trustacks.constitution.ci.deny) == 1 with input as {\"static_credential\": true}\n"
    )
    (src / "data.json").write_text(json.dumps({"params": {"max_severity": "high", "min_approvals": 1}}, indent=2))
    (src / "README.md").write_text("not part of the bundle\n")
    return src
