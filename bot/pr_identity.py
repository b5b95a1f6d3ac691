"""Stateless PR identity: the hidden marker the bot puts in every PR body it writes.

The bot finds its own PRs by head branch plus this marker (proposal kind, target, input hash), so a
re-run updates the same PR, an unchanged proposal changes nothing, and losing the database loses no PR
identity (Renovate and bedevere find their comments the same way).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

_MARKER_RE = re.compile(r"<!-- trustacks:proposal kind=(\S+) target=(\S+) hash=([0-9a-f]{16,64}) -->")


@dataclass(frozen=True)
class Identity:
    kind: str
    target: str
    input_hash: str


def marker(kind: str, target: str, input_hash: str) -> str:
    safe_target = re.sub(r"[^A-Za-z0-9_./:@-]", "_", target)
    return f"<!-- trustacks:proposal kind={kind} target={safe_target} hash={input_hash} -->"


def parse_marker(body: str | None) -> Identity | None:
    """The identity in a PR body, or None when the body has no (well-formed) marker."""
    if not body:
        return None
    found = _MARKER_RE.findall(body)
    if not found:
        return None
    kind, target, digest = found[-1]
    return Identity(kind=kind, target=target, input_hash=digest)


def with_marker(body: str, identity: Identity) -> str:
    """`body` with exactly one marker, at the end."""
    clean = _MARKER_RE.sub("", body).rstrip()
    return f"{clean}\n\n{marker(identity.kind, identity.target, identity.input_hash)}\n"


def input_hash(*parts: Any) -> str:
    """A stable digest of a proposal's inputs (files and their contents, target, kind)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]
