"""Two forges behind one small interface, for the good-citizen wiring tests (issue #13, "Done when").

Every bot action goes through the real dispatcher (`bot.handlers.make_dispatcher`, or `build_dispatcher`
where a setting is under test) with GitHub-shaped webhook payloads (built from the recorded fixtures by
tests/hardening/payloads.py); humans act through each forge's own human interface. The two worlds:

- `LocalWorld`: the local forge (bare git repositories + SQLite); each write primitive the guard lets
  through is recorded (check runs and issues too), and state is read back from git and the database.
- `GitHubWorld`: the fake GitHub API (tests/fakes) with the real `GitHubForge` from `ForgeFactory`
  (App JWT -> installation token -> gidgethub), so every write is an HTTP request the fake records.

Writes come back as forge-neutral `Write`s (tests/hardening/worlds.py), so one assertion covers both.
The noise limiter runs on an injected clock (`Clock`); nothing here sleeps.
"""

from __future__ import annotations

import copy
import functools
import itertools
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot import limits
from bot.config import load_settings
from bot.demo import DEMO_DECLARED, read_app_files
from bot.forges.local import LocalForgeAdmin
from bot.handlers import build_dispatcher, make_dispatcher
from bot.handlers.forge_factory import ForgeFactory
from bot.limits import MemoryKV
from bot.models import BRANCH_PREFIX, Permission
from bot.orgconfig import CONFIG_PATH
from bot.profile import PROFILE_PATH, Profile
from tests.fakes import FakeGitHub
from tests.hardening import payloads
from tests.hardening.worlds import PR, RecordingLocalForge, Write, classify_github_write

ROOT = Path(__file__).resolve().parents[2]
BOT = "trustacks[bot]"
ADMIN = "octo-admin"
WRITER = "rui-acme"
FORKER = "mallory"
APP = "acme/payments-fastapi"
PLATFORM = "acme/platform"
MONO = "acme/platform-monorepo"
LEGACY = "acme/legacy-payments"
OUTSIDE = "umbrella/tool"
INSTALLATION = payloads.INSTALLATION
SECRET = "citizen-wiring-webhook-secret"
START = 1_900_000_000.0  # the injected clock's epoch (2030-03-17)
#: a valid waiver request (a pack rule, an expiry within the year the parser allows)
WAIVE = (f"waive SOC2-CC6.1-001 --until {(date.today() + timedelta(days=30)).isoformat()} "
         "--reason 'accepted by the risk board'")


@functools.lru_cache(maxsize=None)
def app_files(name: str) -> dict[str, str]:
    return read_app_files(ROOT / "fixtures" / "apps" / name)


#: repo -> files of its first commit; every test world starts from these
SEEDS: dict[str, str] = {APP: "payments-fastapi", MONO: "platform-monorepo", LEGACY: "payments-fastapi",
                         OUTSIDE: "shop-express"}


