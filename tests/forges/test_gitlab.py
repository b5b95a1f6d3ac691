"""The real GitLab forge client (python-gitlab in a thread) over real loopback HTTP against the fake GitLab."""

from __future__ import annotations

import logging

import pytest

from bot.forges.base import ForgeError, NotFoundError, WriteRefused
from bot.forges.gitlab import GitLabForge, access_permission
from bot.forges.ratelimit import RateLimitedError, RetryPolicy
from bot.models import Annotation, ChangeRequestState, CheckConclusion, FileChange, Permission
from tests.fakes import FakeGitLab, Sleeps

REPO = "acme/platform"
FILES = {
    "README.md": "# platform\n",
    "apps/payments/values.yaml": "replicas: 2\r\nimage: payments\r\n",
    "apps/payments/kustomization.yaml": "resources: []\n",
}


@pytest.fixture
async def gl(clock: Clock):
    async with FakeGitLab(clock=clock, max_per_page=2) as fake:  # tiny pages: every list paginates
        fake.add_project(REPO, files=FILES, protected=["main", "release/*", "trustacks/lock*"],
                         members={"guest": 10, "rep": 20, "dev": 30, "lead": 40, "own": 50})
        yield fake
        assert fake.errors == []


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def token(gl: FakeGitLab) -> str:
    return gl.add_token()


@pytest.fixture
def forge(gl: FakeGitLab, token: str, sleeps: Sleeps, clock: Clock):
    f = GitLabForge(gl.url, token, sleep=sleeps, clock=clock)
    yield f
    f.close()


def writes_to(gl: FakeGitLab, method: str, suffix: str) -> list[tuple]:
    return [w for w in gl.writes if w[0] == method and w[1].endswith(suffix)]


# ====================================================================== reads


async def test_reads(forge: GitLabForge, gl: FakeGitLab) -> None:
    gl.push(REPO, "feature/y", {"y.txt": "1"})
    assert await forge.default_branch(REPO) == "main"
    assert await forge.protected_branches(REPO) == {"main", "release/*", "trustacks/lock*"}
    assert await forge.branch_sha(REPO, "main") == gl.project(REPO).branches["main"]
    assert await forge.branch_sha(REPO, "nope") is None
    assert await forge.read_file(REPO, "apps/payments/values.yaml") == FILES["apps/payments/values.yaml"].encode()
    assert await forge.read_file(REPO, "missing") is None
    assert await forge.read_file(REPO, "y.txt", ref="feature/y") == b"1"
    assert await forge.list_files(REPO) == sorted(FILES)  # the tree arrives over several pages
    tree = await forge.read_tree(REPO)
    assert {p: tree.read(p) for p in tree.paths()} == {k: v.encode() for k, v in FILES.items()}
    with pytest.raises(NotFoundError):
        await forge.list_files(REPO, ref="no-such-branch")
    with pytest.raises(ForgeError, match="refused to read"):
        await forge.read_file(REPO, "../x")
    with pytest.raises(ForgeError, match="not a GitLab project"):
        await forge.default_branch("platform")


# ====================================================================== one commit, many actions


async def test_commit_files_is_one_commit_with_several_actions(forge: GitLabForge, gl: FakeGitLab) -> None:
    main = gl.project(REPO).branches["main"]
    changes = [
        FileChange(".trustacks/profile.yaml", "version: 1\n"),
        FileChange("apps/payments/values.yaml", "replicas: 3\r\nimage: payments\r\n", FILES["apps/payments/values.yaml"]),
        FileChange("apps/payments/kustomization.yaml", FILES["apps/payments/kustomization.yaml"]),  # unchanged
        FileChange("README.md", None, FILES["README.md"]),
        FileChange("never-existed.txt", None),
    ]
    sha = await forge.commit_files(REPO, "trustacks/profile/acme", changes, message="Propose profile")
    commits = writes_to(gl, "POST", "/repository/commits")
    assert len(commits) == 1
    body = commits[0][2]
    assert body["branch"] == "trustacks/profile/acme" and body["start_sha"] == main
    assert [(a["action"], a["file_path"]) for a in body["actions"]] == [
        ("create", ".trustacks/profile.yaml"), ("update", "apps/payments/values.yaml"), ("delete", "README.md")]
    project = gl.project(REPO)
    assert project.branches["trustacks/profile/acme"] == sha
    assert project.commits[sha]["parents"] == [main]
    assert project.files("trustacks/profile/acme") == {
        ".trustacks/profile.yaml": b"version: 1\n",
        "apps/payments/values.yaml": b"replicas: 3\r\nimage: payments\r\n",
        "apps/payments/kustomization.yaml": b"resources: []\n",
    }
    assert project.files("main") == {k: v.encode() for k, v in FILES.items()}


