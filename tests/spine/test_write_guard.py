"""The one write guard: every write path refuses non-trustacks, default and protected branches."""

from __future__ import annotations

import pytest

from bot.forges.base import WriteRefused, check_ref_name
from bot.models import CheckConclusion, FileChange

BAD_REFS = [
    "main",  # default branch
    "refs/heads/main",
    "feature/x",  # not under trustacks/
    "trustacks",  # the prefix alone is not a branch under it
    "trustacks/../main",
    "trustacks//x",
    "trustacks/x.lock",
    "trustacks/x/",
    "trustacks/.hidden",
    "trustacks/a b",
    "trustacks/x\nmain",
    "",
]


@pytest.mark.parametrize("ref", BAD_REFS)
def test_check_ref_name_refuses(ref):
    with pytest.raises(WriteRefused):
        check_ref_name(ref)


def test_check_ref_name_accepts_bot_branches():
    assert check_ref_name("trustacks/profile/acme-platform") == "trustacks/profile/acme-platform"
    assert check_ref_name("refs/heads/trustacks/generate/pay") == "trustacks/generate/pay"


async def _write_paths(forge, repo, branch):
    """Every guarded write the bot has, aimed at `branch`."""
    yield "create_branch", lambda: forge.create_branch(repo, branch, from_ref="main")
    yield "commit_files", lambda: forge.commit_files(
        repo, branch, [FileChange(path="x.txt", new="x")], message="m", parent=None)
    yield "delete_branch", lambda: forge.delete_branch(repo, branch)
    yield "open_change_request", lambda: forge.open_change_request(
        repo, head=branch, base="main", title="t", body="b")


@pytest.mark.parametrize("branch", ["main", "release/1.0", "feature/x", "trustacks/../main"])
async def test_every_write_path_refuses(local_forge, admin, app_repo, branch):
    admin.create_repo("acme/other")  # unrelated repo stays untouched too
    before = {b: await local_forge.branch_sha(app_repo, b) for b in ("main", "release/1.0")}
    async for name, call in _write_paths(local_forge, app_repo, branch):
        with pytest.raises(WriteRefused):
            await call()
    after = {b: await local_forge.branch_sha(app_repo, b) for b in ("main", "release/1.0")}
    assert before == after
    assert await local_forge.find_change_requests(app_repo, state="all") == []


async def test_protected_pattern_under_trustacks_is_refused(local_forge, admin, app_repo):
    admin.protect(app_repo, "trustacks/locked/*")
    with pytest.raises(WriteRefused, match="protected"):
        await local_forge.create_branch(app_repo, "trustacks/locked/x", from_ref="main")


async def test_default_branch_named_like_bot_branch_is_refused(local_forge, admin):
    admin.create_repo("acme/odd", default_branch="trustacks/main", files={"a": "1"})
    with pytest.raises(WriteRefused, match="default branch"):
        await local_forge.commit_files("acme/odd", "trustacks/main", [FileChange("a", "2")], message="m")


async def test_pr_edits_refused_on_human_branches(local_forge, admin, app_repo):
    admin.push(app_repo, "feature/human", {"a.txt": "1"}, user="alice")
    # a human PR recorded directly (as a person would open it)
    local_forge.db.execute(
        "INSERT INTO prs VALUES (?,?,?,?,?,?,?,?,NULL,NULL,0,0)",
        (app_repo, 7, "human", "body", "feature/human", "main", "open", "alice"))
    with pytest.raises(WriteRefused):
        await local_forge.update_change_request(app_repo, 7, body="hijacked")
    with pytest.raises(WriteRefused):
        await local_forge.add_labels(app_repo, 7, ["x"])
    assert (await local_forge.get_change_request(app_repo, 7)).body == "body"


async def test_paths_are_confined(local_forge, app_repo):
    for bad in ["../escape", "/etc/passwd", "a/../../b"]:
        with pytest.raises(WriteRefused):
            await local_forge.commit_files(
                app_repo, "trustacks/x", [FileChange(path=bad, new="x")], message="m", parent=None)


async def test_dry_run_writes_nothing_but_checks(tmp_path, app_repo, local_forge):
    from bot.forges.local import LocalForge

    dry = LocalForge(local_forge.data_dir, dry_run=True)
    sha = await dry.branch_sha(app_repo, "main")
    await dry.create_branch(app_repo, "trustacks/dry", from_ref="main")
    await dry.commit_files(app_repo, "trustacks/dry", [FileChange("a", "1")], message="m", parent=sha)
    cr = await dry.open_change_request(app_repo, head="trustacks/dry", base="main", title="t", body="b")
    assert cr.number == 0
    await dry.set_check(app_repo, sha, name="trustacks/policy", conclusion=CheckConclusion.SUCCESS,
                        title="ok", summary="ok")
    assert await dry.branch_sha(app_repo, "trustacks/dry") is None
    assert await dry.find_change_requests(app_repo, state="all") == []
    assert [v for v, _, _ in dry.suppressed] == ["create_branch", "commit_files", "open_change_request"]
    assert len(dry.checks(app_repo)) == 1
    dry.close()


async def test_control_characters_in_paths_refused(local_forge, app_repo):
    for bad in ["a\nb", "a\tb", "nul\x00"]:
        with pytest.raises(WriteRefused):
            await local_forge.commit_files(
                app_repo, "trustacks/x", [FileChange(path=bad, new="x")], message="m", parent=None)
