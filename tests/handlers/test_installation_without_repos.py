"""An installation event that lists no repositories (or none the server allows) is acknowledged as a no-op.

GitHub sends `installation` `new_permissions_accepted` without a `repositories` list, and an installation
can be created or extended with repositories the server-wide filter drops. There is nothing to onboard,
so the delivery must not fail (it used to raise ForgeError "'platform' is not owner/name" from the
unresolvable platform repo, and was retried five times for nothing); it logs one line and is done.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.allowlist import RepoFilter
from bot.config import load_settings
from bot.handlers import make_dispatcher
from bot.handlers.forge_factory import ForgeFactory
from tests.fakes import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS = ROOT / "fixtures" / "webhooks" / "github"
INSTALLATION = 48213377
NO_REPOS = "ignored: the installation event lists no repositories"


def body(name: str) -> dict:
    return json.loads((WEBHOOKS / name / "body.json").read_text())


@pytest.fixture
async def world(tmp_path):
    async with FakeGitHub() as gh:
        key = gh.register_app(4242)
        gh.add_repo("acme/platform", files={"README.md": "# Platform\n"})
        gh.add_installation(INSTALLATION, ["acme/platform"])
        (tmp_path / "app.pem").write_text(key)
        settings = load_settings(env={
            "TRUSTACKS_GITHUB_WEBHOOK_SECRET": "installation-no-repos-secret", "TRUSTACKS_GITHUB_APP_ID": "4242",
            "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": str(tmp_path / "app.pem"), "TRUSTACKS_DATA_DIR": str(tmp_path / "d"),
        })
        factory = ForgeFactory(settings, github_api_url=gh.url)
        try:
            yield gh, factory
        finally:
            await factory.close()
        assert gh.errors == []


def job(event: str, payload: dict, delivery: str) -> SimpleNamespace:
    return SimpleNamespace(id=1, forge="github", event=event, payload=payload, delivery_id=delivery, attempts=1)


def without_repos(action: str) -> dict:
    payload = copy.deepcopy(body("installation.created"))
    payload["action"] = action
    payload["installation"]["id"] = INSTALLATION
    payload.pop("repositories", None)  # new_permissions_accepted carries none
    return payload


@pytest.mark.parametrize("payload", [
    without_repos("new_permissions_accepted"),
    without_repos("created"),
    {**without_repos("created"), "repositories": []},
], ids=["new_permissions_accepted", "created-no-list", "created-empty-list"])
async def test_installation_without_repositories_is_a_logged_no_op(world, payload, caplog) -> None:
    gh, factory = world
    outcomes: list = []
    dispatch = make_dispatcher(forge_for=factory, policy=None, platform_repo="platform", outcomes=outcomes)
    caplog.set_level(logging.INFO, logger="bot.handlers")
    await dispatch(job("installation", payload, "inst-no-repos"))  # returns: the job is done, not retried
    assert outcomes == [("inst-no-repos", NO_REPOS)]
    assert f"delivery inst-no-repos (github installation): {NO_REPOS}" in caplog.text
    assert gh.requests == [] and gh.writes == []  # no token exchanged, nothing read or written


async def test_installation_repositories_added_empty_is_a_no_op(world) -> None:
    gh, factory = world
    payload = copy.deepcopy(body("installation_repositories.added"))
    payload["installation"]["id"] = INSTALLATION
    payload["repositories_added"] = []
    outcomes: list = []
    dispatch = make_dispatcher(forge_for=factory, policy=None, platform_repo="platform", outcomes=outcomes)
    await dispatch(job("installation_repositories", payload, "added-none"))
    assert outcomes == [("added-none", NO_REPOS)]
    assert gh.requests == []


async def test_installation_whose_repositories_are_all_filtered_out_is_a_no_op(world) -> None:
    gh, factory = world
    payload = copy.deepcopy(body("installation.created"))
    payload["installation"]["id"] = INSTALLATION
    assert payload["repositories"]  # the fixture lists some; the server allows none of them
    outcomes: list = []
    dispatch = make_dispatcher(forge_for=factory, policy=None, platform_repo="platform", outcomes=outcomes,
                               repo_filter=RepoFilter.parse("other-org/*"))
    await dispatch(job("installation", payload, "inst-filtered"))
    assert outcomes == [("inst-filtered", "ignored: no repo allowed by TRUSTACKS_REPOS")]
    assert gh.requests == []
