"""The local forge: real git objects, one commit per change set, PRs and human merges."""

from __future__ import annotations

import subprocess

import pytest

from bot.forges.base import ForgeError
from bot.models import ChangeRequestState, FileChange, Permission


def git_log(forge, repo, branch):
    path = forge.repo_path(repo)
    out = subprocess.run(["git", "--git-dir", str(path), "log", "--format=%an|%ae|%s", branch],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.strip().splitlines()]


async def test_reads(local_forge, app_repo):
    assert await local_forge.default_branch(app_repo) == "main"
    assert await local_forge.list_files(app_repo) == ["README.md", "src/main.py"]
    assert await local_forge.read_file(app_repo, "src/main.py") == b"print('hi')\n"
    assert await local_forge.read_file(app_repo, "missing") is None
    tree = await local_forge.read_tree(app_repo)
    assert tree.read("README.md") == b"# app\n"
    assert await local_forge.protected_branches(app_repo) == {"release/*"}


async def test_multi_file_change_is_one_commit(local_forge, app_repo):
    base = await local_forge.branch_sha(app_repo, "main")
    await local_forge.create_branch(app_repo, "trustacks/generate/app", from_ref="main")
    sha = await local_forge.commit_files(
        app_repo, "trustacks/generate/app",
        [FileChange("Dockerfile", "FROM python:3.12-slim\n"), FileChange(".github/workflows/ci.yml", "on: push\n"),
         FileChange("README.md", None, old="# app\n")],
        message="Generate CI and Dockerfile",
    )
    commits = await local_forge.branch_commits(app_repo, "trustacks/generate/app", "main")
    assert [c.sha for c in commits] == [sha]
    assert commits[0].author_email == local_forge.bot_email
    files = await local_forge.list_files(app_repo, ref="trustacks/generate/app")
    assert files == [".github/workflows/ci.yml", "Dockerfile", "src/main.py"]
    assert await local_forge.branch_sha(app_repo, "main") == base  # default branch untouched


async def test_unchanged_content_makes_no_commit(local_forge, app_repo):
    await local_forge.create_branch(app_repo, "trustacks/x", from_ref="main")
    first = await local_forge.commit_files(app_repo, "trustacks/x", [FileChange("a", "1")], message="m")
    again = await local_forge.commit_files(app_repo, "trustacks/x", [FileChange("a", "1")], message="m")
    assert first == again
    assert len(await local_forge.branch_commits(app_repo, "trustacks/x", "main")) == 1


async def test_pr_flow_and_human_merge(local_forge, admin, app_repo):
    await local_forge.create_branch(app_repo, "trustacks/profile/p", from_ref="main")
    await local_forge.commit_files(app_repo, "trustacks/profile/p", [FileChange("p.yaml", "v: 1\n")], message="Add p")
    cr = await local_forge.open_change_request(app_repo, head="trustacks/profile/p", base="main", title="T", body="B")
    assert cr.number == 1 and cr.state is ChangeRequestState.OPEN and cr.author == local_forge.bot_login
    with pytest.raises(ForgeError, match="already open"):
        await local_forge.open_change_request(app_repo, head="trustacks/profile/p", base="main", title="T", body="B")
    updated = await local_forge.update_change_request(app_repo, 1, body="B2")
    assert updated.body == "B2"
    await local_forge.comment(app_repo, 1, "hello")
    await local_forge.add_labels(app_repo, 1, ["trustacks"])
    assert [c.body for c in await local_forge.list_comments(app_repo, 1)] == ["hello"]
    assert (await local_forge.get_change_request(app_repo, 1)).labels == ["trustacks"]

    with pytest.raises(ForgeError, match="bots never merge"):
        admin.merge(app_repo, 1, user=local_forge.bot_login)
    with pytest.raises(ForgeError, match="approval"):
        admin.merge(app_repo, 1, user="demo-admin")
    with pytest.raises(ForgeError, match="never approve"):
        admin.approve(app_repo, 1, user=local_forge.bot_login)
    admin.grant(app_repo, "reader", Permission.READ)
    admin.approve(app_repo, 1, user="reviewer")
    with pytest.raises(ForgeError, match="write permission"):
        admin.merge(app_repo, 1, user="reader")
    sha = admin.merge(app_repo, 1, user="demo-admin")
    assert await local_forge.branch_sha(app_repo, "main") == sha
    assert await local_forge.read_file(app_repo, "p.yaml") == b"v: 1\n"
    merged = await local_forge.get_change_request(app_repo, 1)
    assert merged.state is ChangeRequestState.MERGED and merged.merged_by == "demo-admin"
    log = git_log(local_forge, app_repo, "main")
    assert log[0][0] == "demo-admin" and log[0][2].startswith("Merge pull request #1")
    # the bot's commit reaches main only through the human's merge commit, never directly
    first_parent = subprocess.run(["git", "--git-dir", str(local_forge.repo_path(app_repo)), "log",
                                   "--first-parent", "--format=%ae", "main"], capture_output=True, text=True).stdout
    assert local_forge.bot_email not in first_parent
    with pytest.raises(ForgeError):
        await local_forge.update_change_request(app_repo, 1, body="after merge")


