"""Fixtures for the good-citizen tests: the policy engine (loaded once) and a world on each forge.

`world` is parametrized: every wiring test runs once on the local forge (real git) and once on the
fake GitHub API with the real GitHub client. A test seeds it (`await world.start([...])`) and picks
its dispatcher (`world.dispatcher(...)` or, on GitHub, `world.production(...)`).
"""

from __future__ import annotations

import pytest

from bot.policy import PolicyEngine
from tests.fakes import FakeGitHub

from ._wiring import Clock, GitHubWorld, LocalWorld


@pytest.fixture(scope="session")
def policy():
    engine = PolicyEngine.load(packs=("soc2",))
    yield engine
    engine.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["local", "github"])
async def world(request, policy, clock, tmp_path):
    if request.param == "local":
        w = LocalWorld(policy, clock, tmp_path / "forge")
        try:
            yield w
        finally:
            await w.close()
        return
    async with FakeGitHub() as gh:
        w = GitHubWorld(policy, clock, tmp_path, gh)
        try:
            yield w
        finally:
            await w.close()
        assert gh.errors == [], gh.errors
