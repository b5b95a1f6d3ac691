"""The GitHub forge's write guard reads branch protection the way GitHub keeps it, against the fake GitHub.

Classic branch protection rules are patterns (GraphQL `branchProtectionRules`), and rulesets apply to
branch names (REST "Get rules for a branch"); both cover branches that do not exist yet, which is the
bot's case: it creates `trustacks/...` branches. When protection cannot be read, the write is refused.
"""

from __future__ import annotations

import aiohttp
import pytest

from bot.forges.base import ForgeError, ProtectionUnknown, WriteRefused
from bot.forges.github import GitHubForge, branch_pattern_matches, graphql_url
from bot.forges.github_auth import GitHubApp, StaticToken
from bot.models import FileChange
from tests.fakes import FakeGitHub, Sleeps
from tests.forges.conftest import Clock

REPO = "acme/payments"
BRANCH = "trustacks/generate/acme-payments"


@pytest.fixture
async def gh(clock: Clock):
    async with FakeGitHub(clock=clock, max_per_page=2) as fake:  # tiny pages: rules and patterns paginate
        fake.add_repo(REPO, files={"README.md": "# payments\n"}, protected=["main"])
        yield fake
        assert fake.errors == []  # the fake saw only request shapes it knows (GraphQL query included)


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def forge(gh: FakeGitHub, session, sleeps: Sleeps, clock: Clock) -> GitHubForge:
    return GitHubForge(session, StaticToken(gh.add_token()), base_url=gh.url, sleep=sleeps, clock=clock)


def ref_writes(gh: FakeGitHub) -> list[tuple]:
    return [w for w in gh.writes if "/git/refs" in w[1]]


async def assert_every_write_refused(forge: GitHubForge, gh: FakeGitHub, match: str) -> None:
    attempts = [
        lambda: forge.create_branch(REPO, BRANCH, from_ref="main"),
        lambda: forge.commit_files(REPO, BRANCH, [FileChange(".github/workflows/ci.yml", "on: push\n")], message="m"),
        lambda: forge.open_change_request(REPO, head=BRANCH, base="main", title="t", body="b"),
        lambda: forge.delete_branch(REPO, BRANCH),
    ]
    for attempt in attempts:
        with pytest.raises(WriteRefused, match=match):
            await attempt()
    assert gh.writes == []
    assert BRANCH not in gh.repo(REPO).refs


# ====================================================================== classic branch protection rules


@pytest.mark.parametrize("pattern", [BRANCH, "trustacks/generate/*", "trustacks/**/*", "trustacks**/**/*",
                                     "*/generate/acme-*", "trustacks/generate/acme-pay?ents", "**/*"])
async def test_a_pattern_protecting_a_branch_not_created_yet_refuses_the_write(
    forge: GitHubForge, gh: FakeGitHub, pattern: str
) -> None:
    gh.repo(REPO).protected |= {"release/*", pattern}
    await assert_every_write_refused(forge, gh, f"protected \\(branch protection rule '{_re(pattern)}'\\)")


@pytest.mark.parametrize("pattern", ["trustacks/*", "*", "trustacks/generate", "trustacks/generate/*/x",
                                     "Trustacks/generate/*", "trustacks/[!g]*/*"])
async def test_a_pattern_that_does_not_cover_the_branch_lets_the_write_through(
    forge: GitHubForge, gh: FakeGitHub, pattern: str
) -> None:
    """GitHub's `*` stays within one `/` segment (FNM_PATHNAME), and matching is case-sensitive."""
    gh.repo(REPO).protected.add(pattern)
    sha = await forge.commit_files(REPO, BRANCH, [FileChange("a.txt", "x\n")], message="m")
    assert gh.repo(REPO).refs[BRANCH] == sha


# ====================================================================== rulesets


@pytest.mark.parametrize("include", [["refs/heads/trustacks/**"], ["refs/heads/trustacks/generate/*"], ["~ALL"],
                                     [f"refs/heads/{BRANCH}"]])
async def test_a_ruleset_on_the_branch_refuses_the_write(forge: GitHubForge, gh: FakeGitHub, include: list[str]) -> None:
    rid = gh.add_ruleset(REPO, include=include, rules=["required_signatures", "pull_request", "non_fast_forward"])
    await assert_every_write_refused(forge, gh, f"ruleset {rid} from Repository {REPO}: ")