async def test_merge_conflict_is_refused(local_forge, admin, app_repo):
    await local_forge.create_branch(app_repo, "trustacks/c", from_ref="main")
    await local_forge.commit_files(app_repo, "trustacks/c", [FileChange("README.md", "bot\n")], message="m")
    await local_forge.open_change_request(app_repo, head="trustacks/c", base="main", title="t", body="b")
    admin.push(app_repo, "main", {"README.md": "human\n"}, user="alice")
    admin.approve(app_repo, 1, user="bob")
    with pytest.raises(ForgeError, match="conflicts"):
        admin.merge(app_repo, 1, user="demo-admin")


async def test_human_commits_are_visible_for_edited_detection(local_forge, admin, app_repo):
    await local_forge.create_branch(app_repo, "trustacks/e", from_ref="main")
    await local_forge.commit_files(app_repo, "trustacks/e", [FileChange("a", "1")], message="bot")
    admin.push(app_repo, "trustacks/e", {"a": "2"}, user="alice", email="alice@acme.io")
    emails = [c.author_email for c in await local_forge.branch_commits(app_repo, "trustacks/e", "main")]
    assert emails == ["alice@acme.io", local_forge.bot_email]


async def test_permissions_and_close(local_forge, admin, app_repo):
    assert await local_forge.user_permission(app_repo, "demo-admin") is Permission.ADMIN
    assert await local_forge.user_permission(app_repo, "stranger") is Permission.NONE
    await local_forge.create_branch(app_repo, "trustacks/z", from_ref="main")
    await local_forge.open_change_request(app_repo, head="trustacks/z", base="main", title="t", body="b")
    admin.close(app_repo, 1, user="demo-admin")
    assert await local_forge.find_change_requests(app_repo) == []
    assert len(await local_forge.find_change_requests(app_repo, state="closed")) == 1


async def test_bot_email_with_glob_characters_is_not_an_edit(tmp_path, admin, app_repo):
    """`trustacks[bot]@...` contains `[bot]`, a glob character class: the bot must still recognise itself."""
    from bot.forges.local import LocalForge
    from bot.pipeline import Flow, is_edited

    forge = LocalForge(admin.forge.data_dir, bot_email="trustacks[bot]@users.noreply.github.com")
    await forge.create_branch(app_repo, "trustacks/g", from_ref="main")
    await forge.commit_files(app_repo, "trustacks/g", [FileChange("a", "1")], message="bot")
    flow = Flow(forge=forge, policy=None, platform_repo="acme/platform", ignore_emails=("renovate*@*",))
    assert not await is_edited(flow, app_repo, "trustacks/g", "main")
    admin.push(app_repo, "trustacks/g", {"a": "2"}, user="renovate", email="renovate[bot]@example.com")
    assert not await is_edited(flow, app_repo, "trustacks/g", "main")  # ignored automation
    admin.push(app_repo, "trustacks/g", {"a": "3"}, user="alice", email="alice@acme.io")
    assert await is_edited(flow, app_repo, "trustacks/g", "main")
    forge.close()
