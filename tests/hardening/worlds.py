"""Two forges the write-safety property drives the real dispatcher against, behind one small interface.

- `GitHubWorld`: the fake GitHub REST API on loopback (tests/fakes) with the real `GitHubForge` from
  `ForgeFactory` (App JWT -> installation token -> gidgethub), so every write is an HTTP request the
  fake records in `gh.writes` (attempts included: a write the fake refuses is still recorded).
- `LocalWorld`: the local forge (bare git repositories + SQLite) with each write primitive recorded
  after the guard let it through, and the refs read back with `git for-each-ref`.

Humans act through each forge's own human interface (`gh.push`, `gh.merge_pull`, `LocalForgeAdmin`);
the bot acts only through the dispatcher. `Write` is the forge-neutral record the invariants check.
"""

from __future__ import annotations

import fnmatch
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.forges.local import LocalForge, LocalForgeAdmin
from bot.models import Permission

BOT = "trustacks[bot]"
APP = "acme/payments-fastapi"
PLATFORM = "acme/platform"
OTHER = "acme/orders-django"  # default branch `develop`, nothing protected: "default" is not "protected"
REPOS = (APP, PLATFORM, OTHER)
DEFAULTS = {APP: "main", PLATFORM: "main", OTHER: "develop"}
PROTECTED = {APP: ["main", "release/*"], PLATFORM: ["main"], OTHER: []}
#: login -> permission on every repo (strangers and bots have none)
USERS = {"octo-admin": "admin", "rui-acme": "write", "rita-read": "read"}
INSTALLATION = 48213377
GENERATE_APP = "trustacks/generate/acme-payments-fastapi"


@dataclass(frozen=True)
class Write:
    """One write the bot made (or attempted): what and where."""

    verb: str  # ref | open_pr | update_pr | labels | comment | edit_comment | check | reaction | object | other
    repo: str
    branch: str = ""  # ref writes: the branch; open_pr: the head
    number: int = 0  # update_pr / labels / comment: the PR or issue number; edit_comment: the comment id
    detail: str = ""


@dataclass
class PR:
    repo: str
    number: int
    head: str
    head_sha: str
    base: str
    author: str
    body: str
    state: str  # open | closed | merged


