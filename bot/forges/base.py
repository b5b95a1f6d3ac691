"""The one Forge interface, and the one write guard every implementation goes through.

Implementations (local, GitHub, GitLab) subclass `Forge` and implement the `_underscore` primitives.
The public write methods are defined here only, so each write passes `guard_ref` before any
implementation code runs: the bot writes only to branches under `trustacks/`, never to the default
branch and never to a protected branch. There is deliberately no merge or approve method: humans merge.

Every method is async so the HTTP forges (gidgethub on aiohttp, python-gitlab in a thread) and the
local forge (git + SQLite) share one shape.
"""

from __future__ import annotations

import abc
import fnmatch
import re
from typing import Sequence

from bot.models import (
    BRANCH_PREFIX,
    Annotation,
    ChangeRequest,
    ChangeRequestState,
    CheckConclusion,
    CheckRun,
    Comment,
    CommitInfo,
    FileChange,
    Issue,
    Permission,
)
from bot.tree import MemoryTree, PathEscapeError, normalize

# git check-ref-format rules we rely on, plus our own prefix rule.
_REF_OK = re.compile(r"^trustacks/[A-Za-z0-9._/-]+$")
MAX_COMMIT_FILES = 500


class ForgeError(RuntimeError):
    """A forge call failed; the message says what and how to retry."""


class NotFoundError(ForgeError):
    pass


class WriteRefused(ForgeError):
    """The write guard refused a write (wrong prefix, default or protected branch)."""


class ProtectionUnknown(WriteRefused):
    """The guard could not read a branch's protection, so it refused the write (it never assumes "unprotected")."""


def check_ref_name(ref: str) -> str:
    """Validate a bot branch name (syntax only). Returns the name or raises WriteRefused."""
    if not isinstance(ref, str) or not ref:
        raise WriteRefused("refused: empty branch name")
    name = ref.removeprefix("refs/heads/")
    if not name.startswith(BRANCH_PREFIX):
        raise WriteRefused(
            f"refused to write to branch {name!r}: the bot writes only to branches under {BRANCH_PREFIX!r}"
        )
    if (
        not _REF_OK.match(name)
        or ".." in name
        or "//" in name
        or name.endswith(("/", ".", ".lock"))
        or "/." in name
        or len(name) > 200
    ):
        raise WriteRefused(f"refused to write to branch {name!r}: not a valid branch name")
    return name