async def test_commit_again_and_identical_content(forge: GitLabForge, gl: FakeGitLab) -> None:
    first = await forge.commit_files(REPO, "trustacks/gen/x", [FileChange("a.txt", "1\n")], message="one")
    second = await forge.commit_files(REPO, "trustacks/gen/x", [FileChange("a.txt", "2\n")], message="two")
    assert gl.project(REPO).commits[second]["parents"] == [first]
    assert "start_sha" not in gl.writes[-1][2] and "force" not in gl.writes[-1][2]
    before = len(gl.writes)
    assert await forge.commit_files(REPO, "trustacks/gen/x", [FileChange("a.txt", "2\n")], message="same") == second
    assert len(gl.writes) == before


async def test_commit_with_parent_keeps_human_commits_unless_told(forge: GitLabForge, gl: FakeGitLab) -> None:
    first = await forge.commit_files(REPO, "trustacks/gen/y", [FileChange("a.txt", "1\n")], message="one")
    human = gl.push(REPO, "trustacks/gen/y", {"b.txt": "human\n"}, author=("Hu Man", "hu@example.com"))
    kept = await forge.commit_files(REPO, "trustacks/gen/y", [FileChange("a.txt", "2\n")], message="two")
    assert gl.project(REPO).commits[kept]["parents"] == [human]
    redo = await forge.commit_files(REPO, "trustacks/gen/y", [FileChange("a.txt", "3\n")], message="redo", parent=first)
    assert gl.writes[-1][2]["start_sha"] == first and gl.writes[-1][2]["force"] is True
    assert gl.project(REPO).commits[redo]["parents"] == [first]
    assert "b.txt" not in gl.project(REPO).files("trustacks/gen/y")


async def test_branch_commits_and_branch_lifecycle(forge: GitLabForge, gl: FakeGitLab) -> None:
    assert await forge.create_branch(REPO, "trustacks/tmp", from_ref="main") == gl.project(REPO).branches["main"]
    assert await forge.branch_commits(REPO, "trustacks/tmp", "main") == []
    bot = await forge.commit_files(REPO, "trustacks/tmp", [FileChange("a", "1")], message="bot work")
    human = gl.push(REPO, "trustacks/tmp", {"b": "2"}, message="human fix", author=("Hu", "hu@example.com"))
    commits = await forge.branch_commits(REPO, "trustacks/tmp", "main")
    assert [c.sha for c in commits] == [human, bot]
    assert commits[0].author_email == "hu@example.com" and commits[0].message == "human fix"
    assert await forge.branch_commits(REPO, "trustacks/never", "main") == []
    await forge.delete_branch(REPO, "trustacks/tmp")
    assert "trustacks/tmp" not in gl.project(REPO).branches
    await forge.delete_branch(REPO, "trustacks/tmp")  # idempotent


# ====================================================================== the write guard


@pytest.mark.parametrize("branch", ["main", "feature/x", "trustacks/locked", "release/1.0", "trustacks/a/../../main"])
async def test_guard_refuses_every_write_path(forge: GitLabForge, gl: FakeGitLab, branch: str) -> None:
    gl.push(REPO, "feature/x", {"f": "1"})
    gl.push(REPO, "trustacks/locked", {"l": "1"})
    human_mr = gl.open_mr(REPO, source="feature/x", title="human")
    attempts = [
        forge.create_branch(REPO, branch, from_ref="main"),
        forge.commit_files(REPO, branch, [FileChange("a.txt", "x")], message="m"),
        forge.delete_branch(REPO, branch),
        forge.open_change_request(REPO, head=branch, base="main", title="t", body="b"),
        forge.update_change_request(REPO, human_mr, title="hijack"),
        forge.add_labels(REPO, human_mr, ["trustacks"]),
    ]
    for attempt in attempts:
        with pytest.raises(WriteRefused):
            await attempt
    assert gl.writes == []
    assert [r for r in gl.requests if r[0] != "GET"] == []