class Clock:
    """A settable clock for the noise limiter (and its key/value store)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class World:
    """What both forges offer the tests: deliver events, act as humans, read state, list the bot's writes."""

    forge_name = "?"

    def __init__(self, policy: Any, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self.kv = MemoryKV(clock=clock)
        self.outcomes: list[tuple[str, str]] = []
        self.dispatch: Any = None
        self._ids = itertools.count(1)
        self._seen = 0

    # ------------------------------------------------------------------ the bot

    def use(self, dispatch: Any) -> Any:
        """Deliver the following events to `dispatch`."""
        self.dispatch = dispatch
        return dispatch

    def dispatcher(self, **kwargs: Any) -> Any:
        """The real dispatcher over this forge, the shared policy and the clocked key/value store."""
        raise NotImplementedError

    async def deliver(self, event: str, payload: dict[str, Any], *, forge: str = "github") -> str:
        """One delivery through the dispatcher; returns its logged outcome (or '' when none was recorded)."""
        n = next(self._ids)
        before = len(self.outcomes)
        job = SimpleNamespace(id=n, forge=forge, event=event, payload=payload, delivery_id=f"citizen-{n}",
                              attempts=1)
        await self.dispatch(job)
        return self.outcomes[-1][1] if len(self.outcomes) > before else ""

    def mark(self) -> None:
        """Forget the writes so far: `writes()` lists only what comes after."""
        self._seen = len(self._all_writes())

    def writes(self) -> list[Write]:
        return self._all_writes()[self._seen:]

    def _all_writes(self) -> list[Write]:
        raise NotImplementedError

    # ------------------------------------------------------------------ humans

    async def push(self, repo: str, branch: str, files: dict[str, str | None], *, user: str = ADMIN) -> str:
        raise NotImplementedError

    async def close_pr(self, repo: str, number: int) -> None:
        raise NotImplementedError

    async def reopen_pr(self, repo: str, number: int) -> None:
        raise NotImplementedError

    async def merge_pr(self, repo: str, number: int) -> None:
        raise NotImplementedError

    async def comment(self, repo: str, number: int, text: str, *, user: str) -> int:
        raise NotImplementedError

    async def open_pr(self, repo: str, *, branch: str, files: dict[str, str], user: str,
                      fork: str | None = None) -> PR:
        """A human pushes `files` to `branch` and opens a PR into the default branch (from the fork `fork`)."""
        raise NotImplementedError

    async def say_on_fork_pr(self, pr: PR, text: str, *, fork: str, user: str) -> str:
        """A comment on a fork PR, delivered as the forge reports it; returns the outcome."""
        raise NotImplementedError

    # ------------------------------------------------------------------ reading state

    def default(self, repo: str) -> str:
        return "main"

    async def prs(self, repo: str | None = None) -> list[PR]:
        raise NotImplementedError

    async def head(self, repo: str, branch: str) -> str | None:
        raise NotImplementedError

    async def is_ancestor(self, repo: str, sha: str, of: str) -> bool:
        raise NotImplementedError

    async def read(self, repo: str, ref: str, path: str) -> str | None:
        raise NotImplementedError

    async def comments(self, repo: str, number: int) -> list[tuple[str, str]]:
        """(author, body) of each comment on a PR or issue, oldest first."""
        raise NotImplementedError

    async def checks(self, repo: str) -> list[dict[str, str]]:
        """Each check run reported in `repo`: sha, name, conclusion, title, summary."""
        raise NotImplementedError

    async def issues(self, repo: str) -> list[tuple[str, str]]:
        """(title, body) of each issue in `repo`."""
        raise NotImplementedError

    async def refs(self) -> dict[tuple[str, str], str]:
        raise NotImplementedError

    async def bot_prs(self, repo: str | None = None, *, kind: str = "", state: str = "open") -> list[PR]:
        return [p for p in await self.prs(repo) if p.author == BOT and p.head.startswith(BRANCH_PREFIX + kind)
                and (state == "all" or p.state == state)]


# ====================================================================== local forge


class _Recording(RecordingLocalForge):
    """The hardening suite's recording local forge, also recording check runs and issues."""

    async def _set_check(self, check: Any) -> Any:
        self.writes.append(Write("check", check.repo, detail=check.name))
        return await super()._set_check(check)

    async def _create_issue(self, repo: str, *, title: str, body: str) -> Any:
        self.writes.append(Write("create_issue", repo, detail=title))
        return await super()._create_issue(repo, title=title, body=body)

    async def _update_issue(self, repo: str, number: int, *, body: str, state: str | None) -> Any:
        self.writes.append(Write("update_issue", repo, number=number))
        return await super()._update_issue(repo, number, body=body, state=state)


class LocalWorld(World):
    forge_name = "local"

    def __init__(self, policy: Any, clock: Clock, data_dir: Path) -> None:
        super().__init__(policy, clock)
        self.forge = _Recording(data_dir)
        self.admin = LocalForgeAdmin(self.forge)
        self.repos: list[str] = []

    async def start(self, repos: list[str], *, platform_files: dict[str, str] | None = None) -> None:
        for repo in repos:
            files = {"README.md": "# Platform\n", **(platform_files or {})} if repo == PLATFORM \
                else dict(app_files(SEEDS[repo]))
            self.admin.create_repo(repo, files=files, owner=ADMIN, protected=["main"])
            self.admin.grant(repo, WRITER, Permission.WRITE)
            self.repos.append(repo)

    async def close(self) -> None:
        self.forge.close()

    def dispatcher(self, **kwargs: Any) -> Any:
        async def forge_for(event: Any) -> Any:
            return self.forge

        return self.use(make_dispatcher(forge_for=forge_for, policy=self.policy, platform_repo="platform",
                                        outcomes=self.outcomes, kv=self.kv, **kwargs))

    def _all_writes(self) -> list[Write]:
        return self.forge.writes

    async def push(self, repo: str, branch: str, files: dict[str, str | None], *, user: str = ADMIN) -> str:
        return self.admin.push(repo, branch, files, user=user, message=f"{user} edits {branch}")

    async def close_pr(self, repo: str, number: int) -> None:
        self.admin.close(repo, number, user=ADMIN)

    async def reopen_pr(self, repo: str, number: int) -> None:
        self.admin.reopen(repo, number, user=ADMIN)

    async def merge_pr(self, repo: str, number: int) -> None:
        self.admin.approve(repo, number, user=WRITER)
        self.admin.merge(repo, number, user=ADMIN)

    async def comment(self, repo: str, number: int, text: str, *, user: str) -> int:
        return self.admin.comment(repo, number, text, user=user).id

    async def open_pr(self, repo: str, *, branch: str, files: dict[str, str], user: str,
                      fork: str | None = None) -> PR:
        # The local forge has no forks: the head is a branch of `repo`, and the fork is named by the event
        # (a GitLab note names the MR's source project, so the dispatcher learns it from the payload).
        self.admin.push(repo, branch, files, user=user, message="a contribution")
        db = self.forge.db
        number = (db.execute("SELECT MAX(number) FROM prs WHERE repo=?", (repo,)).fetchone()[0] or 0) + 1
        now = self.clock()
        db.execute("INSERT INTO prs (repo, number, title, body, head, base, state, author, merged_by, merge_sha, "
                   "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,NULL,NULL,?,?)",
                   (repo, number, "A contribution", "please merge", branch, "main", "open", user, now, now))
        return next(p for p in await self.prs(repo) if p.number == number)

    async def say_on_fork_pr(self, pr: PR, text: str, *, fork: str, user: str) -> str:
        cid = await self.comment(pr.repo, pr.number, text, user=user)
        return await self.deliver("Note Hook", gitlab_note(pr, text, comment_id=cid, author=user, source=fork),
                                  forge="gitlab")

    async def prs(self, repo: str | None = None) -> list[PR]:
        rows = self.forge.db.execute("SELECT repo, number, head, base, author, body, state FROM prs "
                                     "ORDER BY repo, number").fetchall()
        out = []
        for r, number, head, base, author, body, state in rows:
            if repo is None or r == repo:
                sha = await self.forge.branch_sha(r, head) or ""
                out.append(PR(r, number, head, sha, base, author, body, state))
        return out

    async def head(self, repo: str, branch: str) -> str | None:
        return await self.forge.branch_sha(repo, branch)

    async def is_ancestor(self, repo: str, sha: str, of: str) -> bool:
        proc = self.forge._git(repo, "merge-base", "--is-ancestor", sha, of, check=False)
        return proc.returncode == 0

    async def read(self, repo: str, ref: str, path: str) -> str | None:
        if await self.forge.branch_sha(repo, ref) is None:
            return None
        data = await self.forge.read_file(repo, path, ref=ref)
        return data.decode() if data is not None else None

    async def comments(self, repo: str, number: int) -> list[tuple[str, str]]:
        return [(c.author, c.body) for c in await self.forge.list_comments(repo, number)]

    async def checks(self, repo: str) -> list[dict[str, str]]:
        return [{"sha": c.sha, "name": c.name, "conclusion": c.conclusion.value, "title": c.title,
                 "summary": c.summary} for c in self.forge.checks(repo)]

    async def issues(self, repo: str) -> list[tuple[str, str]]:
        rows = self.forge.db.execute("SELECT title, body FROM issues WHERE repo=? ORDER BY number", (repo,))
        return [(t, b) for t, b in rows.fetchall()]

    async def refs(self) -> dict[tuple[str, str], str]:
        out = {}
        for repo in self.repos:
            text = self.forge._git(repo, "for-each-ref", "--format=%(refname) %(objectname)").stdout.decode()
            for line in text.splitlines():
                ref, sha = line.rsplit(" ", 1)
                out[(repo, ref.removeprefix("refs/heads/"))] = sha
        return out


# ====================================================================== fake GitHub


class GitHubWorld(World):
    forge_name = "github"

    def __init__(self, policy: Any, clock: Clock, data_dir: Path, gh: FakeGitHub) -> None:
        super().__init__(policy, clock)
        self.gh = gh
        self.data_dir = data_dir
        self.key_file = data_dir / "app.pem"
        self._closers: list[Any] = []

    async def start(self, repos: list[str], *, platform_files: dict[str, str] | None = None) -> None:
        self.key_file.write_text(self.gh.register_app(4242))
        for repo in repos:
            files = {"README.md": "# Platform\n", **(platform_files or {})} if repo == PLATFORM \
                else dict(app_files(SEEDS[repo]))
            self.gh.add_repo(repo, files=files, protected=["main"], collaborators={ADMIN: "admin", WRITER: "write"})
        self.gh.add_installation(INSTALLATION, list(repos))

    async def close(self) -> None:
        for close in self._closers:
            await close()

    def env(self, **extra: str) -> dict[str, str]:
        return {"TRUSTACKS_GITHUB_WEBHOOK_SECRET": SECRET, "TRUSTACKS_GITHUB_APP_ID": "4242",
                "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": str(self.key_file), "TRUSTACKS_GITHUB_API_URL": self.gh.url,
                "TRUSTACKS_DATA_DIR": str(self.data_dir / "data"), "TRUSTACKS_PLATFORM_REPO": "platform", **extra}

    def dispatcher(self, **kwargs: Any) -> Any:
        factory = ForgeFactory(load_settings(env=self.env()), github_api_url=self.gh.url)
        self._closers.append(factory.close)
        return self.use(make_dispatcher(forge_for=factory, policy=self.policy, platform_repo="platform",
                                        outcomes=self.outcomes, kv=self.kv, **kwargs))

    def production(self, **env: str) -> Any:
        """`build_dispatcher` (what `trustacks serve` runs) on settings read from these TRUSTACKS_* variables.
        Policy from the unsigned rules tree (the development switch): what is under test here is not its source."""
        dispatch = build_dispatcher(load_settings(env=self.env(TRUSTACKS_POLICY_UNSIGNED="true",
                                                               TRUSTACKS_POLICY_PACKS="soc2", **env)))
        self._closers.append(dispatch.aclose)
        return self.use(dispatch)

    def _all_writes(self) -> list[Write]:
        return [classify_github_write(m, p, body) for m, p, body in self.gh.writes]

    async def push(self, repo: str, branch: str, files: dict[str, str | None], *, user: str = ADMIN) -> str:
        return self.gh.push(repo, branch, files, author=(user, f"{user}@acme.io"), message=f"{user} edits {branch}")

    async def close_pr(self, repo: str, number: int) -> None:
        self.gh.repo(repo).pulls[number].update(state="closed")

    async def reopen_pr(self, repo: str, number: int) -> None:
        self.gh.repo(repo).pulls[number].update(state="open")

    async def merge_pr(self, repo: str, number: int) -> None:
        self.gh.merge_pull(repo, number, by=ADMIN)

    async def comment(self, repo: str, number: int, text: str, *, user: str) -> int:
        return self.gh.add_comment(repo, number, text, user=user)

    async def open_pr(self, repo: str, *, branch: str, files: dict[str, str], user: str,
                      fork: str | None = None) -> PR:
        # GitHub keeps a fork PR's head as refs/pull/N/head in the base repo; the fake keeps it as a branch
        # and the PR's head.repo names the fork, as GitHub reports it.
        self.gh.push(repo, branch, files, author=(user, f"{user}@example.org"), message="a contribution")
        number = self.gh.open_pull(repo, head=branch, title="A contribution", body="please merge", user=user)
        if fork is not None:
            head = self.gh.repo(repo).pulls[number]["head"]
            head["repo"] = {**head["repo"], "full_name": fork, "name": fork.split("/")[1]}
            head["label"] = f"{fork.split('/')[0]}:{branch}"
        return next(p for p in await self.prs(repo) if p.number == number)

    async def say_on_fork_pr(self, pr: PR, text: str, *, fork: str, user: str) -> str:
        # GitHub's issue_comment payload does not say the PR is from a fork: the dispatcher asks the forge.
        return await say(self, pr, text, user=user)

    async def prs(self, repo: str | None = None) -> list[PR]:
        out = []
        for r in self.gh.repos.values():
            if repo is not None and r.full_name != repo:
                continue
            for p in sorted(r.pulls.values(), key=lambda p: p["number"]):
                state = "merged" if p.get("merged") else p["state"]
                sha = r.refs.get(p["head"]["ref"], p["head"]["sha"])
                out.append(PR(r.full_name, p["number"], p["head"]["ref"], sha, p["base"]["ref"], p["user"]["login"],
                              p.get("body") or "", state))
        return out

    async def head(self, repo: str, branch: str) -> str | None:
        return self.gh.repo(repo).refs.get(branch)

    async def is_ancestor(self, repo: str, sha: str, of: str) -> bool:
        return sha in self.gh.repo(repo).ancestors(of)

    async def read(self, repo: str, ref: str, path: str) -> str | None:
        r = self.gh.repo(repo)
        if ref not in r.refs:
            return None
        data = r.files(ref).get(path)
        return data.decode() if data is not None else None

    async def comments(self, repo: str, number: int) -> list[tuple[str, str]]:
        items = sorted(self.gh.repo(repo).comments.values(), key=lambda c: c["id"])
        return [(c["user"]["login"], c["body"]) for c in items if c["_issue"] == number]

    async def checks(self, repo: str) -> list[dict[str, str]]:
        out = []
        for run in sorted(self.gh.repo(repo).check_runs.values(), key=lambda c: c["id"]):
            output = run.get("output") or {}
            out.append({"sha": run["head_sha"], "name": run["name"], "conclusion": run["conclusion"] or "",
                        "title": output.get("title", ""), "summary": output.get("summary", "")})
        return out

    async def issues(self, repo: str) -> list[tuple[str, str]]:
        return [(i["title"], i.get("body") or "") for _, i in sorted(self.gh.repo(repo).issues.items())]

    async def refs(self) -> dict[tuple[str, str], str]:
        return {(r.full_name, b): sha for r in self.gh.repos.values() for b, sha in r.refs.items()}


# ====================================================================== events (GitHub-shaped payloads)


def install(repos: list[str]) -> tuple[str, dict[str, Any]]:
    return "installation", payloads.installation("created", repos)


def push_event(world: World, repo: str, branch: str, sha: str, *, sender: str = ADMIN) -> tuple[str, dict[str, Any]]:
    return "push", payloads.push(repo, branch, default_branch=world.default(repo), after=sha, sender=sender)


def pr_event(world: World, action: str, pr: PR, *, sender: str = ADMIN, merged: bool = False,
             fork: str | None = None) -> tuple[str, dict[str, Any]]:
    return "pull_request", payloads.pull_request(
        action, pr.repo, number=pr.number, head=pr.head, head_sha=pr.head_sha, base=pr.base, author=pr.author,
        pr_body=pr.body, default_branch=world.default(pr.repo), merged=merged, sender=sender, head_repo=fork)


async def say(world: World, pr: PR, text: str, *, user: str = ADMIN) -> str:
    """A human comments on a PR and the comment's webhook is delivered; returns the outcome."""
    cid = await world.comment(pr.repo, pr.number, text, user=user)
    return await world.deliver("issue_comment", payloads.issue_comment(
        pr.repo, number=pr.number, pr_author=pr.author, pr_body=pr.body, comment_id=cid, author=user, text=text,
        default_branch=world.default(pr.repo)))


async def deliver(world: World, event: tuple[str, dict[str, Any]]) -> str:
    return await world.deliver(*event)


def gitlab_note(pr: PR, text: str, *, comment_id: int, author: str, source: str) -> dict[str, Any]:
    """A GitLab Note Hook on merge request `pr` whose source project is `source` (the fixture, retargeted)."""
    b = payloads.body("note.merge_request", "gitlab")
    project = {**b["project"], "path_with_namespace": pr.repo, "name": pr.repo.split("/")[1], "default_branch": "main"}
    b["project"] = project
    b["user"] = {**b["user"], "username": author, "name": author}
    b["object_attributes"].update(id=comment_id, note=text, noteable_type="MergeRequest", action="create")
    mr = b["merge_request"]
    mr.update(iid=pr.number, source_branch=pr.head, target_branch=pr.base, description=pr.body)
    mr["source"] = {**mr["source"], "path_with_namespace": source}
    mr["target"] = {**mr["target"], "path_with_namespace": pr.repo}
    return b


# ====================================================================== whole steps


async def onboard(world: World, repos: list[str] | None = None) -> PR:
    """The installation event; returns the Profile PR it opened."""
    outcome = await deliver(world, install(repos or [APP, PLATFORM]))
    prs = await world.bot_prs(PLATFORM, kind="profile/")
    assert len(prs) == 1, (outcome, prs)
    return prs[0]


async def declare_and_merge(world: World, pr: PR) -> PR:
    """A human declares the tools discovery cannot see on the Profile PR, merges it; returns the merged PR."""
    text = await world.read(PLATFORM, pr.head, PROFILE_PATH)
    assert text is not None
    profile = Profile.loads(text)
    for category, entries in DEMO_DECLARED.items():
        if not profile.tools(category):
            profile.set_tools(category, copy.deepcopy(entries))
    await world.push(PLATFORM, pr.head, {PROFILE_PATH: profile.dumps()})
    await world.merge_pr(PLATFORM, pr.number)
    [merged] = [p for p in await world.prs(PLATFORM) if p.number == pr.number]
    return merged


async def merge_profile(world: World, pr: PR) -> str:
    """Declare, merge, and deliver the merge event (which opens the generation PRs); returns its outcome."""
    merged = await declare_and_merge(world, pr)
    return await deliver(world, pr_event(world, "closed", merged, merged=True))


async def set_org_config(world: World, text: str) -> str:
    """A human pushes `.trustacks/config.yaml` to the platform repo's default branch; returns the sha."""
    return await world.push(PLATFORM, "main", {CONFIG_PATH: text})


def non_check(writes: list[Write]) -> list[Write]:
    return [w for w in writes if w.verb != "check"]


def limiter_with(clock: Clock) -> Any:
    """`bot.limits.NoiseLimiter` on the injected clock (patched in before the dispatcher is made)."""
    return functools.partial(limits.NoiseLimiter, clock=clock)
