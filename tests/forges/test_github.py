"""The real GitHub forge client over real loopback HTTP against the fake GitHub server."""

from __future__ import annotations

import json
import logging

import aiohttp
import jwt
import pytest

from bot.forges.base import ForgeError, NotFoundError, WriteRefused
from bot.forges.github import GitHubForge
from bot.forges.github_auth import GitHubApp, StaticToken
from bot.forges.ratelimit import Limit, RateLimitedError, RetryPolicy, classify, decide
from bot.models import Annotation, ChangeRequestState, CheckConclusion, FileChange, Permission
from tests.fakes import FakeGitHub, Sleeps

REPO = "acme/platform"
FILES = {
    "README.md": "# platform\n",
    "apps/payments/values.yaml": "replicas: 2\r\nimage: payments\r\n",  # CRLF kept byte for byte
    "scripts/deploy.sh": "#!/bin/sh\necho deploy\n",
}


@pytest.fixture
async def gh(clock: Clock):
    async with FakeGitHub(clock=clock, max_per_page=2) as fake:  # tiny pages: every list paginates
        fake.add_repo(
            REPO, files=FILES, protected=["main", "release/*", "trustacks/locked"], executable=("scripts/deploy.sh",),
            collaborators={"ada": "admin", "max": "maintain", "wes": "write", "tia": "triage", "rae": "read"},
        )
        yield fake
        assert fake.errors == []


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def token(gh: FakeGitHub) -> str:
    return gh.add_token()


@pytest.fixture
def forge(gh: FakeGitHub, session, token: str, sleeps: Sleeps, clock: Clock) -> GitHubForge:
    return GitHubForge(session, StaticToken(token), base_url=gh.url, sleep=sleeps, clock=clock)


def posts(gh: FakeGitHub, suffix: str) -> list[tuple]:
    return [w for w in gh.writes if w[0] == "POST" and w[1].endswith(suffix)]


# ====================================================================== reads


async def test_reads(forge: GitHubForge, gh: FakeGitHub) -> None:
    gh.push(REPO, "release/1.0", {"x": "1"})
    gh.push(REPO, "feature/y", {"y": "1"})
    assert await forge.default_branch(REPO) == "main"
    # the classic protection rules' patterns (several GraphQL pages), whether their branches exist or not
    assert await forge.protected_branches(REPO) == {"main", "release/*", "trustacks/locked"}
    assert await forge.branch_sha(REPO, "main") == gh.repo(REPO).refs["main"]
    assert await forge.branch_sha(REPO, "nope") is None
    assert await forge.read_file(REPO, "apps/payments/values.yaml") == FILES["apps/payments/values.yaml"].encode()
    assert await forge.read_file(REPO, "missing.txt") is None
    assert await forge.read_file(REPO, "apps") is None  # a directory is not a file
    assert await forge.read_file(REPO, "y", ref="feature/y") == b"1"
    assert await forge.list_files(REPO) == sorted(FILES)
    with pytest.raises(ForgeError, match="refused to read"):
        await forge.read_file(REPO, "../etc/passwd")
    with pytest.raises(NotFoundError):
        await forge.list_files(REPO, ref="no-such-branch")


async def test_read_tree_skips_oversized_without_downloading(forge: GitHubForge, gh: FakeGitHub) -> None:
    gh.push(REPO, "main", {"big.bin": b"x" * 5000})
    tree = await forge.read_tree(REPO, max_file_bytes=1000)
    assert sorted(tree.paths()) == sorted(FILES)
    assert tree.read("scripts/deploy.sh") == FILES["scripts/deploy.sh"].encode()
    big_sha = gh.repo(REPO).flatten(gh.repo(REPO).commits[gh.repo(REPO).refs["main"]]["tree"])["big.bin"][1]
    assert not [r for r in gh.requests if big_sha in r[1]]


async def test_large_file_falls_back_to_blob(forge: GitHubForge, gh: FakeGitHub) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB: the contents API sends no content
    gh.push(REPO, "main", {"assets/big.bin": data})
    assert await forge.read_file(REPO, "assets/big.bin") == data
    assert any("/git/blobs/" in r[1] for r in gh.requests)


