"""Read-only file trees the engines work on: a directory on disk, or files held in memory.

The engines never open paths themselves; they read through a `FileTree`. Both implementations confine
every path to the tree: no absolute paths, no `..`, and (on disk) no symlink that leads outside the
root. Oversized files are skipped, not read, so a hostile repo cannot exhaust memory.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Iterator, Mapping, Protocol

DEFAULT_MAX_FILE_BYTES = 1_000_000
SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "vendor", "target", "dist", "build"})


class PathEscapeError(ValueError):
    """A path that would leave its tree (absolute, `..`, or through a symlink)."""


def normalize(path: str) -> str:
    """Return a clean relative POSIX path, or raise PathEscapeError."""
    if not isinstance(path, str) or not path or any(ord(ch) < 0x20 or ch == "\x7f" for ch in path):
        raise PathEscapeError(f"invalid path {path!r}")
    p = path.replace("\\", "/")
    if p.startswith("/") or (len(p) > 1 and p[1] == ":"):
        raise PathEscapeError(f"absolute path not allowed: {path!r}")
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise PathEscapeError(f"path escapes the repository: {path!r}")
    return norm


class FileTree(Protocol):
    """What an engine may do with a repository: list files and read them (bounded)."""

    def paths(self) -> list[str]:
        """Every regular file, as a sorted relative POSIX path."""
        ...

    def read(self, path: str) -> bytes | None:
        """The file's bytes; None if absent, oversized, or not a regular file inside the tree."""
        ...


class MemoryTree:
    """A tree held in memory (from a forge's git objects, or built by a test)."""

    def __init__(self, files: Mapping[str, bytes | str], *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self._files: dict[str, bytes] = {}
        for path, data in files.items():
            self._files[normalize(path)] = data.encode() if isinstance(data, str) else data
        self.max_file_bytes = max_file_bytes

    def paths(self) -> list[str]:
        return sorted(self._files)

    def read(self, path: str) -> bytes | None:
        data = self._files.get(normalize(path))
        if data is None or len(data) > self.max_file_bytes:
            return None
        return data

    def size(self, path: str) -> int | None:
        data = self._files.get(normalize(path))
        return None if data is None else len(data)


class DirTree:
    """A directory on disk, read without following any symlink out of the root."""

    def __init__(self, root: str | os.PathLike[str], *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.root = Path(root).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(str(root))
        self.max_file_bytes = max_file_bytes
        self._paths: list[str] | None = None

    def _walk(self) -> Iterator[str]:
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not os.path.islink(os.path.join(dirpath, d)))
            rel_dir = os.path.relpath(dirpath, root)
            for name in filenames:
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue  # symlinks, devices, sockets: never read
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                yield rel.replace(os.sep, "/")

    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = sorted(self._walk())
        return list(self._paths)

    def _resolve(self, path: str) -> Path:
        rel = normalize(path)
        full = self.root / rel
        # Refuse any symlink on the way (a link inside the repo may point anywhere).
        cur = self.root
        for part in Path(rel).parts:
            cur = cur / part
            if cur.is_symlink():
                raise PathEscapeError(f"symlink not followed: {path!r}")
        return full

    def read(self, path: str) -> bytes | None:
        try:
            full = self._resolve(path)
            st = os.lstat(full)
        except (OSError, PathEscapeError):
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size > self.max_file_bytes:
            return None
        try:
            with open(full, "rb") as fh:
                return fh.read(self.max_file_bytes + 1)[: self.max_file_bytes]
        except OSError:
            return None

    def subtree(self, path: str) -> "DirTree":
        """The directory `path` inside this tree as a tree of its own, confined like `read` (no symlinks)."""
        full = self._resolve(path)
        if not full.is_dir():
            raise NotADirectoryError(path)
        return DirTree(full, max_file_bytes=self.max_file_bytes)

    def size(self, path: str) -> int | None:
        try:
            st = os.lstat(self._resolve(path))
        except (OSError, PathEscapeError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None