class GitHubWorld:
    """Fake GitHub + the real GitHub forge client."""

    def __init__(self, gh: Any) -> None:
        self.gh = gh
        self._seen = 0
        self._comment_ids = 0

    def seed(self, files: dict[str, dict[str, str]], *, protect_generate: bool) -> None:
        """`protect_generate`: the app's generation branch exists and is protected. (Patterns covering a
        branch that does not exist yet, and rulesets, are covered by test_github_guard_sees_protection_patterns
        and tests/forges/test_github_protection.py.)"""
        for repo in REPOS:
            extra = [GENERATE_APP] if protect_generate and repo == APP else []
            self.gh.add_repo(repo, files=files[repo], default_branch=DEFAULTS[repo],
                             protected=PROTECTED[repo] + extra, collaborators=dict(USERS))
        self.gh.push(APP, "release/1.0", {"RELEASE": "1.0\n"}, author=("Rel Eng", "releng@acme.io"))
        if protect_generate:
            self.gh.push(APP, GENERATE_APP, {"LOCKED": "by an admin\n"}, author=("Admin", "admin@acme.io"))
        self.gh.push(OTHER, "main", {"OLD": "the old default\n"}, author=("Old", "old@acme.io"))
        self.gh.add_installation(INSTALLATION, list(REPOS))

    # ------------------------------------------------------------------ reading state

    def default(self, repo: str) -> str:
        return self.gh.repo(repo).default_branch

    def is_protected(self, repo: str, branch: str) -> bool:
        return self.gh.repo(repo).is_protected(branch)

    async def refs(self) -> dict[tuple[str, str], str]:
        return {(r.full_name, b): sha for r in self.gh.repos.values() for b, sha in r.refs.items()}

    async def is_ancestor(self, repo: str, sha: str, of: str) -> bool:
        return sha in self.gh.repo(repo).ancestors(of)

    async def prs(self) -> list[PR]:
        out = []
        for r in self.gh.repos.values():
            for p in r.pulls.values():
                state = "merged" if p.get("merged") else p["state"]
                sha = r.refs.get(p["head"]["ref"], p["head"]["sha"]) if state == "open" else p["head"]["sha"]
                out.append(PR(r.full_name, p["number"], p["head"]["ref"], sha, p["base"]["ref"], p["user"]["login"],
                              p.get("body") or "", state))
        return out

    async def read(self, repo: str, branch: str, path: str) -> str | None:
        data = self.gh.repo(repo).files(branch).get(path) if branch in self.gh.repo(repo).refs else None
        return data.decode("utf-8", "replace") if data is not None else None

    def comment_author(self, repo: str, comment_id: int) -> str | None:
        c = self.gh.repo(repo).comments.get(comment_id)
        return c["user"]["login"] if c else None

    def issue_author(self, repo: str, number: int) -> str | None:
        r = self.gh.repo(repo)
        item = r.pulls.get(number) or r.issues.get(number)
        return item["user"]["login"] if item else None

    def pr_head(self, repo: str, number: int) -> str | None:
        p = self.gh.repo(repo).pulls.get(number)
        return p["head"]["ref"] if p else None

    # ------------------------------------------------------------------ humans

    async def human_push(self, repo: str, branch: str, files: dict[str, str | None], *, user: str) -> str:
        return self.gh.push(repo, branch, files, author=(user, f"{user}@acme.io"), message=f"{user} edits {branch}")

    async def human_open_pr(self, repo: str, head: str, *, user: str, body: str) -> int:
        return self.gh.open_pull(repo, head=head, title=f"{user}'s change", body=body, user=user)

    async def human_merge(self, repo: str, number: int, *, user: str) -> bool:
        p = self.gh.repo(repo).pulls[number]
        if p["state"] != "open" or p["head"]["ref"] not in self.gh.repo(repo).refs:
            return False
        self.gh.merge_pull(repo, number, by=user)
        return True

    async def human_close(self, repo: str, number: int, *, user: str) -> None:
        self.gh.repo(repo).pulls[number].update(state="closed")

    async def human_comment(self, repo: str, number: int, text: str, *, user: str) -> int:
        r = self.gh.repo(repo)
        if number in r.pulls or number in r.issues:
            return self.gh.add_comment(repo, number, text, user=user)
        self._comment_ids += 1
        return 900_000 + self._comment_ids  # a comment on nothing: the event still arrives

    # ------------------------------------------------------------------ the bot's writes

    def new_writes(self) -> list[Write]:
        raw = self.gh.writes[self._seen:]
        self._seen = len(self.gh.writes)
        return [classify_github_write(m, p, body) for m, p, body in raw]


