"""The dashboard on the real GitHub client over loopback HTTP (fake GitHub), and the Forge defaults."""

from __future__ import annotations

import aiohttp
import pytest

from bot import dashboard
from bot.forges.base import Forge
from bot.forges.github import GitHubForge
from bot.forges.github_auth import StaticToken
from tests.fakes import FakeGitHub, Sleeps

REPO = "acme/platform"


@pytest.fixture
async def gh():
    async with FakeGitHub(max_per_page=2) as fake:  # tiny pages: the issue list paginates
        fake.add_repo(REPO, files={"README.md": "# platform\n"}, collaborators={"wes": "write"})
        yield fake
        assert fake.errors == []


@pytest.fixture
async def forge(gh: FakeGitHub):
    async with aiohttp.ClientSession() as session:
        yield GitHubForge(session, StaticToken(gh.add_token()), base_url=gh.url, sleep=Sleeps())


async def test_github_dashboard_created_once_then_edited_in_place(gh: FakeGitHub, forge: GitHubForge):
    for i in range(3):  # human issues (one quoting the marker) and a PR share the numbering and the list
        gh.add_issue(REPO, f"bug {i}", dashboard.MARKER if i == 1 else "text")
    first = await dashboard.ensure_dashboard(forge, platform_repo=REPO)
    assert first.action == "created" and first.issue.author == "trustacks[bot]" and first.issue.number == 4
    assert (await dashboard.ensure_dashboard(forge, platform_repo=REPO)).action == "unchanged"
    gh.repo(REPO).issues[4]["body"] = "Human note\n\n" + gh.repo(REPO).issues[4]["body"]
    again = await dashboard.ensure_dashboard(forge, platform_repo=REPO)
    assert again.action == "unchanged" and again.issue.number == 4
    gh.repo(REPO).issues[4]["body"] = gh.repo(REPO).issues[4]["body"].replace("No Profile merged yet", "stale")
    updated = await dashboard.ensure_dashboard(forge, platform_repo=REPO)
    assert updated.action == "updated" and updated.body.startswith("Human note\n\n")
    creates = [w for w in gh.writes if w[0] == "POST" and w[1].endswith("/issues")]
    patches = [w for w in gh.writes if w[0] == "PATCH" and "/issues/" in w[1]]
    assert len(creates) == 1 and len(patches) == 1 and patches[0][1].endswith("/issues/4")
    assert gh.repo(REPO).issues[2]["body"] == dashboard.MARKER  # the human's issue is untouched


async def test_dry_run_on_github_writes_nothing(gh: FakeGitHub, forge: GitHubForge):
    forge.dry_run = True
    result = await dashboard.ensure_dashboard(forge, platform_repo=REPO)
    assert result.action == "created" and result.issue.number == 0
    assert [w for w in gh.writes if w[0] != "GET"] == []


async def test_forges_without_issue_support_skip_the_dashboard():
    class NoIssues(Forge):  # every abstract method present, no issue methods overridden
        name = "bare"

    for attr in list(NoIssues.__abstractmethods__):
        setattr(NoIssues, attr, lambda *a, **k: None)
    NoIssues.__abstractmethods__ = frozenset()
    result = await dashboard.ensure_dashboard(NoIssues(), platform_repo=REPO)
    assert result.action == "unsupported" and result.issue is None
    with pytest.raises(NotImplementedError):
        await NoIssues().create_issue(REPO, title="t", body="b")


# ---------------------------------------------------------------------------- GitLab


@pytest.fixture
async def gl():
    from tests.fakes import FakeGitLab

    async with FakeGitLab(max_per_page=2) as fake:
        fake.add_project("acme/platform", files={"README.md": "# platform\n"}, members={"dev": 30})
        yield fake
        assert fake.errors == []


async def test_gitlab_dashboard_created_once_then_edited_in_place(gl):
    from bot.forges.gitlab import GitLabForge

    forge = GitLabForge(gl.url, gl.add_token(), sleep=Sleeps())
    try:
        await forge.whoami()
        first = await dashboard.ensure_dashboard(forge, platform_repo=REPO)
        assert first.action == "created" and first.issue.number == 1 and first.issue.author == forge.bot_login
        assert (await dashboard.ensure_dashboard(forge, platform_repo=REPO)).action == "unchanged"
        issue = gl.projects["acme/platform"].issues[1]
        issue["description"] = issue["description"].replace("No Profile merged yet", "stale")
        updated = await dashboard.ensure_dashboard(forge, platform_repo=REPO)
        assert updated.action == "updated" and updated.issue.number == 1 and "No Profile merged yet" in updated.body
        assert len(gl.projects["acme/platform"].issues) == 1
        assert [w[0] for w in gl.writes if "/issues" in w[1]] == ["POST", "PUT"]
    finally:
        forge.close()