async def test_org_wide_content_rules_do_not_block_the_bots_branches(forge: GitHubForge, gh: FakeGitHub) -> None:
    """A security-minded org's `~ALL` ruleset requiring signed commits and commit-message patterns constrains what a
    push contains (GitHub enforces it on the push; the App's API commits are signed): not a protected branch."""
    gh.add_ruleset(REPO, include=["~ALL"], rules=["required_signatures", "commit_message_pattern",
                                                   "committer_email_pattern", "max_file_size"], organization=True)
    assert len(await forge.branch_rules(REPO, BRANCH)) == 4
    assert await forge.protection(REPO, BRANCH) is None
    sha = await forge.commit_files(REPO, BRANCH, [FileChange("a.txt", "x\n")], message="m")
    assert gh.repo(REPO).refs[BRANCH] == sha
    # the same ruleset plus one rule that guards the ref: refused, and the reason names only that rule
    rid = gh.add_ruleset(REPO, include=["~ALL"], rules=["required_signatures", "non_fast_forward"])
    forge._protection_cache.clear()
    reason = await forge.protection(REPO, BRANCH)
    assert reason == f"ruleset {rid} from Repository {REPO}: non_fast_forward"


async def test_an_organisation_ruleset_refuses_the_write(forge: GitHubForge, gh: FakeGitHub) -> None:
    rid = gh.add_ruleset(REPO, include=["refs/heads/trustacks/**"], rules=["update"], organization=True)
    await assert_every_write_refused(forge, gh, f"ruleset {rid} from Organization acme: update")


async def test_rulesets_that_do_not_apply_let_the_write_through(forge: GitHubForge, gh: FakeGitHub) -> None:
    gh.add_ruleset(REPO, include=["~DEFAULT_BRANCH"])  # main only
    gh.add_ruleset(REPO, include=["refs/heads/trustacks/*"])  # `*` does not cross `/`
    gh.add_ruleset(REPO, include=["~ALL"], exclude=["refs/heads/trustacks/**"])
    gh.add_ruleset(REPO, include=["~ALL"], enforcement="evaluate")  # evaluate-only rulesets are not returned
    gh.add_ruleset(REPO, include=["~ALL"], enforcement="disabled")
    assert await forge.branch_rules(REPO, BRANCH) == []
    assert await forge.create_branch(REPO, BRANCH, from_ref="main") == gh.repo(REPO).refs["main"]
    assert (await forge.protection(REPO, "main") or "").startswith("ruleset ")  # ~DEFAULT_BRANCH covers main


async def test_branch_rules_come_back_in_github_shape_across_pages(forge: GitHubForge, gh: FakeGitHub) -> None:
    rid = gh.add_ruleset(REPO, include=["~ALL"], rules=[
        "creation", "deletion", {"type": "pull_request", "parameters": {"required_approving_review_count": 1}}])
    rules = await forge.branch_rules(REPO, BRANCH)
    assert [r["type"] for r in rules] == ["creation", "deletion", "pull_request"]  # 3 rules over pages of 2
    assert rules[2] == {"type": "pull_request", "parameters": {"required_approving_review_count": 1},
                        "ruleset_source_type": "Repository", "ruleset_source": REPO, "ruleset_id": rid}
    assert any(r[1].startswith(f"/repos/{REPO}/rules/branches/{BRANCH}?") and "page=2" in r[1] for r in gh.requests)


# ====================================================================== nothing protects the branch


async def test_no_protection_lets_every_write_through(forge: GitHubForge, gh: FakeGitHub) -> None:
    assert await forge.protection(REPO, BRANCH) is None
    await forge.create_branch(REPO, BRANCH, from_ref="main")
    sha = await forge.commit_files(REPO, BRANCH, [FileChange("a.txt", "x\n")], message="m")
    pr = await forge.open_change_request(REPO, head=BRANCH, base="main", title="t", body="b")
    assert gh.repo(REPO).refs[BRANCH] == sha and pr.head == BRANCH
    # the protection reads are reads: they are not among the recorded writes
    assert not [w for w in gh.writes if w[1] == "/graphql" or "/rules/" in w[1]]


async def test_protection_is_read_once_per_ttl_and_errors_are_not_cached(
    forge: GitHubForge, gh: FakeGitHub, clock: Clock
) -> None:
    def reads() -> tuple[int, int]:
        return (len([r for r in gh.requests if "/rules/branches/" in r[1]]),
                len([r for r in gh.requests if r[1] == "/graphql"]))

    await forge.create_branch(REPO, BRANCH, from_ref="main")
    await forge.commit_files(REPO, BRANCH, [FileChange("a.txt", "x\n")], message="m")
    await forge.open_change_request(REPO, head=BRANCH, base="main", title="t", body="b")
    assert reads() == (1, 1)  # three guarded writes, one read of each source

    gh.repo(REPO).protected.add("trustacks/generate/*")  # an admin protects the bot's branches
    clock.now += 61  # past the TTL: read again, and refused from then on
    await assert_every_write_refused_after_create(forge, gh)
    assert reads() == (2, 2)

    gh.repo(REPO).protected.discard("trustacks/generate/*")
    clock.now += 61
    gh.fail(403, path=r"/rules/branches/", body={"message": "Resource not accessible by integration"})
    with pytest.raises(ProtectionUnknown):
        await forge.commit_files(REPO, BRANCH, [FileChange("a.txt", "y\n")], message="m")
    await forge.commit_files(REPO, BRANCH, [FileChange("a.txt", "y\n")], message="m")  # read again, not cached