def classify_github_write(method: str, path: str, payload: Any) -> Write:
    """The fake's (method, path, json) as a Write; unknown endpoints come back as verb `other`."""
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "repos":
        return Write("other", "", detail=f"{method} {path}")
    repo, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    body = payload if isinstance(payload, dict) else {}
    joined = "/".join(rest)
    if method == "POST" and joined == "git/refs":
        return Write("ref", repo, branch=str(body.get("ref", "")).removeprefix("refs/heads/"), detail="create")
    if method in ("PATCH", "DELETE") and joined.startswith("git/refs/heads/"):
        return Write("ref", repo, branch=joined[len("git/refs/heads/"):], detail=method.lower())
    if method == "POST" and joined in ("git/blobs", "git/trees", "git/commits"):
        return Write("object", repo, detail=joined)
    if method == "POST" and joined == "pulls":
        return Write("open_pr", repo, branch=str(body.get("head", "")), detail=str(body.get("base", "")))
    if method == "PATCH" and len(rest) == 2 and rest[0] == "pulls":
        return Write("update_pr", repo, number=int(rest[1]))
    if method == "POST" and len(rest) == 3 and rest[0] == "issues" and rest[2] == "labels":
        return Write("labels", repo, number=int(rest[1]))
    if method == "POST" and len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
        return Write("comment", repo, number=int(rest[1]))
    if method == "PATCH" and len(rest) == 3 and rest[:2] == ["issues", "comments"]:
        return Write("edit_comment", repo, number=int(rest[2]))
    if method == "POST" and len(rest) == 4 and rest[:2] == ["issues", "comments"] and rest[3] == "reactions":
        return Write("reaction", repo, number=int(rest[2]))
    if method == "POST" and joined == "issues":
        return Write("create_issue", repo, detail=str(body.get("title", "")))
    if method == "PATCH" and len(rest) == 2 and rest[0] == "issues":
        return Write("update_issue", repo, number=int(rest[1]))
    if rest and rest[0] == "check-runs":
        return Write("check", repo)
    return Write("other", repo, detail=f"{method} {path}")


