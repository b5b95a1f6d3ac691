"""Fake GitHub and GitLab servers on loopback, shared by every test that talks to a forge.

    from tests.fakes import FakeGitHub, FakeGitLab

    async with FakeGitHub() as gh:
        gh.add_repo("acme/app", files={"app.py": "..."}, default_branch="main", protected=["main"])
        token = gh.add_token()
        ...  gh.url, gh.writes, gh.requests, gh.repo("acme/app").pulls ...

Or, as pytest fixtures (add `pytest_plugins = ["tests.fakes"]` to a conftest, or import them):
`fake_github`, `fake_gitlab` (started servers) and `github_forge`, `gitlab_forge` (real clients
pointed at them with a token and a recording, non-sleeping `sleep`).
"""

from __future__ import annotations

from typing import AsyncIterator

import pytest_asyncio

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.gitlab import FakeGitLab, FakeProject

__all__ = ["FakeGitHub", "FakeRepo", "FakeGitLab", "FakeProject", "Sleeps",
           "fake_github", "fake_gitlab", "github_forge", "gitlab_forge"]


class Sleeps:
    """An injectable `sleep` that records the requested durations and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest_asyncio.fixture
async def fake_github() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as gh:
        yield gh


@pytest_asyncio.fixture
async def fake_gitlab() -> AsyncIterator[FakeGitLab]:
    async with FakeGitLab() as gl:
        yield gl


@pytest_asyncio.fixture
async def github_forge(fake_github: FakeGitHub):  # type: ignore[no-untyped-def]
    """A GitHubForge on the fake with a static installation token; `.sleeps` records waits."""
    import aiohttp

    from bot.forges.github import GitHubForge
    from bot.forges.github_auth import StaticToken

    token = fake_github.add_token()
    sleeps = Sleeps()
    async with aiohttp.ClientSession() as session:
        forge = GitHubForge(session, StaticToken(token), base_url=fake_github.url, sleep=sleeps)
        forge.sleeps = sleeps  # type: ignore[attr-defined]
        yield forge


@pytest_asyncio.fixture
async def gitlab_forge(fake_gitlab: FakeGitLab):  # type: ignore[no-untyped-def]
    """A GitLabForge on the fake with a project access token; `.sleeps` records waits."""
    from bot.forges.gitlab import GitLabForge

    token = fake_gitlab.add_token()
    sleeps = Sleeps()
    forge = GitLabForge(fake_gitlab.url, token, sleep=sleeps)
    forge.sleeps = sleeps  # type: ignore[attr-defined]
    try:
        yield forge
    finally:
        forge.close()
