"""The repositories the MCP server may read, and nothing else (the trust boundary of issue #16).

The operator names them when starting the server: the platform repo (it holds the Environment
Profile) and optionally application repos. A tool argument names a repository by its name and a
path inside it (`acme/payments:src`, or a bare path for the platform repo); it can never name a
directory on disk. Every read goes through `bot.tree.DirTree`, which refuses absolute paths, `..`,
symlinks and oversized files. Nothing in this module writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from bot.mcp_server.limits import MAX_NAME_CHARS, InputError, check_path
from bot.profile import PROFILE_PATH, Profile
from bot.tree import DirTree, PathEscapeError

_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*$")


class WorkspaceError(ValueError):
    """A repository configuration the server refuses to start with."""


@dataclass(frozen=True)
class Repo:
    name: str  # owner/name, as evidence strings and the Profile name it
    root: Path


class Workspace:
    """The platform repo plus application repos, each read-only through a DirTree."""

    def __init__(self, platform: Path, *, repos: Mapping[str, Path] | None = None, platform_name: str | None = None) -> None:
        platform = Path(platform)
        if not platform.is_dir():
            raise WorkspaceError(f"{platform}: the platform repo is not a directory")
        name = platform_name or _profile_repo_name(platform) or f"local/{platform.resolve().name or 'platform'}"
        self.platform = Repo(name=_check_name(name), root=platform.resolve())
        self._repos: dict[str, Repo] = {self.platform.name: self.platform}
        for repo_name, root in (repos or {}).items():
            repo_name = _check_name(repo_name)
            if repo_name in self._repos:
                raise WorkspaceError(f"repository {repo_name} is configured twice")
            if not Path(root).is_dir():
                raise WorkspaceError(f"{root}: repository {repo_name} is not a directory")
            self._repos[repo_name] = Repo(name=repo_name, root=Path(root).resolve())

    @property
    def names(self) -> list[str]:
        return list(self._repos)

    def repo(self, name: str | None) -> Repo:
        if name is None or name == "":
            return self.platform
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise InputError("repo must be the name of a configured repository")
        found = self._repos.get(name)
        if found is None:
            raise InputError(f"repository {name[:100]!r} is not configured; configured: {', '.join(self.names)}")
        return found

    def locate(self, spec: str) -> tuple[Repo, str]:
        """`owner/name:path`, `owner/name` or a platform-repo path -> (repo, clean relative path or ".")."""
        if not isinstance(spec, str):
            raise InputError("path must be a string")
        head, sep, rest = spec.partition(":")
        if sep and head in self._repos:
            repo, rel = self._repos[head], rest
        elif spec in self._repos:
            repo, rel = self._repos[spec], "."
        elif sep:
            raise InputError(f"repository {head[:100]!r} is not configured; configured: {', '.join(self.names)}")
        else:
            repo, rel = self.platform, spec
        if rel in ("", ".", "./"):
            return repo, "."
        return repo, check_path(rel)

    def tree(self, repo: Repo, rel: str = ".") -> DirTree:
        """A DirTree rooted at `rel` inside `repo`, refusing any symlink on the way."""
        if rel == ".":
            return DirTree(repo.root)
        try:
            return DirTree(repo.root).subtree(rel)
        except PathEscapeError as exc:
            raise InputError(f"{rel}: {exc}") from None
        except OSError:
            raise InputError(f"{repo.name}:{rel} is not a directory") from None

    def read_text(self, repo: Repo, path: str) -> str | None:
        """A file's current text; None when it is absent, oversized, binary or reached through a symlink."""
        data = DirTree(repo.root).read(path)
        if data is None or b"\x00" in data[:8192]:
            return None
        return data.decode("utf-8", "replace")

    def profile_text(self) -> str | None:
        return self.read_text(self.platform, PROFILE_PATH)

    def profile(self) -> Profile | None:
        """The platform repo's Profile as of now (read on each call, so an edit is seen at once)."""
        text = self.profile_text()
        if text is None:
            return None
        return Profile.loads(text, path=f"{self.platform.name}:{PROFILE_PATH}")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS or not _REPO_NAME.match(name):
        raise WorkspaceError(f"{name!r} is not a repository name like owner/name")
    return name


def _profile_repo_name(platform: Path) -> str | None:
    """The platform repo's own name, as its Profile states it (`platform.repo`)."""
    data = DirTree(platform).read(PROFILE_PATH)
    if data is None:
        return None
    try:
        return Profile.loads(data).platform_repo or None
    except Exception:  # noqa: BLE001 - an unreadable Profile is reported by the tools, not at start-up
        return None