class RecordingLocalForge(LocalForge):
    """The local forge, recording each write primitive the guard let through."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[Write] = []

    async def _create_branch(self, repo: str, branch: str, from_ref: str) -> str:
        self.writes.append(Write("ref", repo, branch=branch, detail="create"))
        return await super()._create_branch(repo, branch, from_ref)

    async def _commit_files(self, repo: str, branch: str, *args: Any, **kwargs: Any) -> Any:
        self.writes.append(Write("ref", repo, branch=branch, detail="commit"))
        return await super()._commit_files(repo, branch, *args, **kwargs)

    async def _delete_branch(self, repo: str, branch: str) -> None:
        self.writes.append(Write("ref", repo, branch=branch, detail="delete"))
        await super()._delete_branch(repo, branch)

    async def _open_change_request(self, repo: str, *, head: str, base: str, title: str, body: str) -> Any:
        self.writes.append(Write("open_pr", repo, branch=head, detail=base))
        return await super()._open_change_request(repo, head=head, base=base, title=title, body=body)

    async def _update_change_request(self, repo: str, number: int, *args: Any, **kwargs: Any) -> Any:
        self.writes.append(Write("update_pr", repo, number=number))
        return await super()._update_change_request(repo, number, *args, **kwargs)

    async def _comment(self, repo: str, number: int, body: str) -> Any:
        self.writes.append(Write("comment", repo, number=number))
        return await super()._comment(repo, number, body)

    async def _edit_comment(self, repo: str, number: int, comment_id: int, body: str) -> Any:
        self.writes.append(Write("edit_comment", repo, number=comment_id))
        return await super()._edit_comment(repo, number, comment_id, body)

    async def _add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        self.writes.append(Write("labels", repo, number=number))
        await super()._add_labels(repo, number, labels)


class LocalWorld:
    """The local forge (real git) + the same dispatcher."""

    def __init__(self, data_dir: Path) -> None:
        self.forge = RecordingLocalForge(data_dir)
        self.admin = LocalForgeAdmin(self.forge)
        self._seen = 0

    def close(self) -> None:
        self.forge.close()

    def seed(self, files: dict[str, dict[str, str]], *, protect_generate: bool) -> None:
        for repo in REPOS:
            extra = ["trustacks/generate/*"] if protect_generate and repo == APP else []
            self.admin.create_repo(repo, default_branch=DEFAULTS[repo], files=files[repo], owner="octo-admin",
                                   protected=PROTECTED[repo] + extra)
            for user, perm in USERS.items():
                self.admin.grant(repo, user, Permission(perm))
        self.admin.push(APP, "release/1.0", {"RELEASE": "1.0\n"}, user="rel-eng")
        self.admin.push(OTHER, "main", {"OLD": "the old default\n"}, user="old")

    def default(self, repo: str) -> str:
        return DEFAULTS[repo]

    def is_protected(self, repo: str, branch: str) -> bool:
        rows = self.forge.db.execute("SELECT pattern FROM protected WHERE repo=?", (repo,)).fetchall()
        return any(branch == p or fnmatch.fnmatchcase(branch, p) for (p,) in rows)

    def _git(self, repo: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "--git-dir", str(self.forge.repo_path(repo)), *args], capture_output=True,
                              text=True, env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"})

    async def refs(self) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for repo in REPOS:
            for line in self._git(repo, "for-each-ref", "--format=%(refname) %(objectname)").stdout.splitlines():
                ref, sha = line.rsplit(" ", 1)
                out[(repo, ref.removeprefix("refs/heads/"))] = sha
        return out

    async def is_ancestor(self, repo: str, sha: str, of: str) -> bool:
        return self._git(repo, "merge-base", "--is-ancestor", sha, of).returncode == 0

    async def prs(self) -> list[PR]:
        rows = self.forge.db.execute("SELECT repo, number, head, base, author, body, state FROM prs").fetchall()
        out = []
        for repo, number, head, base, author, body, state in rows:
            sha = await self.forge.branch_sha(repo, head) or "0" * 40
            out.append(PR(repo, number, head, sha, base, author, body, state))
        return out

    async def read(self, repo: str, branch: str, path: str) -> str | None:
        if await self.forge.branch_sha(repo, branch) is None:
            return None
        data = await self.forge.read_file(repo, path, ref=branch)
        return data.decode("utf-8", "replace") if data is not None else None

    def comment_author(self, repo: str, comment_id: int) -> str | None:
        row = self.forge.db.execute("SELECT author FROM comments WHERE id=?", (comment_id,)).fetchone()
        return row[0] if row else None

    def issue_author(self, repo: str, number: int) -> str | None:
        row = self.forge.db.execute("SELECT author FROM prs WHERE repo=? AND number=?", (repo, number)).fetchone()
        if row is None:
            row = self.forge.db.execute("SELECT author FROM issues WHERE repo=? AND number=?", (repo, number)).fetchone()
        return row[0] if row else None

    def pr_head(self, repo: str, number: int) -> str | None:
        row = self.forge.db.execute("SELECT head FROM prs WHERE repo=? AND number=?", (repo, number)).fetchone()
        return row[0] if row else None

    async def human_push(self, repo: str, branch: str, files: dict[str, str | None], *, user: str) -> str:
        return self.admin.push(repo, branch, files, user=user, message=f"{user} edits {branch}")

    async def human_open_pr(self, repo: str, head: str, *, user: str, body: str) -> int:
        db: sqlite3.Connection = self.forge.db
        number = (db.execute("SELECT MAX(number) FROM prs WHERE repo=?", (repo,)).fetchone()[0] or 0) + 1
        now = time.time()
        db.execute("INSERT INTO prs (repo, number, title, body, head, base, state, author, merged_by, merge_sha, "
                   "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,NULL,NULL,?,?)",
                   (repo, number, f"{user}'s change", body, head, DEFAULTS[repo], "open", user, now, now))
        return number

    async def human_merge(self, repo: str, number: int, *, user: str) -> bool:
        try:
            self.admin.approve(repo, number, user="rui-acme" if user != "rui-acme" else "octo-admin")
            self.admin.merge(repo, number, user=user)
        except Exception:  # noqa: BLE001 - conflicts, closed PRs, self-approval: the human could not merge
            return False
        return True

    async def human_close(self, repo: str, number: int, *, user: str) -> None:
        self.admin.close(repo, number, user=user)

    async def human_comment(self, repo: str, number: int, text: str, *, user: str) -> int:
        return self.admin.comment(repo, number, text, user=user).id

    def new_writes(self) -> list[Write]:
        out = self.forge.writes[self._seen:]
        self._seen = len(self.forge.writes)
        return out