async def test_repository_outside_installation_is_not_found(gh: FakeGitHub, session, sleeps) -> None:
    gh.add_repo("acme/secret")
    gh.add_installation(7, [REPO])
    token = gh.add_token(installation_id=7)
    forge = GitHubForge(session, StaticToken(token), base_url=gh.url, sleep=sleeps)
    assert await forge.default_branch(REPO) == "main"
    with pytest.raises(NotFoundError, match="installed"):
        await forge.default_branch("acme/secret")


# ====================================================================== one commit, many files


async def test_commit_files_is_one_commit(forge: GitHubForge, gh: FakeGitHub) -> None:
    main = gh.repo(REPO).refs["main"]
    changes = [
        FileChange(".trustacks/profile.yaml", "version: 1\n"),
        FileChange("apps/payments/values.yaml", "replicas: 3\r\nimage: payments\r\n", FILES["apps/payments/values.yaml"]),
        FileChange("scripts/deploy.sh", "#!/bin/sh\necho deploy v2\n", FILES["scripts/deploy.sh"]),
        FileChange("README.md", None, FILES["README.md"]),
    ]
    sha = await forge.commit_files(REPO, "trustacks/profile/acme", changes, message="Propose profile")
    repo = gh.repo(REPO)
    assert len(posts(gh, "/git/commits")) == 1
    assert len(posts(gh, "/git/refs")) == 1
    assert repo.refs["trustacks/profile/acme"] == sha
    assert repo.commits[sha]["parents"] == [main]
    assert repo.commits[sha]["message"] == "Propose profile"
    assert repo.files("trustacks/profile/acme") == {
        ".trustacks/profile.yaml": b"version: 1\n",
        "apps/payments/values.yaml": b"replicas: 3\r\nimage: payments\r\n",
        "scripts/deploy.sh": b"#!/bin/sh\necho deploy v2\n",
    }
    modes = {p: m for p, (m, _) in repo.flatten(repo.commits[sha]["tree"]).items()}
    assert modes["scripts/deploy.sh"] == "100755"  # the executable bit survives an update
    assert modes[".trustacks/profile.yaml"] == "100644"
    deletion = [e for e in posts(gh, "/git/trees")[0][2]["tree"] if e["path"] == "README.md"]
    assert deletion == [{"path": "README.md", "mode": "100644", "type": "blob", "sha": None}]
    assert repo.files("main") == {k: v.encode() for k, v in FILES.items()}  # main untouched


async def test_commit_again_fast_forwards_and_identical_content_makes_no_commit(forge: GitHubForge, gh: FakeGitHub) -> None:
    first = await forge.commit_files(REPO, "trustacks/gen/x", [FileChange("a.txt", "1\n")], message="one")
    second = await forge.commit_files(REPO, "trustacks/gen/x", [FileChange("a.txt", "2\n")], message="two")
    assert gh.repo(REPO).commits[second]["parents"] == [first]
    patch = [w for w in gh.writes if w[0] == "PATCH" and "/git/refs/heads/trustacks/gen/x" in w[1]]
    assert patch[-1][2] == {"sha": second, "force": False}
    before = len(posts(gh, "/git/commits"))
    third = await forge.commit_files(REPO, "trustacks/gen/x", [FileChange("a.txt", "2\n")], message="same")
    assert third == second and len(posts(gh, "/git/commits")) == before


async def test_commit_with_parent_keeps_human_commits_unless_told(forge: GitHubForge, gh: FakeGitHub) -> None:
    first = await forge.commit_files(REPO, "trustacks/gen/y", [FileChange("a.txt", "1\n")], message="one")
    human = gh.push(REPO, "trustacks/gen/y", {"b.txt": "human\n"}, author=("Hu Man", "hu@example.com"))
    # no parent: the bot builds on the branch head, so the human commit stays
    kept = await forge.commit_files(REPO, "trustacks/gen/y", [FileChange("a.txt", "2\n")], message="two")
    assert gh.repo(REPO).commits[kept]["parents"] == [human]
    assert gh.repo(REPO).files("trustacks/gen/y")["b.txt"] == b"human\n"
    # an explicit parent (recreate after the caller checked): the branch is moved with force
    redo = await forge.commit_files(REPO, "trustacks/gen/y", [FileChange("a.txt", "3\n")], message="redo", parent=first)
    assert gh.repo(REPO).commits[redo]["parents"] == [first]
    assert gh.writes[-1][2] == {"sha": redo, "force": True}
    assert "b.txt" not in gh.repo(REPO).files("trustacks/gen/y")