async def assert_every_write_refused_after_create(forge: GitHubForge, gh: FakeGitHub) -> None:
    before = list(gh.writes)
    with pytest.raises(WriteRefused, match="branch protection rule 'trustacks/generate/\\*'"):
        await forge.commit_files(REPO, BRANCH, [FileChange("a.txt", "z\n")], message="m")
    with pytest.raises(WriteRefused, match="protected"):
        await forge.delete_branch(REPO, BRANCH)
    assert gh.writes == before


# ====================================================================== protection that cannot be read


@pytest.mark.parametrize("status", [403, 404, 500, 502])
async def test_unreadable_rulesets_refuse_the_write(forge: GitHubForge, gh: FakeGitHub, status: int) -> None:
    gh.fail(status, times=1000, path=r"/rules/branches/", body={"message": "nope"})
    await assert_every_write_refused(forge, gh, "could not be read, and the bot never assumes")


@pytest.mark.parametrize("status", [403, 502])
async def test_unreadable_classic_rules_refuse_the_write(forge: GitHubForge, gh: FakeGitHub, status: int) -> None:
    gh.fail(status, times=1000, method="POST", path=r"^/graphql$", body={"message": "nope"})
    await assert_every_write_refused(forge, gh, "could not be read")


async def test_an_installation_without_administration_read_is_refused(
    gh: FakeGitHub, session, sleeps: Sleeps, clock: Clock
) -> None:
    """Without "Administration: read" GitHub hides classic rules: the guard refuses instead of seeing none."""
    key = gh.register_app(4242)
    narrow = {"contents": "write", "pull_requests": "write", "metadata": "read"}
    gh.add_installation(99, [REPO], permissions=narrow)
    app = GitHubApp(4242, key, session=session, base_url=gh.url, clock=clock, sleep=sleeps)
    forge = GitHubForge(session, app.installation(99), base_url=gh.url, sleep=sleeps, clock=clock)
    await assert_every_write_refused(forge, gh, "lacks the 'Administration: read' permission")
    assert app.installation(99).permissions == narrow
    assert not [r for r in gh.requests if r[1] == "/graphql"]  # refused before asking

    # a token whose permissions the forge cannot see (a static token) gets GitHub's own FORBIDDEN answer
    static = GitHubForge(session, StaticToken(gh.add_token(installation_id=99)), base_url=gh.url, sleep=sleeps,
                         clock=clock)
    with pytest.raises(ProtectionUnknown, match="FORBIDDEN: Resource not accessible by integration"):
        await static.create_branch(REPO, BRANCH, from_ref="main")

    gh.installation_permissions[99] = {**narrow, "administration": "read"}  # the owner accepts the permission
    fresh = GitHubApp(4242, key, session=session, base_url=gh.url, clock=clock, sleep=sleeps)
    granted = GitHubForge(session, fresh.installation(99), base_url=gh.url, sleep=sleeps, clock=clock)
    await granted.create_branch(REPO, BRANCH, from_ref="main")
    assert BRANCH in gh.repo(REPO).refs


async def test_a_repository_graphql_cannot_resolve_is_an_error_not_an_empty_list(forge: GitHubForge) -> None:
    with pytest.raises(ForgeError, match="NOT_FOUND: Could not resolve to a Repository"):
        await forge.protected_branches("acme/none")
    with pytest.raises(ProtectionUnknown, match="could not be read"):
        await forge.protection("acme/none", BRANCH)


# ====================================================================== pure pieces


@pytest.mark.parametrize(("pattern", "branch", "expected"), [
    ("main", "main", True), ("release/*", "release/1.0", True), ("release/*", "release/1.0/hotfix", False),
    ("qa/**/*", "qa/foo/bar/hello-world", True), ("qa/**/*", "qa/foo", True), ("qa**/**/*", "qa-x/a/b", True),
    ("*release*", "my-release-1", True), ("*", "a/b", False), ("qa/**", "qa/foo/bar", False),
    ("release/[0-9]*", "release/1.0", True), ("release/[!0-9]*", "release/1.0", False),
    ("release/[^0-9]*", "release/x", True), ("ma?n", "ma/n", False), ("x[/]y", "x/y", False),
    ("{a,b}", "a", False), ("{a,b}", "{a,b}", True), ("[unclosed", "[unclosed", True), ("Main", "main", False),
])
def test_branch_pattern_semantics(pattern: str, branch: str, expected: bool) -> None:
    """GitHub: File.fnmatch with FNM_PATHNAME, no FNM_EXTGLOB (docs: managing a branch protection rule)."""
    assert branch_pattern_matches(pattern, branch) is expected


def test_graphql_url_for_github_and_enterprise_server() -> None:
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/graphql"
    assert graphql_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/graphql"


def _re(text: str) -> str:
    import re

    return re.escape(text)
