"""The generated lock: how the bot recovers exactly what it last generated for each file.

A three-way merge needs the base, the bot's own previous output for a path. We keep it in the
platform repo itself, in one file, `.trustacks/generated.lock`, so the base is recoverable from the
repo alone with a single `read_file` (no database, no re-running an older generator):

```json
{
  "lock_version": 1,
  "files": {
    ".github/workflows/ci.yml": {
      "generator": "github_actions",
      "generator_version": "0.1.0",
      "sha256": "<sha256 of the UTF-8 generated text>",
      "size": 1234,
      "base": "zlib+base64:<the generated text, zlib-compressed, base64>"
    }
  }
}
```

Why the content itself and not only its hash: a hash proves a base but cannot produce one, and
re-deriving it would need the exact older generator and Profile. Why inside the lock and not as
sibling copies: copies of workflows and manifests under `.trustacks/` could be picked up by tools that
scan the tree (Argo CD directory apps, kustomize globs), and humans would edit them. Compressed,
the lock costs about a third of the generated files' size.

Trust: `base_for` decompresses (bounded) and checks the SHA-256 and size; anything that does not match
(an edited lock, a truncated blob, an unknown lock version) is treated as unknown, which puts the file
in preserve mode: a wrong base is never trusted. The lock is JSON with sorted keys and one entry per
path, so re-running the bot on unchanged input rewrites it byte for byte. It is committed in the
same commit as the files it describes, so a base only advances when a human merges the proposal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from bot.tree import PathEscapeError, normalize

LOCK_PATH = ".trustacks/generated.lock"
LOCK_VERSION = 1
BASE_PREFIX = "zlib+base64:"
MAX_BASE_BYTES = 2_000_000  # a base larger than this decompresses to "unknown", never to memory exhaustion


@dataclass(frozen=True)
class LockEntry:
    """One generated file: who made it, its hash, and its compressed content."""

    generator: str
    generator_version: str
    sha256: str
    size: int
    base: str

    def as_json(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "generator_version": self.generator_version,
            "sha256": self.sha256,
            "size": self.size,
            "base": self.base,
        }


class GeneratedLock:
    """The bot's record of its last output per path (see the module docstring for the format)."""

    def __init__(self, entries: dict[str, LockEntry] | None = None, *, problems: list[str] | None = None) -> None:
        self._entries: dict[str, LockEntry] = dict(entries or {})
        #: why parts of a lock were ignored (shown in logs; the affected paths fall back to preserve mode)
        self.problems: list[str] = list(problems or [])

    @classmethod
    def loads(cls, text: str | None) -> GeneratedLock:
        """Read a lock; None, an empty text or an unreadable lock give an empty lock (never an exception)."""
        if text is None or not text.strip():
            return cls()
        try:
            data = json.loads(text)
        except ValueError as exc:
            return cls(problems=[f"{LOCK_PATH} is not valid JSON: {exc}"])
        if not isinstance(data, dict) or data.get("lock_version") != LOCK_VERSION:
            return cls(problems=[f"{LOCK_PATH}: unsupported lock_version {data.get('lock_version') if isinstance(data, dict) else None!r}"])
        files = data.get("files")
        if not isinstance(files, dict):
            return cls(problems=[f"{LOCK_PATH}: 'files' is not an object"])
        entries: dict[str, LockEntry] = {}
        problems: list[str] = []
        for path, raw in files.items():
            try:
                key = normalize(path)
                entries[key] = LockEntry(
                    generator=_str(raw, "generator"),
                    generator_version=_str(raw, "generator_version"),
                    sha256=_str(raw, "sha256"),
                    size=_int(raw, "size"),
                    base=_str(raw, "base"),
                )
            except (PathEscapeError, TypeError, ValueError) as exc:
                problems.append(f"{LOCK_PATH}: entry {path!r} ignored: {exc}")
        return cls(entries, problems=problems)

    def dumps(self) -> str:
        files = {path: self._entries[path].as_json() for path in sorted(self._entries)}
        return json.dumps({"lock_version": LOCK_VERSION, "files": files}, indent=2, sort_keys=True) + "\n"

    def paths(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, path: str) -> LockEntry | None:
        return self._entries.get(normalize(path))

    def base_for(self, path: str) -> str | None:
        """The exact text last generated for `path`, or None if unknown or if it fails verification."""
        entry = self.entry(path)
        if entry is None or not entry.base.startswith(BASE_PREFIX):
            return None
        try:
            packed = base64.b64decode(entry.base[len(BASE_PREFIX) :], validate=True)
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, MAX_BASE_BYTES + 1)
            if len(raw) > MAX_BASE_BYTES or not inflater.eof or inflater.unused_data:
                return None
            text = raw.decode("utf-8")
        except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError):
            return None
        if len(raw) != entry.size or hashlib.sha256(raw).hexdigest() != entry.sha256:
            return None
        return text

    def record(self, path: str, content: str, *, generator: str, version: str) -> None:
        """Remember `content` as what `generator` (at `version`) produced for `path`."""
        raw = content.encode("utf-8")
        packed = base64.b64encode(zlib.compress(raw, 9)).decode("ascii")
        self._entries[normalize(path)] = LockEntry(
            generator=generator,
            generator_version=version,
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            base=BASE_PREFIX + packed,
        )

    def forget(self, path: str) -> None:
        """Drop a path (the bot no longer generates it)."""
        self._entries.pop(normalize(path), None)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and normalize(path) in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def _str(raw: Any, key: str) -> str:
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    return value


def _int(raw: Any, key: str) -> int:
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"{key} must be a non-negative integer")
    return value
