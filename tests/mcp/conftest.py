"""Fixtures for the MCP server tests: a platform repo built in a temp dir, the policy engine, the service.

The platform repo is a copy of fixtures/apps/payments-fastapi plus the Profile discovery proposes for
it (with SBOM/signing tools declared, so a compliant change can pass); an application repo
(`acme/inventory`, a copy of fixtures/apps/inventory-flask) is configured beside it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from bot.discovery import discover, profile_diff
from bot.mcp_server.service import McpService
from bot.mcp_server.workspace import Workspace
from bot.policy import PolicyEngine
from bot.profile import PROFILE_PATH
from bot.tree import DirTree

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"
PLATFORM = "acme/platform"
APP_REPO = "acme/inventory"
# Built at run time so no scanner flags this file; shaped like a real AWS access key id.
AWS_KEY = "AKIA" + "Q3ZX" + "7" * 4 + "ABCDWXYZ"

COMPLIANT_BODY = """\
# Add a health check script

Adds a small script the readiness probe calls. Implements TS-CITE-001 and TS-CITE-002 hygiene.

## Blast radius
- file: scripts/health.sh in acme/platform
- services: payments (probe only)

## Rollback
- Revert this PR; the probe falls back to the HTTP check.

## Why these tools
| Category | Tool | Profile entry |
|---|---|---|
| ci | github-actions | `.trustacks/profile.yaml#tooling.ci[0]` |
"""


def build_platform(dest: Path) -> Path:
    """payments-fastapi + the Profile discovery proposes (SBOM and signing tools declared)."""
    shutil.copytree(APPS / "payments-fastapi", dest)
    result = discover(DirTree(dest), repo=PLATFORM)
    profile = profile_diff(None, [result], platform_repo=PLATFORM).apply(None)
    profile.set_tools("sbom_signing", [{"tool": "syft", "source": "declared"}, {"tool": "cosign", "source": "declared"}])
    (dest / ".trustacks").mkdir()
    (dest / PROFILE_PATH).write_text(profile.dumps(), encoding="utf-8")
    return dest


def tree_digest(root: Path) -> str:
    """Every path, mode, size, mtime and content under root: any write changes it."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            st = full.lstat()
            h.update(f"{full.relative_to(root)}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
            if full.is_file() and not full.is_symlink():
                h.update(full.read_bytes())
    return h.hexdigest()


@pytest.fixture
def platform_repo(tmp_path: Path) -> Path:
    return build_platform(tmp_path / "platform")


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    dest = tmp_path / "inventory"
    shutil.copytree(APPS / "inventory-flask", dest)
    return dest


@pytest.fixture(scope="session")
def engine() -> Iterator[PolicyEngine]:
    """The constitution, as `trustacks serve` and `trustacks mcp` load it by default (in-process)."""
    eng = PolicyEngine.load(isolate=False)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def all_packs_engine() -> Iterator[PolicyEngine]:
    from bot.policy import available_packs

    eng = PolicyEngine.load(packs=available_packs(), isolate=False)
    yield eng
    eng.close()


@pytest.fixture
def service(engine: PolicyEngine, platform_repo: Path, app_repo: Path) -> McpService:
    return McpService(engine, Workspace(platform_repo, repos={APP_REPO: app_repo}))


class WorkspaceForge:
    """The platform checkout as the bot's gate reads it (`read_file` only), so a test can run
    `pipeline.evaluate` over exactly the files the MCP tools see (the Profile, the waiver file)."""

    def __init__(self, workspace: "Workspace") -> None:
        self.workspace = workspace

    async def read_file(self, repo: str, path: str, *, ref: str | None = None) -> bytes | None:
        text = self.workspace.read_text(self.workspace.platform, path)
        return None if text is None else text.encode("utf-8")
