"""Shared helpers for the discovery tests: fixture app paths and a compact view of results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discovery import DiscoveryResult

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"
EXPECTED = Path(__file__).resolve().parent / "expected"


def summarize(result: DiscoveryResult) -> dict[str, Any]:
    """What a fixture's expectations pin down: every finding with its evidence, every service, every skip."""
    return {
        "repo": result.repo,
        "findings": [
            {
                "category": f.category,
                "tool": f.tool,
                "evidence": [str(e) for e in f.evidence],
                **({"details": dict(f.details)} if f.details else {}),
            }
            for f in result.findings
        ],
        "services": [
            {
                "name": s.name,
                "path": s.path,
                "language": s.language,
                "framework": s.framework,
                "runtime_version": s.runtime_version,
                "port": s.port,
                "dockerfile": s.dockerfile,
                "chart": s.chart,
                "evidence": [str(e) for e in s.evidence],
            }
            for s in result.services
        ],
        "skipped": [list(x) for x in result.skipped],
    }


@pytest.fixture
def apps_dir() -> Path:
    return APPS
