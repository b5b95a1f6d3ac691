"""A real forge on one machine: bare git repositories plus a SQLite table of PRs, comments and checks.

Used by `trustacks demo`, offline work and the tests. Git objects are real: the bot's commits are made
with git plumbing against a temporary index (one commit per change set, no work tree), and a "merge"
is a real `git merge-tree` + merge commit on the base branch, performed by a named human user. The bot
side (the `Forge` interface) has no merge or approve method; those live in `LocalForgeAdmin`, which
stands for the people using the forge.

Layout of the data directory:
    repos/<owner>/<name>.git   bare repositories
    forge.db                   SQLite: repos, permissions, protected branches, PRs, comments, reviews, labels, checks,
                               issues (numbered apart from PRs)
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from bot.forges.base import Forge, ForgeError, NotFoundError
from bot.models import (
    ChangeRequest,
    ChangeRequestState,
    CheckRun,
    Comment,
    CommitInfo,
    FileChange,
    Issue,
    Permission,
)
from bot.tree import normalize

try:  # POSIX; elsewhere the ref lock is a no-op (the local forge is for one machine anyway)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

ZERO_SHA = "0" * 40
_SCHEMA = """
CREATE TABLE IF NOT EXISTS repos (name TEXT PRIMARY KEY, default_branch TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS protected (repo TEXT NOT NULL, pattern TEXT NOT NULL, PRIMARY KEY (repo, pattern));
CREATE TABLE IF NOT EXISTS permissions (repo TEXT NOT NULL, user TEXT NOT NULL, permission TEXT NOT NULL,
    PRIMARY KEY (repo, user));
CREATE TABLE IF NOT EXISTS prs (repo TEXT NOT NULL, number INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
    head TEXT NOT NULL, base TEXT NOT NULL, state TEXT NOT NULL, author TEXT NOT NULL, merged_by TEXT,
    merge_sha TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (repo, number));
CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL, number INTEGER NOT NULL,
    author TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (repo TEXT NOT NULL, number INTEGER NOT NULL, user TEXT NOT NULL, state TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS labels (repo TEXT NOT NULL, number INTEGER NOT NULL, label TEXT NOT NULL,
    PRIMARY KEY (repo, number, label));
CREATE TABLE IF NOT EXISTS checks (id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL, sha TEXT NOT NULL,
    name TEXT NOT NULL, conclusion TEXT NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL,
    annotations TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS issues (repo TEXT NOT NULL, number INTEGER NOT NULL, title TEXT NOT NULL,
    body TEXT NOT NULL, author TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, PRIMARY KEY (repo, number));
"""


class LocalForge(Forge):
    """The bot's view of the local forge (guarded writes only)."""

    name = "local"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        dry_run: bool = False,
        bot_login: str = "trustacks[bot]",
        bot_email: str = "bot@trustacks.local",
    ) -> None:
        super().__init__(dry_run=dry_run)
        self.data_dir = Path(data_dir)
        (self.data_dir / "repos").mkdir(parents=True, exist_ok=True)
        self.bot_login = bot_login
        self.bot_email = bot_email
        self.db = sqlite3.connect(self.data_dir / "forge.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ git plumbing

    def repo_path(self, repo: str) -> Path:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name or any(p in ("", ".", "..") for p in (owner, name)):
            raise ForgeError(f"invalid repository name {repo!r}: expected owner/name")
        return self.data_dir / "repos" / owner / f"{name}.git"

    def _require_repo(self, repo: str) -> Path:
        path = self.repo_path(repo)
        if not path.is_dir():
            raise NotFoundError(f"repository {repo} does not exist on the local forge")
        return path

    def _git(
        self,
        repo: str,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        path = self._require_repo(repo)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.data_dir),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
        if env:
            full_env.update(env)
        proc = subprocess.run(
            ["git", "--git-dir", str(path), *args], input=input, capture_output=True, env=full_env
        )
        if check and proc.returncode != 0:
            raise ForgeError(f"git {args[0]} failed in {repo}: {proc.stderr.decode(errors='replace').strip()}")
        return proc

    def _rev(self, repo: str, ref: str) -> str | None:
        proc = self._git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def _resolve(self, repo: str, ref: str | None) -> str:
        target = ref or self._default_branch(repo)
        sha = self._rev(repo, f"refs/heads/{target}") or self._rev(repo, target)
        if sha is None:
            raise NotFoundError(f"{repo}: no branch or commit {target!r}")
        return sha

    def _identity(self, name: str, email: str) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }

    def _write_commit(
        self,
        repo: str,
        *,
        parent: str | None,
        changes: Iterable[FileChange],
        message: str,
        identity: Mapping[str, str],
    ) -> tuple[str, bool]:
        """Build one commit from `parent` plus `changes`. Returns (sha, changed)."""
        with tempfile.TemporaryDirectory(prefix="trustacks-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self._git(repo, "read-tree", parent, env=env)
            entries = []
            for change in changes:
                path = normalize(change.path)
                if change.new is None:
                    entries.append(f"0 {ZERO_SHA}\t{path}\n")  # mode 0 removes the entry
                    continue
                blob = self._git(repo, "hash-object", "-w", "--stdin", input=change.new.encode("utf-8"))
                entries.append(f"100644 {blob.stdout.decode().strip()}\t{path}\n")
            self._git(repo, "update-index", "--index-info", input="".join(entries).encode("utf-8"), env=env)
            tree = self._git(repo, "write-tree", env=env).stdout.decode().strip()
        if parent:
            parent_tree = self._git(repo, "rev-parse", f"{parent}^{{tree}}").stdout.decode().strip()
            if parent_tree == tree:
                return parent, False
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args[2:2] = ["-p", parent]
        sha = self._git(repo, *args, env=dict(identity)).stdout.decode().strip()
        return sha, True

    def _move_ref(self, repo: str, branch: str, new: str, old: str | None) -> None:
        with self._ref_lock(repo, branch):
            self._git(repo, "update-ref", f"refs/heads/{branch}", new, old or ZERO_SHA)

    @contextlib.contextmanager
    def _ref_lock(self, repo: str, branch: str) -> Iterator[None]:
        """Every ref change on this forge runs under one flock per repository. The kernel drops a flock
        when its process dies, so a git `<ref>.lock` file found while holding it was left by a writer that
        crashed mid-update (SIGKILL, OOM): remove it, or every later write to that branch fails for good."""
        path = self._require_repo(repo)
        with open(path / "trustacks-refs.lock", "a+b") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            for stale in (path / "refs" / "heads" / f"{branch}.lock", path / "packed-refs.lock"):
                try:
                    stale.unlink()
                except FileNotFoundError:
                    pass
            yield

    # ------------------------------------------------------------------ reads

    def _default_branch(self, repo: str) -> str:
        row = self.db.execute("SELECT default_branch FROM repos WHERE name=?", (repo,)).fetchone()
        if row is None:
            raise NotFoundError(f"repository {repo} does not exist on the local forge")
        return row[0]

    async def default_branch(self, repo: str) -> str:
        return self._default_branch(repo)

    async def protected_branches(self, repo: str) -> set[str]:
        rows = self.db.execute("SELECT pattern FROM protected WHERE repo=?", (repo,)).fetchall()
        return {r[0] for r in rows}

    async def branch_sha(self, repo: str, branch: str) -> str | None:
        self._require_repo(repo)
        return self._rev(repo, f"refs/heads/{branch}")

    async def read_file(self, repo: str, path: str, *, ref: str | None = None) -> bytes | None:
        sha = self._resolve(repo, ref)
        proc = self._git(repo, "cat-file", "blob", f"{sha}:{normalize(path)}", check=False)
        return proc.stdout if proc.returncode == 0 else None

    async def list_files(self, repo: str, *, ref: str | None = None) -> list[str]:
        try:
            sha = self._resolve(repo, ref)
        except NotFoundError:
            if await self.branch_sha(repo, ref or self._default_branch(repo)) is None and ref is None:
                return []  # empty repository
            raise
        out = self._git(repo, "ls-tree", "-r", "-z", "--full-tree", sha).stdout.decode("utf-8", "replace")
        paths = []
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            mode, kind, _oid = meta.split(" ")
            if kind == "blob" and mode in ("100644", "100755"):
                paths.append(path)  # symlinks (120000) and submodules are never read
        return sorted(paths)

    async def branch_commits(self, repo: str, branch: str, base: str) -> list[CommitInfo]:
        head = self._resolve(repo, branch)
        base_sha = self._resolve(repo, base)
        out = self._git(repo, "log", "--format=%H%x1f%ae%x1f%ce%x1f%s%x1e", f"{base_sha}..{head}").stdout.decode()
        commits = []
        for rec in out.split("\x1e"):
            rec = rec.strip()
            if rec:
                sha, ae, ce, subject = rec.split("\x1f", 3)
                commits.append(CommitInfo(sha=sha, author_email=ae, committer_email=ce, message=subject))
        return commits

    def _row_to_cr(self, row: sqlite3.Row | tuple) -> ChangeRequest:
        repo, number, title, body, head, base, state, author, merged_by = row[:9]
        labels = [r[0] for r in self.db.execute(
            "SELECT label FROM labels WHERE repo=? AND number=? ORDER BY label", (repo, number))]
        head_sha = self._rev(repo, f"refs/heads/{head}") or ""
        return ChangeRequest(
            repo=repo, number=number, title=title, body=body, head=head, base=base,
            state=ChangeRequestState(state), author=author, head_sha=head_sha,
            url=f"local://{repo}/pull/{number}", labels=labels, merged_by=merged_by,
        )

    _CR_COLS = "repo, number, title, body, head, base, state, author, merged_by"

    async def find_change_requests(
        self, repo: str, *, head: str | None = None, state: str = "open"
    ) -> list[ChangeRequest]:
        sql = f"SELECT {self._CR_COLS} FROM prs WHERE repo=?"
        args: list[object] = [repo]
        if head is not None:
            sql += " AND head=?"
            args.append(head)
        if state != "all":
            sql += " AND state=?"
            args.append(state)
        return [self._row_to_cr(r) for r in self.db.execute(sql + " ORDER BY number", args)]

    async def get_change_request(self, repo: str, number: int) -> ChangeRequest:
        row = self.db.execute(
            f"SELECT {self._CR_COLS} FROM prs WHERE repo=? AND number=?", (repo, number)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{repo}: no pull request #{number}")
        return self._row_to_cr(row)

    async def list_comments(self, repo: str, number: int) -> list[Comment]:
        rows = self.db.execute(
            "SELECT id, author, body FROM comments WHERE repo=? AND number=? ORDER BY id", (repo, number))
        return [Comment(id=r[0], author=r[1], body=r[2]) for r in rows]

    async def user_permission(self, repo: str, user: str) -> Permission:
        row = self.db.execute("SELECT permission FROM permissions WHERE repo=? AND user=?", (repo, user)).fetchone()
        return Permission(row[0]) if row else Permission.NONE

    def checks(self, repo: str, sha: str | None = None) -> list[CheckRun]:
        """Recorded check runs (newest last), for the demo and the tests."""
        sql, args = "SELECT id, repo, sha, name, conclusion, title, summary FROM checks WHERE repo=?", [repo]
        if sha:
            sql += " AND sha=?"
            args.append(sha)
        from bot.models import CheckConclusion

        return [
            CheckRun(id=r[0], repo=r[1], sha=r[2], name=r[3], conclusion=CheckConclusion(r[4]), title=r[5], summary=r[6])
            for r in self.db.execute(sql + " ORDER BY id", args)
        ]

    _ISSUE_COLS = "repo, number, title, body, author, state"

    def _row_to_issue(self, row: tuple) -> Issue:
        repo, number, title, body, author, state = row
        return Issue(repo=repo, number=number, title=title, body=body, author=author, state=state,
                     url=f"local://{repo}/issues/{number}")

    def get_issue(self, repo: str, number: int) -> Issue:
        row = self.db.execute(f"SELECT {self._ISSUE_COLS} FROM issues WHERE repo=? AND number=?",
                              (repo, number)).fetchone()
        if row is None:
            raise NotFoundError(f"{repo}: no issue #{number}")
        return self._row_to_issue(row)

    async def find_issues(self, repo: str, *, marker: str, state: str = "all") -> list[Issue]:
        sql = f"SELECT {self._ISSUE_COLS} FROM issues WHERE repo=? AND author=? AND instr(body, ?) > 0"
        args: list[object] = [repo, self.bot_login, marker]
        if state != "all":
            sql += " AND state=?"
            args.append(state)
        return [self._row_to_issue(r) for r in self.db.execute(sql + " ORDER BY number", args)]

    async def _create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        self._default_branch(repo)  # the repo must exist
        now = time.time()
        with self.db:
            number = self.db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM issues WHERE repo=?",
                                     (repo,)).fetchone()[0]
            self.db.execute("INSERT INTO issues VALUES (?,?,?,?,?,?,?,?)",
                            (repo, number, title, body, self.bot_login, "open", now, now))
        return self.get_issue(repo, number)

    async def _update_issue(self, repo: str, number: int, *, body: str, state: str | None) -> Issue:
        issue = self.get_issue(repo, number)
        if issue.author != self.bot_login:
            raise ForgeError(f"{repo}: issue #{number} is not the bot's")
        self.db.execute("UPDATE issues SET body=?, state=?, updated_at=? WHERE repo=? AND number=?",
                        (body, state or issue.state, time.time(), repo, number))
        return self.get_issue(repo, number)

    # ------------------------------------------------------------------ guarded write primitives

    async def _create_branch(self, repo: str, branch: str, from_ref: str) -> str:
        sha = self._resolve(repo, from_ref)
        if self._rev(repo, f"refs/heads/{branch}"):
            raise ForgeError(f"{repo}: branch {branch} already exists")
        self._move_ref(repo, branch, sha, None)
        return sha

    async def _commit_files(
        self, repo: str, branch: str, changes: list[FileChange], *, message: str, parent: str | None
    ) -> str:
        current = self._rev(repo, f"refs/heads/{branch}")
        base = parent or current
        if base is None:
            raise ForgeError(f"{repo}: branch {branch} does not exist and no parent commit was given")
        sha, changed = self._write_commit(
            repo, parent=base, changes=changes, message=message,
            identity=self._identity(self.bot_login, self.bot_email),
        )
        if sha != current:
            self._move_ref(repo, branch, sha, current)
        return sha

    async def _delete_branch(self, repo: str, branch: str) -> None:
        current = self._rev(repo, f"refs/heads/{branch}")
        if current:
            with self._ref_lock(repo, branch):
                self._git(repo, "update-ref", "-d", f"refs/heads/{branch}", current)

    async def _open_change_request(self, repo: str, *, head: str, base: str, title: str, body: str) -> ChangeRequest:
        if self._rev(repo, f"refs/heads/{head}") is None:
            raise ForgeError(f"{repo}: cannot open a pull request from missing branch {head}")
        self._resolve(repo, base)
        existing = await self.find_change_requests(repo, head=head, state="open")
        if existing:
            raise ForgeError(f"{repo}: a pull request from {head} is already open (#{existing[0].number})")
        now = time.time()
        with self.db:
            number = (self.db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM prs WHERE repo=?", (repo,))
                      .fetchone()[0])
            self.db.execute(
                "INSERT INTO prs VALUES (?,?,?,?,?,?,?,?,NULL,NULL,?,?)",
                (repo, number, title, body, head, base, "open", self.bot_login, now, now),
            )
        return await self.get_change_request(repo, number)

    async def _update_change_request(
        self, repo: str, number: int, *, title: str | None, body: str | None, state: str | None
    ) -> ChangeRequest:
        cr = await self.get_change_request(repo, number)
        if cr.state is ChangeRequestState.MERGED:
            raise ForgeError(f"{repo}#{number} is merged and cannot be edited")
        self.db.execute(
            "UPDATE prs SET title=?, body=?, state=?, updated_at=? WHERE repo=? AND number=?",
            (title if title is not None else cr.title, body if body is not None else cr.body,
             state or cr.state.value, time.time(), repo, number),
        )
        return await self.get_change_request(repo, number)

    async def _comment(self, repo: str, number: int, body: str) -> Comment:
        await self.get_change_request(repo, number)
        cur = self.db.execute(
            "INSERT INTO comments (repo, number, author, body, created_at) VALUES (?,?,?,?,?)",
            (repo, number, self.bot_login, body, time.time()),
        )
        return Comment(id=int(cur.lastrowid or 0), author=self.bot_login, body=body)

    async def _edit_comment(self, repo: str, number: int, comment_id: int, body: str) -> Comment:
        row = self.db.execute("SELECT author FROM comments WHERE id=? AND repo=? AND number=?",
                              (comment_id, repo, number)).fetchone()
        if row is None or row[0] != self.bot_login:
            raise ForgeError(f"{repo}#{number}: comment {comment_id} is not the bot's")
        self.db.execute("UPDATE comments SET body=? WHERE id=?", (body, comment_id))
        return Comment(id=comment_id, author=self.bot_login, body=body)

    async def _add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        with self.db:
            for label in labels:
                self.db.execute("INSERT OR IGNORE INTO labels VALUES (?,?,?)", (repo, number, label))

    async def _set_check(self, check: CheckRun) -> CheckRun:
        cur = self.db.execute(
            "INSERT INTO checks (repo, sha, name, conclusion, title, summary, annotations, created_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (check.repo, check.sha, check.name, check.conclusion.value, check.title, check.summary,
             json.dumps([a.__dict__ for a in check.annotations]), time.time()),
        )
        check.id = int(cur.lastrowid or 0)
        return check


class LocalForgeAdmin:
    """What the people on the local forge do: create repos, push, approve, comment and merge.

    Deliberately separate from `LocalForge`: the bot never gets these powers. Every action names the
    human doing it; merges are refused for the bot's own login.
    """

    def __init__(self, forge: LocalForge) -> None:
        self.forge = forge

    def create_repo(
        self,
        repo: str,
        *,
        default_branch: str = "main",
        files: Mapping[str, str] | None = None,
        owner: str = "demo-admin",
        protected: Iterable[str] = (),
    ) -> str | None:
        """Create a bare repo with an initial commit of `files` by `owner` (admin). Returns the commit sha."""
        path = self.forge.repo_path(repo)
        if path.exists():
            raise ForgeError(f"repository {repo} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--bare", "-q", "-b", default_branch, str(path)], check=True,
                       env={"PATH": os.environ.get("PATH", ""), "GIT_CONFIG_NOSYSTEM": "1",
                            "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(self.forge.data_dir)})
        with self.forge.db:
            self.forge.db.execute("INSERT INTO repos VALUES (?,?)", (repo, default_branch))
            self.forge.db.execute("INSERT OR REPLACE INTO permissions VALUES (?,?,?)", (repo, owner, "admin"))
            self.forge.db.execute("INSERT OR REPLACE INTO permissions VALUES (?,?,?)",
                                  (repo, self.forge.bot_login, "write"))
            for pattern in protected:
                self.forge.db.execute("INSERT OR IGNORE INTO protected VALUES (?,?)", (repo, pattern))
        if files:
            return self.push(repo, default_branch, files, user=owner, message="Initial commit")
        return None

    def grant(self, repo: str, user: str, permission: Permission | str) -> None:
        self.forge.db.execute("INSERT OR REPLACE INTO permissions VALUES (?,?,?)",
                              (repo, user, Permission(permission).value))

    def protect(self, repo: str, pattern: str) -> None:
        self.forge.db.execute("INSERT OR IGNORE INTO protected VALUES (?,?)", (repo, pattern))

    def push(
        self,
        repo: str,
        branch: str,
        files: Mapping[str, str | None],
        *,
        user: str,
        message: str = "Update",
        email: str | None = None,
    ) -> str:
        """A human commit straight to `branch` (as `git push` would). `None` content deletes a file."""
        if user == self.forge.bot_login:
            raise ForgeError("the bot cannot push through the admin interface")
        current = self.forge._rev(repo, f"refs/heads/{branch}")
        parent = current or self.forge._rev(repo, f"refs/heads/{self.forge._default_branch(repo)}")
        changes = [FileChange(path=p, new=c) for p, c in files.items()]
        sha, _ = self.forge._write_commit(
            repo, parent=parent, changes=changes, message=message,
            identity=self.forge._identity(user, email or f"{user}@users.local"),
        )
        self.forge._move_ref(repo, branch, sha, current)
        return sha

    def comment(self, repo: str, number: int, body: str, *, user: str) -> Comment:
        cur = self.forge.db.execute(
            "INSERT INTO comments (repo, number, author, body, created_at) VALUES (?,?,?,?,?)",
            (repo, number, user, body, time.time()),
        )
        return Comment(id=int(cur.lastrowid or 0), author=user, body=body)

    def edit_issue(self, repo: str, number: int, body: str, *, user: str) -> tuple[str, str]:
        """A human edits an issue's body (ticks a dashboard checkbox). Returns (old body, new body)."""
        issue = self.forge.get_issue(repo, number)
        self.forge.db.execute("UPDATE issues SET body=?, updated_at=? WHERE repo=? AND number=?",
                              (body, time.time(), repo, number))
        return issue.body, body

    def close_issue(self, repo: str, number: int, *, user: str) -> None:
        self.forge.db.execute("UPDATE issues SET state='closed', updated_at=? WHERE repo=? AND number=?",
                              (time.time(), repo, number))

    def approve(self, repo: str, number: int, *, user: str) -> None:
        cr = self.forge.db.execute("SELECT author FROM prs WHERE repo=? AND number=?", (repo, number)).fetchone()
        if cr is None:
            raise NotFoundError(f"{repo}: no pull request #{number}")
        if user == cr[0] or user == self.forge.bot_login:
            raise ForgeError(f"{user} cannot approve {repo}#{number}: authors and the bot never approve")
        self.forge.db.execute("INSERT INTO reviews VALUES (?,?,?,?,?)", (repo, number, user, "approved", time.time()))

    def approvals(self, repo: str, number: int) -> list[str]:
        rows = self.forge.db.execute(
            "SELECT DISTINCT user FROM reviews WHERE repo=? AND number=? AND state='approved'", (repo, number))
        return [r[0] for r in rows]

    def close(self, repo: str, number: int, *, user: str) -> None:
        self.forge.db.execute("UPDATE prs SET state='closed', updated_at=? WHERE repo=? AND number=? AND state='open'",
                              (time.time(), repo, number))

    def reopen(self, repo: str, number: int, *, user: str) -> None:
        self.forge.db.execute("UPDATE prs SET state='open', updated_at=? WHERE repo=? AND number=? AND state='closed'",
                              (time.time(), repo, number))

    def merge(self, repo: str, number: int, *, user: str, require_approval: bool = True) -> str:
        """Merge a PR into its base with a real merge commit authored by `user`. Returns the merge sha."""
        f = self.forge
        if user == f.bot_login or user.endswith("[bot]"):
            raise ForgeError("bots never merge: a named human must merge this pull request")
        perm = f.db.execute("SELECT permission FROM permissions WHERE repo=? AND user=?", (repo, user)).fetchone()
        if perm is None or not Permission(perm[0]).can_write:
            raise ForgeError(f"{user} lacks write permission on {repo}")
        row = f.db.execute("SELECT head, base, state, title FROM prs WHERE repo=? AND number=?",
                           (repo, number)).fetchone()
        if row is None:
            raise NotFoundError(f"{repo}: no pull request #{number}")
        head, base, state, title = row
        if state != "open":
            raise ForgeError(f"{repo}#{number} is {state}, not open")
        if require_approval and not self.approvals(repo, number):
            raise ForgeError(f"{repo}#{number} needs at least one human approval before merging")
        head_sha = f._resolve(repo, head)
        base_sha = f._resolve(repo, base)
        proc = f._git(repo, "merge-tree", "--write-tree", base_sha, head_sha, check=False)
        if proc.returncode != 0:
            raise ForgeError(f"{repo}#{number} has merge conflicts with {base}; rebase it first")
        tree = proc.stdout.decode().splitlines()[0].strip()
        message = f"Merge pull request #{number} from {head}\n\n{title}"
        sha = f._git(repo, "commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message,
                     env=f._identity(user, f"{user}@users.local")).stdout.decode().strip()
        f._move_ref(repo, base, sha, base_sha)
        f.db.execute("UPDATE prs SET state='merged', merged_by=?, merge_sha=?, updated_at=? WHERE repo=? AND number=?",
                     (user, sha, time.time(), repo, number))
        return sha

    def log(self, repo: str, branch: str | None = None) -> list[CommitInfo]:
        """`git log` of a branch (default branch when None), newest first."""
        f = self.forge
        ref = f._resolve(repo, branch)
        out = f._git(repo, "log", "--format=%H%x1f%ae%x1f%ce%x1f%s%x1e", ref).stdout.decode()
        result = []
        for rec in out.split("\x1e"):
            rec = rec.strip()
            if rec:
                sha, ae, ce, subject = rec.split("\x1f", 3)
                result.append(CommitInfo(sha=sha, author_email=ae, committer_email=ce, message=subject))
        return result