async def test_guard_refuses_a_default_branch_under_the_prefix(gl: FakeGitLab, token: str, sleeps: Sleeps) -> None:
    gl.add_project("acme/odd", default_branch="trustacks/main", protected=())
    forge = GitLabForge(gl.url, token, sleep=sleeps)
    with pytest.raises(WriteRefused, match="default branch"):
        await forge.commit_files("acme/odd", "trustacks/main", [FileChange("a", "b")], message="m")
    assert gl.writes == []
    forge.close()


async def test_dry_run_writes_nothing(gl: FakeGitLab, token: str, sleeps: Sleeps) -> None:
    forge = GitLabForge(gl.url, token, sleep=sleeps, dry_run=True)
    await forge.commit_files(REPO, "trustacks/x", [FileChange("a", "b")], message="m")
    await forge.open_change_request(REPO, head="trustacks/x", base="main", title="t", body="b")
    await forge.comment(REPO, 1, "hi")
    await forge.add_reaction(REPO, 1, number=1)
    assert gl.writes == []
    assert [s[0] for s in forge.suppressed] == ["commit_files", "open_change_request", "comment", "add_reaction"]
    forge.close()


# ====================================================================== merge requests, notes, labels, emoji


async def test_reopening_updates_the_existing_mr(forge: GitLabForge, gl: FakeGitLab, token: str) -> None:
    await forge.commit_files(REPO, "trustacks/profile/acme", [FileChange("p.yaml", "a: 1\n")], message="m")
    first = await forge.open_change_request(REPO, head="trustacks/profile/acme", base="main", title="Profile", body="v1")
    again = await forge.open_change_request(REPO, head="trustacks/profile/acme", base="main", title="Profile", body="v2")
    same = await forge.open_change_request(REPO, head="trustacks/profile/acme", base="main", title="Profile", body="v2")
    assert first.number == again.number == same.number
    assert len(writes_to(gl, "POST", "/merge_requests")) == 1
    assert len(writes_to(gl, "PUT", f"/merge_requests/{first.number}")) == 1
    mr = await forge.get_change_request(REPO, first.number)
    assert (mr.title, mr.body, mr.state) == ("Profile", "v2", ChangeRequestState.OPEN)
    assert mr.author == gl._tokens[token] and mr.head_sha == gl.project(REPO).branches["trustacks/profile/acme"]


async def test_change_request_states(forge: GitLabForge, gl: FakeGitLab) -> None:
    for name in ("a", "b", "c"):
        await forge.commit_files(REPO, f"trustacks/{name}", [FileChange(name, name)], message=name)
        await forge.open_change_request(REPO, head=f"trustacks/{name}", base="main", title=name, body="")
    assert (await forge.update_change_request(REPO, 2, state="closed")).state is ChangeRequestState.CLOSED
    gl.merge_mr(REPO, 3, by="lead")
    merged = await forge.get_change_request(REPO, 3)
    assert merged.state is ChangeRequestState.MERGED and merged.merged_by == "lead"
    assert [p.number for p in await forge.find_change_requests(REPO)] == [1]
    assert [p.number for p in await forge.find_change_requests(REPO, state="closed")] == [2]
    assert [p.number for p in await forge.find_change_requests(REPO, state="merged")] == [3]
    assert sorted(p.number for p in await forge.find_change_requests(REPO, state="all")) == [1, 2, 3]
    assert [p.number for p in await forge.find_change_requests(REPO, head="trustacks/c", state="all")] == [3]
    with pytest.raises(NotFoundError):
        await forge.get_change_request(REPO, 99)


