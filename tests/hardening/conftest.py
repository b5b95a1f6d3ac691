"""The hardening suite's budget: reduced in normal CI, full in the flagged heavy run.

    .venv/bin/pytest tests/hardening -q                 # normal CI: 500 fuzz cases per target, 5 kills
    .venv/bin/pytest tests/hardening -q --heavy         # flagged: 10,000 cases per target, 50 kills
    TRUSTACKS_HEAVY=1 .venv/bin/pytest tests -q         # the same flag from anywhere (e.g. a nightly job)

`--heavy` is only known when this directory is on the command line (pytest reads a sub-directory's
conftest options only then); the environment variable works from any invocation. Tests read the
numbers from the `budget` fixture and build their hypothesis settings from it, so nothing here is
global state and other directories' hypothesis tests are untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, settings

HEAVY_ENV = "TRUSTACKS_HEAVY"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--heavy", action="store_true", default=False,
        help=f"hardening: the flagged run (10,000 hypothesis cases per fuzz target, 50 kills); or set {HEAVY_ENV}=1",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "heavy: hardening test whose size grows with --heavy / TRUSTACKS_HEAVY=1")


@dataclass(frozen=True)
class Budget:
    """How much each hardening test does in this run."""

    heavy: bool
    #: hypothesis cases per in-process fuzz target (the issue: 500 in CI, 10,000 flagged)
    cases: int
    #: cases for targets that start a child process per case (the overlay linter)
    process_cases: int
    #: whole-bot scenarios (several webhook deliveries each) for the write-safety property
    scenarios: int
    #: SIGKILLs of the real service during the crash test
    kills: int

    def settings(self, max_examples: int | None = None, *, shrink: bool = True) -> settings:
        """Hypothesis settings for one test: no deadline (shared cores), no example database on disk.

        `shrink=False` for whole-bot stories, where each shrink step replays seconds of work: their
        failures print the story (hypothesis `note`) instead of a minimal one."""
        phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
        return settings(
            max_examples=max_examples if max_examples is not None else self.cases,
            deadline=None,
            database=None,
            phases=phases,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                   HealthCheck.large_base_example, HealthCheck.function_scoped_fixture],
        )


def heavy_requested(config: pytest.Config) -> bool:
    return bool(config.getoption("--heavy", default=False)) or os.environ.get(HEAVY_ENV, "") not in ("", "0")


@pytest.fixture(scope="session")
def budget(pytestconfig: pytest.Config) -> Budget:
    if heavy_requested(pytestconfig):
        return Budget(heavy=True, cases=10_000, process_cases=1_000, scenarios=300, kills=50)
    return Budget(heavy=False, cases=500, process_cases=25, scenarios=16, kills=5)