async def test_branch_commits_and_branch_lifecycle(forge: GitHubForge, gh: FakeGitHub) -> None:
    sha = await forge.create_branch(REPO, "trustacks/tmp", from_ref="main")
    assert sha == gh.repo(REPO).refs["main"] == gh.repo(REPO).refs["trustacks/tmp"]
    assert await forge.branch_commits(REPO, "trustacks/tmp", "main") == []
    bot = await forge.commit_files(REPO, "trustacks/tmp", [FileChange("a", "1")], message="bot work")
    human = gh.push(REPO, "trustacks/tmp", {"b": "2"}, message="human fix", author=("Hu", "hu@example.com"))
    commits = await forge.branch_commits(REPO, "trustacks/tmp", "main")
    assert [c.sha for c in commits] == [human, bot]  # newest first
    assert commits[0].author_email == "hu@example.com" and commits[0].message == "human fix"
    assert commits[1].author_email == forge.bot_email  # the bot's identity, not the token's default
    assert await forge.branch_commits(REPO, "trustacks/never", "main") == []
    await forge.delete_branch(REPO, "trustacks/tmp")
    assert "trustacks/tmp" not in gh.repo(REPO).refs
    await forge.delete_branch(REPO, "trustacks/tmp")  # idempotent


# ====================================================================== the write guard


@pytest.mark.parametrize("branch", ["main", "feature/x", "trustacks/locked", "trustacks/../main", "refs/heads/main"])
async def test_guard_refuses_every_write_path(forge: GitHubForge, gh: FakeGitHub, branch: str) -> None:
    gh.push(REPO, "feature/x", {"f": "1"})
    human_pr = gh.open_pull(REPO, head="feature/x", title="human")
    gh.push(REPO, "trustacks/locked", {"l": "1"})
    attempts = [
        forge.create_branch(REPO, branch, from_ref="main"),
        forge.commit_files(REPO, branch, [FileChange("a.txt", "x")], message="m"),
        forge.delete_branch(REPO, branch),
        forge.open_change_request(REPO, head=branch, base="main", title="t", body="b"),
        forge.update_change_request(REPO, human_pr, title="hijack"),
        forge.add_labels(REPO, human_pr, ["trustacks"]),
    ]
    for attempt in attempts:
        with pytest.raises(WriteRefused):
            await attempt
    assert gh.writes == []
    # only reads went out (the GraphQL query for the protection rules is a POST that reads)
    assert [r for r in gh.requests if r[0] != "GET" and r[1] != "/graphql"] == []


async def test_guard_refuses_a_default_branch_under_the_prefix(gh: FakeGitHub, session, token, sleeps) -> None:
    gh.add_repo("acme/odd", default_branch="trustacks/main")
    forge = GitHubForge(session, StaticToken(token), base_url=gh.url, sleep=sleeps)
    with pytest.raises(WriteRefused, match="default branch"):
        await forge.commit_files("acme/odd", "trustacks/main", [FileChange("a", "b")], message="m")
    assert gh.writes == []


async def test_dry_run_writes_nothing(gh: FakeGitHub, session, token, sleeps) -> None:
    forge = GitHubForge(session, StaticToken(token), base_url=gh.url, sleep=sleeps, dry_run=True)
    await forge.commit_files(REPO, "trustacks/x", [FileChange("a", "b")], message="m")
    await forge.open_change_request(REPO, head="trustacks/x", base="main", title="t", body="b")
    await forge.comment(REPO, 1, "hi")
    await forge.add_reaction(REPO, 1)
    assert gh.writes == []
    assert [s[0] for s in forge.suppressed] == ["commit_files", "open_change_request", "comment", "add_reaction"]