async def test_notes_labels_and_emoji(forge: GitLabForge, gl: FakeGitLab, token: str) -> None:
    await forge.commit_files(REPO, "trustacks/c", [FileChange("c", "c")], message="c")
    mr = await forge.open_change_request(REPO, head="trustacks/c", base="main", title="c", body="")
    gl.add_note(REPO, mr.number, "/trustacks help", user="dev")
    gl.add_note(REPO, mr.number, "added 1 commit", user="dev", system=True)
    mine = await forge.comment(REPO, mr.number, "working")
    await forge.edit_comment(REPO, mr.number, mine.id, "done")
    notes = await forge.list_comments(REPO, mr.number)
    assert [(n.author, n.body) for n in notes] == [("dev", "/trustacks help"), (gl._tokens[token], "done")]
    await forge.add_labels(REPO, mr.number, ["trustacks", "profile"])
    await forge.add_labels(REPO, mr.number, ["profile"])
    assert (await forge.get_change_request(REPO, mr.number)).labels == ["trustacks", "profile"]
    human = notes[0].id
    assert await forge.add_reaction(REPO, human, "eyes", number=mr.number) > 0
    assert await forge.add_reaction(REPO, human, "eyes", number=mr.number) == 0  # already acknowledged
    await forge.add_reaction(REPO, human, "+1", number=mr.number)
    assert [e["name"] for e in gl.project(REPO).emoji] == ["eyes", "thumbsup"]
    with pytest.raises(ForgeError, match="merge request number"):
        await forge.add_reaction(REPO, human, "eyes")


# ====================================================================== statuses and permissions


@pytest.mark.parametrize("conclusion,state", [
    (CheckConclusion.SUCCESS, "success"), (CheckConclusion.FAILURE, "failed"),
    (CheckConclusion.NEUTRAL, "success"), (CheckConclusion.PENDING, "pending")])
async def test_set_check_is_a_commit_status(forge: GitLabForge, gl: FakeGitLab, conclusion, state) -> None:
    sha = gl.project(REPO).branches["main"]
    run = await forge.set_check(REPO, sha, name="trustacks/policy", conclusion=conclusion, title="T" * 300,
                                summary="long", annotations=[Annotation("a", 1, "m")])
    status = gl.project(REPO).statuses[-1]
    assert (status["status"], status["name"], status["sha"], status["id"]) == (state, "trustacks/policy", sha, run.id)
    assert status["description"] == "T" * 255


@pytest.mark.parametrize("user,expected", [
    ("guest", Permission.READ), ("rep", Permission.TRIAGE), ("dev", Permission.WRITE),
    ("lead", Permission.MAINTAIN), ("own", Permission.ADMIN), ("ghost", Permission.NONE)])
async def test_user_permission(forge: GitLabForge, gl: FakeGitLab, user: str, expected: Permission) -> None:
    gl.add_user("outsider")
    assert await forge.user_permission(REPO, user) is expected
    assert await forge.user_permission(REPO, "outsider") is Permission.NONE


def test_access_levels_developer_and_up_may_write() -> None:
    assert [access_permission(level).can_write for level in (0, 5, 10, 15, 20, 30, 40, 50)] == [
        False, False, False, False, False, True, True, True]


# ====================================================================== rate limits and errors


async def test_retry_after_is_honoured(forge: GitLabForge, gl: FakeGitLab, sleeps: Sleeps) -> None:
    gl.fail(429, times=2, headers={"Retry-After": "4"}, body={"message": "Retry later"})
    assert await forge.default_branch(REPO) == "main"
    assert sleeps.calls == [4.0, 4.0]


