"""The bot never writes to a default or protected branch, nor outside `trustacks/`: a property over whole stories.

Hypothesis writes the story: installations, pushes (humans pushing to the bot's own branches
included), PRs opened, synchronized, merged and closed (bot PRs, human PRs, human PRs that copy the
bot's marker or branch name), comments with random `/trustacks ...` commands from admins, writers,
readers, strangers and bots, and fixture payloads mutated at random. Every delivery goes through the
real dispatcher (`bot.handlers.make_dispatcher`) to the real forge client: the GitHub forge against
the fake GitHub API, and the local forge on real git repositories. After every delivery:

1. every ref the bot wrote or tried to write is under `trustacks/`, and is neither the default
   branch nor a protected one (the fake records attempts, so a refused write still fails the test);
2. no branch outside `trustacks/` moved during the delivery (read back from the forge itself);
3. PRs are opened only from `trustacks/` heads; PR updates and labels touch only the bot's PRs;
   only the bot's own comments are edited;
4. a commit a human pushed to a bot branch stays in that branch's history (never force-pushed
   away), unless a `/trustacks recreate` was requested on it;
5. the dispatcher fails only with the errors a job may fail with (`PayloadError`, `ForgeError`).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from bot import pipeline
from bot.config import load_settings
from bot.demo import DEMO_DECLARED, read_app_files
from bot.forges.base import ForgeError
from bot.handlers import make_dispatcher
from bot.handlers.events import PayloadError
from bot.handlers.forge_factory import ForgeFactory
from bot.models import BRANCH_PREFIX
from bot.policy import PolicyEngine
from bot.profile import PROFILE_PATH, Profile
from tests.fakes import FakeGitHub

from . import payloads
from .worlds import APP, BOT, OTHER, PLATFORM, REPOS, USERS, GitHubWorld, LocalWorld, Write

ROOT = Path(__file__).resolve().parents[2]
SECRET = "write-safety-webhook-secret"
ALLOWED_ERRORS = (PayloadError, ForgeError)
AUTHORS = [*USERS, "mallory", BOT, "renovate[bot]"]
BOT_BRANCHES = [pipeline.profile_branch(PLATFORM), pipeline.generate_branch(APP), pipeline.generate_branch(PLATFORM),
                "trustacks/waive/soc2-cc6-1-001-acme-payments-fastapi", "trustacks/locked/x"]
COMMANDS = ["help", "help generate", "discover", "generate", "generate ci", "generate docker helm", "generate all",
            "generate bogus", "explain", "explain TS-PROF-002", "explain SOC2-CC6.1-001", "rules", "rebase", "recreate",
            "profile show", "gaps", "deploy prod", "approve", "merge",
            "waive SOC2-CC6.1-001 --until 2099-01-01 --reason 'accepted by the risk board'",
            "waive TS-PROF-002 --until 2099-01-01 --reason 'constitution waiver attempt'"]

log = logging.getLogger(__name__)


# ====================================================================== seeds (once per module)


@pytest.fixture(scope="module")
def seeds() -> dict[str, Any]:
    """Repository contents, read once."""
    app_files = read_app_files(ROOT / "fixtures" / "apps" / "payments-fastapi")
    other_files = read_app_files(ROOT / "fixtures" / "apps" / "orders-django")
    return {"files": {APP: app_files, PLATFORM: {"README.md": "# Platform\n"}, OTHER: other_files}}


@pytest.fixture(scope="module")
def policy():
    engine = PolicyEngine.load(packs=("soc2",))
    yield engine
    engine.close()


# ====================================================================== the story


def comment_text() -> st.SearchStrategy[str]:
    command = st.sampled_from(COMMANDS).map(lambda c: "/trustacks " + c)
    line = st.one_of(command, command, st.text(max_size=40), st.just("@trustacks generate"),
                     st.just("    /trustacks recreate"), st.just("```\n/trustacks rebase\n```"))
    return st.lists(line, min_size=1, max_size=3).map("\n".join)


class Story:
    """Plays one hypothesis-drawn story against a world and checks the invariants after each delivery."""

    def __init__(self, world: Any, dispatch: Any, data: Any, outcomes: list[tuple[str, str]]) -> None:
        self.world, self.dispatch, self.data, self.outcomes = world, dispatch, data, outcomes
        self.ids = itertools.count(1)
        self.human_heads: dict[tuple[str, str], str] = {}  # (repo, bot branch) -> last human commit on it
        self.unexpected: list[str] = []

    def draw(self, strategy: st.SearchStrategy[Any], label: str) -> Any:
        return self.data.draw(strategy, label=label)

    # ------------------------------------------------------------------ delivering

    async def deliver(self, event: str, payload: dict[str, Any], *, exempt_branch: tuple[str, str] | None = None) -> None:
        refs_before = await self.world.refs()
        note(f"deliver {event} {summarize(payload)}")
        job = SimpleNamespace(id=next(self.ids), forge="github", event=event, payload=payload,
                              delivery_id=str(uuid.uuid4()), attempts=1)
        outcome = "?"
        try:
            await self.dispatch(job)
            outcome = self.outcomes[-1][1] if self.outcomes else "?"
        except ALLOWED_ERRORS as exc:
            outcome = f"{type(exc).__name__}: {exc}"
            log.debug("delivery failed as a job may: %s", exc)
        except Exception as exc:  # noqa: BLE001 - collected and reported by the test
            outcome = "UNEXPECTED " + type(exc).__name__
            self.unexpected.append(f"{event} {payload.get('action')}: {type(exc).__name__}: {exc}")
        note(f"  -> {outcome[:200]}")
        if exempt_branch is not None:
            self.human_heads.pop(exempt_branch, None)
        await self.check(refs_before, event)

    async def check(self, refs_before: dict[tuple[str, str], str], event: str) -> None:
        w = self.world
        for write in w.new_writes():
            assert_allowed(w, write, event)
        refs_after = await w.refs()
        for key in set(refs_before) | set(refs_after):
            repo, branch = key
            if not branch.startswith(BRANCH_PREFIX):
                assert refs_before.get(key) == refs_after.get(key), f"{event}: the bot moved {repo}@{branch}"
        for (repo, branch), human_sha in self.human_heads.items():
            head = refs_after.get((repo, branch))
            assert head is not None, f"{event}: the bot deleted {repo}@{branch}, which a human had pushed to"
            assert await w.is_ancestor(repo, human_sha, head), \
                f"{event}: the bot force-pushed {repo}@{branch} over a human commit {human_sha[:10]}"

    # ------------------------------------------------------------------ actions

    async def prelude(self) -> None:
        """Most stories start where the interesting writes are: onboarded, often with the Profile merged."""
        stage = self.draw(st.sampled_from(["fresh", "onboarded", "merged", "merged"]), "prelude")
        if stage == "fresh":
            return
        await self.deliver("installation", payloads.installation("created", list(REPOS)))
        if stage == "merged":
            profile_prs = [p for p in await self.world.prs() if p.author == BOT and p.head.startswith(
                BRANCH_PREFIX + "profile/") and p.state == "open"]
            for pr in profile_prs:
                await self.world.human_push(pr.repo, pr.head, await self._declared(pr.repo, pr.head), user="octo-admin")
                await self.merge_and_deliver(pr)

    async def _declared(self, repo: str, branch: str) -> dict[str, str | None]:
        text = await self.world.read(repo, branch, PROFILE_PATH)
        profile = Profile.loads(text or "")
        for category, entries in DEMO_DECLARED.items():
            if not profile.tools(category):
                profile.set_tools(category, copy.deepcopy(entries))
        return {PROFILE_PATH: profile.dumps()}

    async def merge_and_deliver(self, pr: Any) -> None:
        w = self.world
        merged = pr.state == "merged" or (pr.state == "open" and await w.human_merge(pr.repo, pr.number, user="octo-admin"))
        if merged:
            self.human_heads.pop((pr.repo, pr.head), None)  # merged: a human chose to land it; the branch is spent
        [pr] = [p for p in await w.prs() if p.repo == pr.repo and p.number == pr.number]
        await self.deliver("pull_request", payloads.pull_request(
            "closed", pr.repo, number=pr.number, head=pr.head, head_sha=pr.head_sha, base=pr.base,
            author=pr.author, pr_body=pr.body, default_branch=w.default(pr.repo), merged=merged, sender="octo-admin"))

    async def step(self) -> None:
        action = self.draw(st.sampled_from(["install", "repos", "push", "push", "pr", "pr", "merge", "comment",
                                            "comment", "comment", "comment", "mutated"]), "action")
        await getattr(self, f"do_{action}")()

    async def do_install(self) -> None:
        action = self.draw(st.sampled_from(["created", "new_permissions_accepted", "deleted", "suspend"]), "install")
        repos = self.draw(st.lists(st.sampled_from([*REPOS, "acme/ghost", "evil/elsewhere"]), max_size=4), "repos")
        await self.deliver("installation", payloads.installation(action, repos))

    async def do_repos(self) -> None:
        action = self.draw(st.sampled_from(["added", "removed"]), "repos action")
        repos = self.draw(st.lists(st.sampled_from([*REPOS, "acme/ghost"]), min_size=1, max_size=3), "repos")
        await self.deliver("installation_repositories", payloads.installation_repositories(action, repos))

    async def _human_files(self, repo: str, branch: str) -> dict[str, str | None]:
        """What a human changes: a README, a generated file, or the Profile (valid, missing CI, or garbage)."""
        w = self.world
        kind = self.draw(st.sampled_from(["readme", "workflow", "profile_declare", "profile_drop_ci", "garbage"]),
                         "edit")
        if kind == "workflow":
            path = ".github/workflows/trustacks-ci.yml"
            current = await w.read(repo, branch, path) or "on: push\n"
            return {path: current + "# tuned by a human\n"}
        if kind.startswith("profile") and repo == PLATFORM:
            text = await w.read(repo, branch, PROFILE_PATH)
            if text:
                try:
                    profile = Profile.loads(text)
                except ValueError:
                    return {PROFILE_PATH: text + "\n# human note\n"}
                if kind == "profile_declare":
                    for category, entries in DEMO_DECLARED.items():
                        if not profile.tools(category):
                            profile.set_tools(category, copy.deepcopy(entries))
                else:
                    profile.set_tools("ci", [])
                return {PROFILE_PATH: profile.dumps()}
        if kind == "garbage":
            return {PROFILE_PATH if repo == PLATFORM else "values.yaml": "tooling: [unclosed\n\x00binary"}
        return {"README.md": f"edited on {branch}\n"}

    async def do_push(self) -> None:
        w = self.world
        repo = self.draw(st.sampled_from(REPOS), "push repo")
        branch = self.draw(st.sampled_from([w.default(repo), "main", "release/1.0", "feature/x", *BOT_BRANCHES]),
                           "push branch")
        refs = await w.refs()
        sha = refs.get((repo, branch))
        if self.draw(st.booleans(), "human commits") and not w.is_protected(repo, branch):
            sha = await w.human_push(repo, branch, await self._human_files(repo, branch),
                                     user=self.draw(st.sampled_from(list(USERS)), "pusher"))
            if branch.startswith(BRANCH_PREFIX):
                self.human_heads[(repo, branch)] = sha
        deleted = sha is None and self.draw(st.booleans(), "deleted")
        await self.deliver("push", payloads.push(repo, branch, default_branch=w.default(repo), after=sha or "1" * 40,
                                                 sender=self.draw(st.sampled_from(AUTHORS), "sender"), deleted=deleted))

    async def _pick_pr(self, *, open_new: bool = True) -> Any:
        w = self.world
        prs = await w.prs()
        if prs and (not open_new or self.draw(st.booleans(), "existing pr")):
            return self.draw(st.sampled_from(sorted(prs, key=lambda p: (p.repo, p.number))), "pr")
        # A human opens a PR; sometimes from a branch named like the bot's, with the bot's marker copied in.
        repo = self.draw(st.sampled_from(REPOS), "new pr repo")
        spoof = self.draw(st.booleans(), "spoof")
        head = self.draw(st.sampled_from(BOT_BRANCHES), "spoof head") if spoof else "feature/x"
        user = self.draw(st.sampled_from(list(USERS)), "pr author")
        sha = await w.human_push(repo, head, await self._human_files(repo, head), user=user)
        if head.startswith(BRANCH_PREFIX):
            self.human_heads[(repo, head)] = sha
        marker = next((p.body for p in prs if p.author == BOT), "") if spoof else ""
        number = await w.human_open_pr(repo, head, user=user, body=marker or "please review")
        return next(p for p in await w.prs() if p.repo == repo and p.number == number)

    async def do_pr(self) -> None:
        pr = await self._pick_pr()
        action = self.draw(st.sampled_from(["opened", "synchronize", "reopened", "edited", "labeled", "closed"]),
                           "pr action")
        author = pr.author if self.draw(st.booleans(), "true author") else self.draw(st.sampled_from(AUTHORS), "claimed")
        if action == "closed" and pr.state == "open" and self.draw(st.booleans(), "close it"):
            await self.world.human_close(pr.repo, pr.number, user="octo-admin")
        await self.deliver("pull_request", payloads.pull_request(
            action, pr.repo, number=pr.number, head=pr.head, head_sha=pr.head_sha, base=pr.base, author=author,
            pr_body=pr.body, default_branch=self.world.default(pr.repo), merged=False,
            sender=self.draw(st.sampled_from(AUTHORS), "sender")))

    async def do_merge(self) -> None:
        w = self.world
        pr = await self._pick_pr(open_new=not await w.prs())
        if pr.state == "open" and pr.repo == PLATFORM and self.draw(st.booleans(), "declare first"):
            sha = await w.human_push(pr.repo, pr.head, await self._human_files(pr.repo, pr.head), user="octo-admin")
            if pr.head.startswith(BRANCH_PREFIX):
                self.human_heads[(pr.repo, pr.head)] = sha
        await self.merge_and_deliver(pr)

    async def do_comment(self) -> None:
        w = self.world
        prs = sorted(await w.prs(), key=lambda p: (p.repo, p.number))
        bot_prs = [p for p in prs if p.author == BOT and p.state == "open"]
        if bot_prs and self.draw(st.integers(0, 3), "well formed") > 0:
            # a writer runs one real command on one of the bot's open PRs: the path that writes the most
            pr = self.draw(st.sampled_from(bot_prs), "commented pr")
            repo, number, pr_author, pr_body, head = pr.repo, pr.number, pr.author, pr.body, pr.head
            author = self.draw(st.sampled_from(["octo-admin", "rui-acme"]), "comment author")
            text = "/trustacks " + self.draw(st.sampled_from(COMMANDS), "command")
            action, on_pr = "created", True
        else:
            if prs and self.draw(st.integers(0, 9), "pr or nothing") > 0:
                pr = self.draw(st.sampled_from(prs), "commented pr")
                repo, number, pr_author, pr_body, head = pr.repo, pr.number, pr.author, pr.body, pr.head
            else:
                repo, number, pr_author, pr_body, head = PLATFORM, self.draw(st.integers(1, 50), "number"), BOT, "", ""
            author = self.draw(st.sampled_from(AUTHORS), "comment author")
            text = self.draw(comment_text(), "comment")
            action = self.draw(st.sampled_from(["created", "created", "created", "edited", "deleted"]), "comment action")
            on_pr = self.draw(st.integers(0, 9), "on pr") > 0
        comment_id = await w.human_comment(repo, number, text, user=author)
        exempt = (repo, head) if "recreate" in text and head else None
        await self.deliver("issue_comment", payloads.issue_comment(
            repo, number=number, pr_author=pr_author, pr_body=pr_body, comment_id=comment_id, author=author,
            text=text, default_branch=w.default(repo), action=action, on_pr=on_pr), exempt_branch=exempt)

    async def do_mutated(self) -> None:
        name = self.draw(st.sampled_from(payloads.fixture_names("github")), "fixture")
        body = payloads.body(name)
        event = payloads.headers(name)["X-GitHub-Event"]
        for _ in range(self.draw(st.integers(1, 4), "mutations")):
            mutate(body, self)
        await self.deliver(event, body)


def summarize(payload: dict[str, Any]) -> str:
    """The fields that decide what a delivery does, for the story printed on failure."""
    pr = payload.get("pull_request") if isinstance(payload.get("pull_request"), dict) else {}
    comment = payload.get("comment") if isinstance(payload.get("comment"), dict) else {}
    repo = payload.get("repository") if isinstance(payload.get("repository"), dict) else {}
    fields = {"action": payload.get("action"), "repo": repo.get("full_name"), "ref": payload.get("ref"),
              "pr": pr.get("number"), "head": (pr.get("head") or {}).get("ref") if isinstance(pr.get("head"), dict) else None,
              "merged": pr.get("merged"), "comment": comment.get("body"),
              "by": (comment.get("user") or {}).get("login") if isinstance(comment.get("user"), dict) else None}
    return " ".join(f"{k}={v!r}" for k, v in fields.items() if v not in (None, ""))


LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**40), st.text(max_size=30),
                   st.sampled_from(["main", "refs/heads/main", "trustacks/../main", "refs/heads/trustacks/x", BOT,
                                    "acme/platform", "acme/payments-fastapi", "/trustacks recreate", ""]))


def mutate(doc: Any, story: Story) -> None:
    """Replace, delete or retype one value somewhere in a JSON document (in place)."""
    path: list[Any] = []
    node = doc
    while isinstance(node, (dict, list)) and node:
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
        key = story.draw(st.sampled_from(keys), "key")
        if not isinstance(node[key], (dict, list)) or story.draw(st.integers(0, 3), "stop") == 0:
            path.append(key)
            break
        path.append(key)
        node = node[key]
    if not path:
        return
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if story.draw(st.integers(0, 4), "delete") == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = story.draw(LEAVES, "value")


def assert_allowed(world: Any, write: Write, event: str) -> None:
    where = f"{event}: {write}"
    if write.verb == "ref":
        assert write.branch.startswith(BRANCH_PREFIX), f"write outside trustacks/: {where}"
        assert write.branch != world.default(write.repo), f"write to the default branch: {where}"
        assert not world.is_protected(write.repo, write.branch), f"write to a protected branch: {where}"
    elif write.verb == "open_pr":
        assert write.branch.startswith(BRANCH_PREFIX), f"PR opened from a non-bot branch: {where}"
    elif write.verb in ("update_pr", "labels"):
        head = world.pr_head(write.repo, write.number)
        if head is not None:  # labels on an issue (not a PR): the dashboard issue is the bot's own
            assert head.startswith(BRANCH_PREFIX), f"the bot changed a human PR: {where}"
        assert world.issue_author(write.repo, write.number) in (BOT, None), f"the bot changed a human PR: {where}"
    elif write.verb == "create_issue":  # the one dashboard issue, in the platform repo
        assert write.detail == "TruStacks Dashboard" and write.repo.endswith("/platform"), f"unexpected issue: {where}"
    elif write.verb == "update_issue":
        assert world.issue_author(write.repo, write.number) in (BOT, None), f"the bot edited a human issue: {where}"
    elif write.verb == "edit_comment":
        assert world.comment_author(write.repo, write.number) in (BOT, None), f"the bot edited a human comment: {where}"
    else:
        assert write.verb in ("comment", "check", "reaction", "object"), f"unexpected kind of write: {where}"


# ====================================================================== the two worlds


async def github_story(data: Any, seeds: dict[str, Any], policy: Any, tmp: Path) -> None:
    async with FakeGitHub() as gh:
        key = gh.register_app(4242)
        world = GitHubWorld(gh)
        seed_files = copy.deepcopy(seeds["files"])
        world.seed(seed_files, protect_generate=data.draw(st.integers(0, 3), "protect generate") == 0)
        key_file = tmp / "app.pem"
        key_file.write_text(key)
        settings = load_settings(env={
            "TRUSTACKS_GITHUB_WEBHOOK_SECRET": SECRET, "TRUSTACKS_GITHUB_APP_ID": "4242",
            "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": str(key_file), "TRUSTACKS_DATA_DIR": str(tmp / "data")})
        factory = ForgeFactory(settings, github_api_url=gh.url)
        outcomes: list[tuple[str, str]] = []
        dispatch = make_dispatcher(forge_for=factory, policy=policy, platform_repo="platform", outcomes=outcomes)
        story = Story(world, dispatch, data, outcomes)
        try:
            await story.prelude()
            for _ in range(data.draw(st.integers(1, 5), "steps")):
                await story.step()
        finally:
            await factory.close()
        assert gh.errors == [], gh.errors
        assert story.unexpected == [], story.unexpected


async def local_story(data: Any, seeds: dict[str, Any], policy: Any, tmp: Path) -> None:
    world = LocalWorld(tmp / "forge")
    try:
        seed_files = copy.deepcopy(seeds["files"])
        world.seed(seed_files, protect_generate=data.draw(st.integers(0, 3), "protect generate") == 0)

        async def forge_for(event: Any) -> Any:
            return world.forge

        outcomes: list[tuple[str, str]] = []
        dispatch = make_dispatcher(forge_for=forge_for, policy=policy, platform_repo="platform", outcomes=outcomes)
        story = Story(world, dispatch, data, outcomes)
        await story.prelude()
        for _ in range(data.draw(st.integers(1, 5), "steps")):
            await story.step()
        assert story.unexpected == [], story.unexpected
    finally:
        world.close()


def _fresh_dir(base: Path) -> Path:
    d = base / uuid.uuid4().hex[:12]
    d.mkdir()
    return d


@pytest.mark.heavy
def test_no_write_outside_trustacks_github(budget, seeds, policy, tmp_path):
    @budget.settings(budget.scenarios, shrink=False)
    @given(st.data())
    def story(data):
        asyncio.run(github_story(data, seeds, policy, _fresh_dir(tmp_path)))

    story()


@pytest.mark.heavy
def test_no_write_outside_trustacks_local_forge(budget, seeds, policy, tmp_path):
    @budget.settings(max(4, budget.scenarios // 2), shrink=False)
    @given(st.data())
    def story(data):
        asyncio.run(local_story(data, seeds, policy, _fresh_dir(tmp_path)))

    story()


async def test_github_guard_sees_protection_patterns():
    """A rule protecting `trustacks/generate/*` covers branches created later: the bot must not create one."""
    import aiohttp

    from bot.forges.base import WriteRefused
    from bot.forges.github import GitHubForge
    from bot.forges.github_auth import StaticToken

    async with FakeGitHub() as gh, aiohttp.ClientSession() as session:
        gh.add_repo(APP, files={"README.md": "x"}, protected=["main", "trustacks/generate/*"])
        forge = GitHubForge(session, StaticToken(gh.add_token()), base_url=gh.url)
        with pytest.raises(WriteRefused, match="protected"):
            await forge.create_branch(APP, "trustacks/generate/acme-payments-fastapi", from_ref="main")
        assert [w for w in gh.writes if "/git/refs" in w[1]] == []


def test_the_write_check_catches_a_bad_write():
    """The checker itself: a write to main, outside trustacks/, or to a protected bot branch fails it."""

    class World:
        def default(self, repo):
            return "main"

        def is_protected(self, repo, branch):
            return branch in ("main", "trustacks/locked")

        def pr_head(self, repo, number):
            return "feature/x"

        def issue_author(self, repo, number):
            return "alice"

        def comment_author(self, repo, cid):
            return "alice"

    w = World()
    for bad in (Write("ref", APP, branch="main"), Write("ref", APP, branch="feature/x"),
                Write("ref", APP, branch="trustacks/locked"), Write("open_pr", APP, branch="feature/x"),
                Write("update_pr", APP, number=3), Write("labels", APP, number=3),
                Write("edit_comment", APP, number=9), Write("other", APP, detail="PUT /repos/x/y/merge")):
        with pytest.raises(AssertionError):
            assert_allowed(w, bad, "test")
    assert_allowed(w, Write("ref", APP, branch="trustacks/generate/x"), "test")
    assert_allowed(w, Write("comment", APP, number=3), "test")