# ====================================================================== pull requests, comments, labels


async def test_reopening_updates_the_existing_pr(forge: GitHubForge, gh: FakeGitHub) -> None:
    await forge.commit_files(REPO, "trustacks/profile/acme", [FileChange("p.yaml", "a: 1\n")], message="m")
    first = await forge.open_change_request(REPO, head="trustacks/profile/acme", base="main", title="Profile", body="v1")
    again = await forge.open_change_request(REPO, head="trustacks/profile/acme", base="main", title="Profile", body="v2")
    same = await forge.open_change_request(REPO, head="trustacks/profile/acme", base="main", title="Profile", body="v2")
    assert first.number == again.number == same.number
    assert len(posts(gh, "/pulls")) == 1
    assert len([w for w in gh.writes if w[0] == "PATCH" and w[1].endswith(f"/pulls/{first.number}")]) == 1
    pr = await forge.get_change_request(REPO, first.number)
    assert (pr.title, pr.body, pr.author, pr.state) == ("Profile", "v2", "trustacks[bot]", ChangeRequestState.OPEN)
    assert pr.head_sha == gh.repo(REPO).refs["trustacks/profile/acme"]
    found = await forge.find_change_requests(REPO, head="trustacks/profile/acme")
    assert [p.number for p in found] == [first.number]


async def test_change_request_states(forge: GitHubForge, gh: FakeGitHub) -> None:
    for name in ("a", "b", "c"):
        await forge.commit_files(REPO, f"trustacks/{name}", [FileChange(name, name)], message=name)
        await forge.open_change_request(REPO, head=f"trustacks/{name}", base="main", title=name, body="")
    closed = await forge.update_change_request(REPO, 2, state="closed")
    assert closed.state is ChangeRequestState.CLOSED
    gh.merge_pull(REPO, 3, by="ada")
    merged = await forge.get_change_request(REPO, 3)
    assert merged.state is ChangeRequestState.MERGED and merged.merged_by == "ada"
    assert [p.number for p in await forge.find_change_requests(REPO)] == [1]
    assert [p.number for p in await forge.find_change_requests(REPO, state="closed")] == [2]
    assert [p.number for p in await forge.find_change_requests(REPO, state="merged")] == [3]
    assert sorted(p.number for p in await forge.find_change_requests(REPO, state="all")) == [1, 2, 3]
    with pytest.raises(ForgeError, match="never merge"):
        await forge.update_change_request(REPO, 1, state="merged")
    with pytest.raises(NotFoundError):
        await forge.get_change_request(REPO, 99)


async def test_comments_and_labels(forge: GitHubForge, gh: FakeGitHub) -> None:
    await forge.commit_files(REPO, "trustacks/c", [FileChange("c", "c")], message="c")
    pr = await forge.open_change_request(REPO, head="trustacks/c", base="main", title="c", body="")
    gh.add_comment(REPO, pr.number, "/trustacks help", user="wes")
    mine = await forge.comment(REPO, pr.number, "<!-- trustacks:status -->\nworking")
    edited = await forge.edit_comment(REPO, pr.number, mine.id, "<!-- trustacks:status -->\ndone")
    gh.add_comment(REPO, pr.number, "thanks", user="ada")
    comments = await forge.list_comments(REPO, pr.number)  # three comments over two pages
    assert [(c.author, c.body) for c in comments] == [
        ("wes", "/trustacks help"), ("trustacks[bot]", edited.body), ("ada", "thanks")]
    await forge.add_labels(REPO, pr.number, ["trustacks", "profile"])
    await forge.add_labels(REPO, pr.number, ["profile"])
    assert (await forge.get_change_request(REPO, pr.number)).labels == ["trustacks", "profile"]


async def test_reaction(forge: GitHubForge, gh: FakeGitHub) -> None:
    number = gh.add_issue(REPO, "dashboard")
    cid = gh.add_comment(REPO, number, "/trustacks discover", user="wes")
    assert await forge.add_reaction(REPO, cid, "eyes") > 0
    assert [(r["content"], r["user"]["login"]) for r in gh.repo(REPO).reactions] == [("eyes", "trustacks[bot]")]
    with pytest.raises(ForgeError, match="unknown reaction"):
        await forge.add_reaction(REPO, cid, "thumbsup")