class Forge(abc.ABC):
    """A code host. Reads are free; every write goes through `guard_ref`."""

    #: short name used in config and logs ("local", "github", "gitlab")
    name: str = "abstract"

    #: identity the bot commits and comments as
    bot_login: str = "trustacks[bot]"
    bot_email: str = "bot@trustacks.local"

    def __init__(self, *, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        #: writes suppressed by dry-run, as (verb, repo, target) for reporting
        self.suppressed: list[tuple[str, str, str]] = []

    # ================================================================== the write guard

    async def guard_ref(self, repo: str, ref: str) -> str:
        """Refuse any ref not under trustacks/, or that is the default or a protected branch."""
        name = check_ref_name(ref)
        default = await self.default_branch(repo)
        if name == default:
            raise WriteRefused(f"refused to write to {repo}@{name}: it is the default branch")
        reason = await self.protection(repo, name)
        if reason:
            raise WriteRefused(f"refused to write to {repo}@{name}: the branch is protected ({reason})")
        return name

    def _suppress(self, verb: str, repo: str, target: str) -> bool:
        if self.dry_run:
            self.suppressed.append((verb, repo, target))
            return True
        return False

    # ================================================================== reads (implemented by forges)

    @abc.abstractmethod
    async def default_branch(self, repo: str) -> str: ...

    @abc.abstractmethod
    async def protected_branches(self, repo: str) -> set[str]:
        """Names or fnmatch patterns of protected branches."""

    async def protection(self, repo: str, branch: str) -> str | None:
        """Why `branch` is protected (it need not exist yet), or None when nothing protects it.

        The default matches `protected_branches` as fnmatch patterns. A forge whose protection cannot
        be listed as patterns overrides this, and raises `ProtectionUnknown` when it cannot tell.
        """
        for pattern in sorted(await self.protected_branches(repo)):
            if branch == pattern or fnmatch.fnmatchcase(branch, pattern):
                return f"protected by {pattern!r}" if pattern != branch else "a protected branch"
        return None

    @abc.abstractmethod
    async def branch_sha(self, repo: str, branch: str) -> str | None:
        """Head commit of a branch, or None if it does not exist."""

    @abc.abstractmethod
    async def read_file(self, repo: str, path: str, *, ref: str | None = None) -> bytes | None:
        """A file's bytes at ref (default branch when None); None when absent."""

    @abc.abstractmethod
    async def list_files(self, repo: str, *, ref: str | None = None) -> list[str]:
        """Every file path at ref."""

    async def read_tree(
        self, repo: str, *, ref: str | None = None, max_file_bytes: int = 1_000_000
    ) -> MemoryTree:
        """The repo at ref as an in-memory tree for the engines (oversized files left out)."""
        files = {}
        for path in await self.list_files(repo, ref=ref):
            data = await self.read_file(repo, path, ref=ref)
            if data is not None and len(data) <= max_file_bytes:
                files[path] = data
        return MemoryTree(files, max_file_bytes=max_file_bytes)

    @abc.abstractmethod
    async def branch_commits(self, repo: str, branch: str, base: str) -> list[CommitInfo]:
        """Commits on `branch` that are not on `base` (newest first)."""

    @abc.abstractmethod
    async def find_change_requests(
        self, repo: str, *, head: str | None = None, state: str = "open"
    ) -> list[ChangeRequest]:
        """PRs/MRs, filtered by head branch and state ('open', 'closed', 'merged', 'all')."""

    @abc.abstractmethod
    async def get_change_request(self, repo: str, number: int) -> ChangeRequest: ...

    @abc.abstractmethod
    async def list_comments(self, repo: str, number: int) -> list[Comment]: ...

    @abc.abstractmethod
    async def user_permission(self, repo: str, user: str) -> Permission: ...

    # ================================================================== guarded writes (final)

    async def create_branch(self, repo: str, branch: str, *, from_ref: str) -> str:
        """Create `branch` at `from_ref` (a branch name or sha). Returns the new head sha."""
        name = await self.guard_ref(repo, branch)
        if self._suppress("create_branch", repo, name):
            return await self.branch_sha(repo, from_ref) or from_ref
        return await self._create_branch(repo, name, from_ref)

    async def commit_files(
        self,
        repo: str,
        branch: str,
        changes: Sequence[FileChange],
        *,
        message: str,
        parent: str | None = None,
    ) -> str:
        """Write all `changes` as ONE commit on `branch` (created from `parent` if absent).

        `parent` given: the commit's parent is exactly that sha and the branch is moved to the new
        commit (the caller has checked the branch is not edited by a human). Returns the commit sha.
        """
        name = await self.guard_ref(repo, branch)
        if not changes:
            raise ForgeError("refused: a commit needs at least one file change")
        if len(changes) > MAX_COMMIT_FILES:
            raise ForgeError(f"refused: {len(changes)} files in one commit (limit {MAX_COMMIT_FILES})")
        clean = []
        for c in changes:
            try:
                clean.append(FileChange(path=normalize(c.path), new=c.new, old=c.old))
            except PathEscapeError as exc:
                raise WriteRefused(f"refused to write {c.path!r}: {exc}") from None
        if self._suppress("commit_files", repo, name):
            return parent or (await self.branch_sha(repo, name)) or ""
        return await self._commit_files(repo, name, clean, message=message, parent=parent)

    async def delete_branch(self, repo: str, branch: str) -> None:
        name = await self.guard_ref(repo, branch)
        if self._suppress("delete_branch", repo, name):
            return
        await self._delete_branch(repo, name)

    async def open_change_request(self, repo: str, *, head: str, base: str, title: str, body: str) -> ChangeRequest:
        """Open a PR from a bot branch. The head must pass the guard; the base is where humans merge."""
        name = await self.guard_ref(repo, head)
        if self._suppress("open_change_request", repo, name):
            return ChangeRequest(
                repo=repo, number=0, title=title, body=body, head=name, base=base,
                state=ChangeRequestState.OPEN, author=self.bot_login,
            )
        return await self._open_change_request(repo, head=name, base=base, title=title, body=body)

    async def update_change_request(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None, state: str | None = None
    ) -> ChangeRequest:
        """Edit a PR the bot opened (title, body, or close it). Refused on PRs from other branches."""
        cr = await self.get_change_request(repo, number)
        await self.guard_ref(repo, cr.head)
        if state not in (None, "open", "closed"):
            raise ForgeError(f"refused: state {state!r} (the bot can only open or close, never merge)")
        if self._suppress("update_change_request", repo, f"#{number}"):
            return cr
        return await self._update_change_request(repo, number, title=title, body=body, state=state)

    async def comment(self, repo: str, number: int, body: str) -> Comment:
        if self._suppress("comment", repo, f"#{number}"):
            return Comment(id=0, author=self.bot_login, body=body)
        return await self._comment(repo, number, body)

    async def edit_comment(self, repo: str, number: int, comment_id: int, body: str) -> Comment:
        if self._suppress("edit_comment", repo, f"#{number}"):
            return Comment(id=comment_id, author=self.bot_login, body=body)
        return await self._edit_comment(repo, number, comment_id, body)

    async def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        cr = await self.get_change_request(repo, number)
        await self.guard_ref(repo, cr.head)
        if self._suppress("add_labels", repo, f"#{number}"):
            return
        await self._add_labels(repo, number, list(labels))

    async def set_check(
        self,
        repo: str,
        sha: str,
        *,
        name: str,
        conclusion: CheckConclusion,
        title: str,
        summary: str,
        annotations: Sequence[Annotation] = (),
    ) -> CheckRun:
        """Report a verdict on a commit (check run / commit status). Allowed in dry-run."""
        return await self._set_check(
            CheckRun(repo=repo, sha=sha, name=name, conclusion=conclusion, title=title,
                     summary=summary, annotations=list(annotations))
        )

    # ================================================================== issues (the dashboard)
    # Not branch writes, so no ref guard; they still respect dry-run like `comment`. Forges without
    # issue support keep these defaults, and the dashboard reports that instead of failing the job.

    async def find_issues(self, repo: str, *, marker: str, state: str = "all") -> list[Issue]:
        """Issues opened by the bot whose body contains `marker` (state 'open', 'closed' or 'all'), oldest first."""
        raise NotImplementedError(f"the {self.name} forge does not support issues yet")

    async def create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        if self._suppress("create_issue", repo, title):
            return Issue(repo=repo, number=0, title=title, body=body, author=self.bot_login)
        return await self._create_issue(repo, title=title, body=body)

    async def update_issue(self, repo: str, number: int, *, body: str, state: str | None = None) -> Issue:
        """Replace the body of an issue the bot opened, optionally closing or reopening it
        (implementations refuse other authors' issues)."""
        if state not in (None, "open", "closed"):
            raise ForgeError(f"refused: issue state {state!r}")
        if self._suppress("update_issue", repo, f"#{number}"):
            return Issue(repo=repo, number=number, title="", body=body, author=self.bot_login, state=state or "open")
        return await self._update_issue(repo, number, body=body, state=state)

    async def _create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        raise NotImplementedError(f"the {self.name} forge does not support issues yet")

    async def _update_issue(self, repo: str, number: int, *, body: str, state: str | None) -> Issue:
        raise NotImplementedError(f"the {self.name} forge does not support issues yet")

    # ================================================================== write primitives (implemented by forges)

    @abc.abstractmethod
    async def _create_branch(self, repo: str, branch: str, from_ref: str) -> str: ...

    @abc.abstractmethod
    async def _commit_files(
        self, repo: str, branch: str, changes: list[FileChange], *, message: str, parent: str | None
    ) -> str: ...

    @abc.abstractmethod
    async def _delete_branch(self, repo: str, branch: str) -> None: ...

    @abc.abstractmethod
    async def _open_change_request(self, repo: str, *, head: str, base: str, title: str, body: str) -> ChangeRequest: ...

    @abc.abstractmethod
    async def _update_change_request(
        self, repo: str, number: int, *, title: str | None, body: str | None, state: str | None
    ) -> ChangeRequest: ...

    @abc.abstractmethod
    async def _comment(self, repo: str, number: int, body: str) -> Comment: ...

    @abc.abstractmethod
    async def _edit_comment(self, repo: str, number: int, comment_id: int, body: str) -> Comment: ...

    @abc.abstractmethod
    async def _add_labels(self, repo: str, number: int, labels: list[str]) -> None: ...

    @abc.abstractmethod
    async def _set_check(self, check: CheckRun) -> CheckRun: ...