async def test_ratelimit_reset_without_retry_after(forge: GitLabForge, gl: FakeGitLab, sleeps: Sleeps, clock: Clock) -> None:
    gl.fail(429, headers={"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(clock.now) + 20)},
            body={"message": "Retry later"})
    assert await forge.list_files(REPO)
    assert sleeps.calls == [21.0]


async def test_server_errors_retried_only_when_safe(forge: GitLabForge, gl: FakeGitLab, sleeps: Sleeps) -> None:
    gl.fail(503, times=2, method="GET", body={"message": "503 Service Unavailable"})
    assert await forge.default_branch(REPO) == "main"
    assert sleeps.calls == [1.0, 2.0]
    mr = gl.open_mr(REPO, source="main", target="main")
    gl.fail(502, method="POST", body={"message": "502 Bad Gateway"})
    with pytest.raises(ForgeError, match="server error"):
        await forge.comment(REPO, mr, "once")
    assert len([r for r in gl.requests if r[0] == "POST"]) == 1


async def test_bounded_retries(gl: FakeGitLab, token: str, sleeps: Sleeps, clock: Clock) -> None:
    forge = GitLabForge(gl.url, token, sleep=sleeps, clock=clock, retry=RetryPolicy(max_attempts=3))
    gl.fail(429, times=10, headers={"Retry-After": "9"})
    with pytest.raises(RateLimitedError) as info:
        await forge.default_branch(REPO)
    assert sleeps.calls == [9.0, 9.0] and info.value.retry_at == clock.now + 9
    forge.close()


async def test_errors_are_clear_and_never_carry_the_token(
    forge: GitLabForge, gl: FakeGitLab, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NotFoundError, match="project path"):
        await forge.default_branch("acme/nope")
    gl.fail(403, body={"message": f"403 Forbidden: token {token} has no api scope"})
    with pytest.raises(ForgeError) as info:
        await forge.default_branch(REPO)
    assert token not in str(info.value) and "***" in str(info.value) and "role and scopes" in str(info.value)
    gl.fail(429, headers={"Retry-After": "1"})
    await forge.default_branch(REPO)
    with pytest.raises(ForgeError, match="rejected"):
        await forge.create_branch(REPO, "trustacks/a", from_ref="0" * 40)
    assert token not in caplog.text and "retrying" in caplog.text
    assert token not in repr(forge)


async def test_bad_token_is_a_clear_error(gl: FakeGitLab, sleeps: Sleeps) -> None:
    forge = GitLabForge(gl.url, "glpat-wrong", sleep=sleeps)
    with pytest.raises(ForgeError, match="bad credentials") as info:
        await forge.default_branch(REPO)
    assert "glpat-wrong" not in str(info.value)
    forge.close()


def test_gitlab_webhook_fixtures() -> None:
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_webhook_fixtures", path)
    fixtures = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(fixtures)
    kinds = {"push.default_branch": ("Push Hook", "push"), "merge_request.open": ("Merge Request Hook", "merge_request"),
             "merge_request.merge": ("Merge Request Hook", "merge_request"), "note.merge_request": ("Note Hook", "note")}
    for name, (header, kind) in kinds.items():
        headers = json.loads((fixtures.ROOT / "gitlab" / name / "headers.json").read_text())
        body = json.loads((fixtures.ROOT / "gitlab" / name / "body.json").read_text())
        assert headers["X-Gitlab-Event"] == header and headers["X-Gitlab-Token"] == fixtures.SECRET
        assert body["object_kind"] == kind and body["project"]["path_with_namespace"].startswith("acme/")
    merge = json.loads((fixtures.ROOT / "gitlab" / "merge_request.merge" / "body.json").read_text())
    assert merge["object_attributes"]["action"] == "merge" and merge["object_attributes"]["state"] == "merged"
    note = json.loads((fixtures.ROOT / "gitlab" / "note.merge_request" / "body.json").read_text())
    assert note["object_attributes"]["noteable_type"] == "MergeRequest" and note["merge_request"]["iid"] == 7


from tests.fakes import fake_gitlab, gitlab_forge  # noqa: E402,F401  (pytest finds imported fixtures)
from tests.forges.conftest import Clock


async def test_shared_fixtures(fake_gitlab: FakeGitLab, gitlab_forge: GitLabForge) -> None:
    fake_gitlab.add_project("acme/payments-fastapi", files={"app/main.py": "app = FastAPI()\n"})
    assert await gitlab_forge.read_file("acme/payments-fastapi", "app/main.py") == b"app = FastAPI()\n"
    fake_gitlab.fail(429, headers={"Retry-After": "2"})
    await gitlab_forge.default_branch("acme/payments-fastapi")
    assert gitlab_forge.sleeps.calls == [2.0]