# ====================================================================== checks and permissions


async def test_check_run_annotations_in_batches_of_50(forge: GitHubForge, gh: FakeGitHub) -> None:
    sha = gh.repo(REPO).refs["main"]
    notes = [Annotation("apps/payments/values.yaml", i, f"finding {i}", level=("error", "warning", "notice")[i % 3])
             for i in range(1, 121)]
    run = await forge.set_check(REPO, sha, name="trustacks/policy", conclusion=CheckConclusion.FAILURE,
                                title="2 denials", summary="TS-PROC-001 ...", annotations=notes)
    stored = gh.repo(REPO).check_runs[run.id]
    assert (stored["status"], stored["conclusion"], stored["head_sha"]) == ("completed", "failure", sha)
    assert [a["message"] for a in stored["_annotations"]] == [n.message for n in notes]
    assert {a["annotation_level"] for a in stored["_annotations"]} == {"failure", "warning", "notice"}
    sizes = [len(w[2]["output"]["annotations"]) for w in gh.writes if "check-runs" in w[1]]
    assert sizes == [50, 50, 20]
    pending = await forge.set_check(REPO, sha, name="trustacks/policy", conclusion=CheckConclusion.PENDING,
                                    title="evaluating", summary="")
    assert gh.repo(REPO).check_runs[pending.id]["status"] == "in_progress"
    done = await forge.set_check(REPO, sha, name="trustacks/policy", conclusion=CheckConclusion.SUCCESS,
                                 title="pass", summary="ok")
    assert gh.repo(REPO).check_runs[done.id]["conclusion"] == "success"


@pytest.mark.parametrize("user,expected", [
    ("ada", Permission.ADMIN), ("max", Permission.MAINTAIN), ("wes", Permission.WRITE),
    ("tia", Permission.TRIAGE), ("rae", Permission.READ), ("stranger", Permission.NONE)])
async def test_user_permission(forge: GitHubForge, user: str, expected: Permission) -> None:
    assert await forge.user_permission(REPO, user) is expected


# ====================================================================== rate limits and errors


async def test_retry_after_is_honoured(forge: GitHubForge, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail(429, times=2, headers={"retry-after": "7"}, body={"message": "Too Many Requests"})
    assert await forge.default_branch(REPO) == "main"
    assert sleeps.calls == [7.0, 7.0]


async def test_primary_limit_waits_until_reset(forge: GitHubForge, gh: FakeGitHub, sleeps: Sleeps, clock: Clock) -> None:
    gh.rate_limit_primary(reset_at=clock.now + 30)
    assert await forge.branch_sha(REPO, "main")
    assert sleeps.calls == [31.0]


async def test_spent_primary_limit_waits_before_sending(forge: GitHubForge, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.set_rate_remaining(1, reset_in=45)
    await forge.default_branch(REPO)  # remaining 1: no wait
    await forge.default_branch(REPO)  # answered with remaining 0
    assert sleeps.calls == []
    gh.set_rate_remaining(4000)
    await forge.default_branch(REPO)  # would earn a 403: waits for the reset first
    assert sleeps.calls == [46.0]
    assert not [r for r in gh.requests if r[2] != 200]


async def test_secondary_limit_backs_off_from_a_minute(forge: GitHubForge, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.rate_limit_secondary(times=2)
    gh.rate_limit_secondary(times=1, retry_after=5, status=429)
    assert await forge.list_files(REPO)
    assert sleeps.calls == [60.0, 120.0, 5.0]


async def test_server_errors_retried_with_backoff_only_when_safe(forge: GitHubForge, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.server_error(502, times=2, method="GET")
    assert await forge.default_branch(REPO) == "main"
    assert sleeps.calls == [1.0, 2.0]
    gh.add_issue(REPO, "x")
    gh.server_error(502, times=1, method="POST")
    with pytest.raises(ForgeError, match="server error"):
        await forge.comment(REPO, 1, "once")  # a comment behind a 502 may exist: not repeated
    assert len([r for r in gh.requests if r[0] == "POST"]) == 1


async def test_bounded_retries_then_rate_limited_error(gh: FakeGitHub, session, token, sleeps, clock) -> None:
    forge = GitHubForge(session, StaticToken(token), base_url=gh.url, sleep=sleeps, clock=clock,
                        retry=RetryPolicy(max_attempts=3))
    gh.rate_limit_secondary(times=10, retry_after=10)
    with pytest.raises(RateLimitedError) as info:
        await forge.default_branch(REPO)
    assert sleeps.calls == [10.0, 10.0]
    assert info.value.retry_at == clock.now + 10
    sleeps.calls.clear()
    gh._failures.clear()
    gh.rate_limit_primary(reset_at=clock.now + 3600)  # longer than max_wait: give up without sleeping
    with pytest.raises(RateLimitedError, match="retried"):
        await forge.default_branch(REPO)
    assert sleeps.calls == []


async def test_errors_are_clear_and_never_carry_the_token(
    forge: GitHubForge, gh: FakeGitHub, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NotFoundError, match=r"GitHub GET /repos/acme/nope: not found .*installed"):
        await forge.default_branch("acme/nope")
    gh.fail(403, body={"message": f"token {token} lacks the checks permission"})
    with pytest.raises(ForgeError) as info:
        await forge.default_branch(REPO)
    assert token not in str(info.value) and "***" in str(info.value) and "permissions" in str(info.value)
    with pytest.raises(ForgeError, match="422"):
        await forge.create_branch(REPO, "trustacks/x", from_ref="0" * 40)
    gh.rate_limit_secondary(retry_after=1)
    await forge.default_branch(REPO)
    with pytest.raises(ForgeError, match="not a GitHub repository"):
        await forge.default_branch("acme/../x")
    assert token not in caplog.text and "retrying" in caplog.text
    assert token not in repr(forge) and token not in repr(StaticToken(token))


async def test_bad_static_token_is_a_clear_error(gh: FakeGitHub, session, sleeps) -> None:
    forge = GitHubForge(session, StaticToken("ghs_wrong"), base_url=gh.url, sleep=sleeps)
    with pytest.raises(ForgeError, match="bad credentials") as info:
        await forge.default_branch(REPO)
    assert "ghs_wrong" not in str(info.value)


def test_retry_policy_edges() -> None:
    policy = RetryPolicy()
    now = 1_800_000_000.0
    # Retry-After as an HTTP date
    when = decide(429, {"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, attempt=1, now=now, policy=policy)
    assert when is not None and when.kind is Limit.SECONDARY and when.delay == 30  # now is 08:00:00 that day
    assert decide(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, attempt=1, now=now, policy=policy).delay == 0
    # a plain 403 (no limit headers, no limit message) is a permission problem
    assert classify(403, {"x-ratelimit-remaining": "4999"}, "Resource not accessible by integration") is None
    assert decide(403, {}, message="Must have admin rights", attempt=1, now=now, policy=policy) is None
    assert decide(404, {}, attempt=1, now=now, policy=policy) is None
    # 5xx: retried only when idempotent; backoff capped
    assert decide(502, {}, attempt=1, now=now, policy=policy, idempotent=False) is None
    assert decide(503, {}, attempt=4, now=now, policy=RetryPolicy(max_attempts=9, backoff_max=5)).delay == 5
    # GitLab's headers spell the reset without the x- prefix
    gl = decide(429, {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(now) + 9)}, attempt=1, now=now, policy=policy)
    assert gl.kind is Limit.PRIMARY and gl.delay == 10
    # a 429 with nothing to go by backs off from a minute
    assert decide(429, {}, attempt=2, now=now, policy=RetryPolicy(max_wait=1000)).delay == 120


# ====================================================================== GitHub App tokens


async def test_app_tokens_cached_refreshed_and_renewed_after_401(gh: FakeGitHub, session, sleeps, clock: Clock) -> None:
    key = gh.register_app(4242)
    gh.add_installation(99, [REPO])
    app = GitHubApp(4242, key, session=session, base_url=gh.url, clock=clock, sleep=sleeps)
    tokens = app.installation(99)
    assert app.installation(99) is tokens
    forge = GitHubForge(session, tokens, base_url=gh.url, sleep=sleeps, clock=clock)

    await forge.default_branch(REPO)
    await forge.list_files(REPO)
    assert len(gh.issued) == 1  # cached
    claims = gh.jwts[0]
    assert claims["iss"] == "4242"
    assert claims["iat"] == int(clock.now) - 60 and claims["exp"] - claims["iat"] == 600
    assert tokens.expires_at == clock.now + 3600

    clock.now += 3600 - 299  # inside the refresh margin: a new token before the old one expires
    await forge.default_branch(REPO)
    assert len(gh.issued) == 2

    gh.revoke(gh.issued[-1])  # GitHub answers 401: the forge drops the token and exchanges once
    assert await forge.default_branch(REPO) == "main"
    assert len(gh.issued) == 3
    for secret in (key, *gh.issued):
        assert secret not in repr(app) and secret not in repr(tokens) and secret not in repr(forge)


async def test_app_jwt_signed_with_the_wrong_key_is_refused(gh: FakeGitHub, session, sleeps, clock: Clock) -> None:
    gh.register_app(4242)
    gh.add_installation(99, [REPO])
    other = FakeGitHub().register_app(4242)  # a different key
    app = GitHubApp(4242, other, session=session, base_url=gh.url, clock=clock, sleep=sleeps)
    forge = GitHubForge(session, app.installation(99), base_url=gh.url, sleep=sleeps)
    with pytest.raises(ForgeError, match="bad credentials") as info:
        await forge.default_branch(REPO)
    assert other not in str(info.value)
    assert jwt.decode(app.jwt(), options={"verify_signature": False})["iss"] == "4242"


# ====================================================================== webhook fixtures


def _fixtures_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_webhook_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_webhook_fixtures_are_current_and_verify_with_gidgethub() -> None:
    from gidgethub import ValidationFailure, sansio

    fixtures = _fixtures_module()
    root = fixtures.ROOT
    built = fixtures.build()
    assert all((root / rel).read_bytes() == data for rel, data in built.items()), "re-run make_fixtures.py"
    github = sorted(p.parent.name for p in built if p.parts[0] == "github" and p.name == "body.json")
    assert github == ["installation.created", "installation_repositories.added", "issue_comment.created",
                      "issues.edited", "pull_request.closed_merged", "pull_request.opened",
                      "pull_request.synchronize", "push.default_branch"]
    for name in github:
        headers = json.loads((root / "github" / name / "headers.json").read_text())
        body = (root / "github" / name / "body.json").read_bytes()
        event = sansio.Event.from_http({k.lower(): v for k, v in headers.items()}, body, secret=fixtures.SECRET)
        assert event.event == name.split(".")[0]
        assert event.data["installation"]["id"] == fixtures.INSTALLATION_ID
        assert event.data["sender"]["login"]
        if event.event not in ("push", "installation", "installation_repositories"):
            assert event.data["action"] == name.split(".")[1].split("_")[0]
        with pytest.raises(ValidationFailure):
            sansio.Event.from_http({k.lower(): v for k, v in headers.items()}, body + b" ", secret=fixtures.SECRET)


# ====================================================================== the shared fixtures other tests import

from tests.fakes import fake_github, github_forge  # noqa: E402,F401  (pytest finds imported fixtures)
from tests.forges.conftest import Clock


async def test_shared_fixtures(fake_github: FakeGitHub, github_forge: GitHubForge) -> None:
    fake_github.add_repo("acme/payments-fastapi", files={"app/main.py": "app = FastAPI()\n"})
    assert await github_forge.read_file("acme/payments-fastapi", "app/main.py") == b"app = FastAPI()\n"
    fake_github.rate_limit_secondary(retry_after=2)
    await github_forge.default_branch("acme/payments-fastapi")
    assert github_forge.sleeps.calls == [2.0]
