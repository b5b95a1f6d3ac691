"""Size and shape bounds on every MCP tool argument, checked before any engine sees the value.

A tool argument comes from an agent (or whatever prompt the agent read), so it is untrusted: each
check refuses with an `InputError` whose message names the argument, the limit and what to send
instead. The limits are generous for real changes and small enough that one call cannot exhaust
memory or time (the policy engine has its own input bound and timeout behind these).
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.policy.facts import MAX_FACT_BYTES
from bot.policy.rules_meta import RULE_ID_RE
from bot.tree import PathEscapeError, normalize

#: files in one `evaluate` call, and paths in one `rules_for_change` call
MAX_FILES = 200
MAX_PATHS = 200
MAX_PATH_CHARS = 1024
#: one file's content: the facts extractor does not read larger files, so a larger one would go unjudged
MAX_FILE_CHARS = MAX_FACT_BYTES
MAX_TOTAL_CHARS = 4_000_000
MAX_PR_BODY_CHARS = 65_536
MAX_PROFILE_CHARS = 262_144
MAX_DECISION_CHARS = 1_000_000
MAX_DECISION_ITEMS = 1000
MAX_REF_CHARS = 255
MAX_RULE_ID_CHARS = 100
MAX_NAME_CHARS = 200

_REF = re.compile(r"^[A-Za-z0-9._/\-]+$")


class InputError(ValueError):
    """An argument the server refuses; the message is shown to the caller as is."""


def check_path(path: Any, *, arg: str = "path") -> str:
    """A clean repository-relative path, or InputError (absolute, `..`, control characters, too long)."""
    if not isinstance(path, str):
        raise InputError(f"{arg} must be a string, not {type(path).__name__}")
    if len(path) > MAX_PATH_CHARS:
        raise InputError(f"{arg} is {len(path)} characters, over the {MAX_PATH_CHARS}-character limit")
    try:
        return normalize(path)
    except PathEscapeError as exc:
        raise InputError(f"{arg}: {exc}; paths are relative to a configured repository") from None


def check_paths(paths: Any) -> list[str]:
    if not isinstance(paths, list) or not paths:
        raise InputError("paths must be a non-empty list of repository-relative paths")
    if len(paths) > MAX_PATHS:
        raise InputError(f"{len(paths)} paths is over the {MAX_PATHS}-path limit; ask about fewer paths per call")
    return list(dict.fromkeys(check_path(p, arg=f"paths[{i}]") for i, p in enumerate(paths)))


def check_text(value: Any, *, arg: str, limit: int, allow_none: bool = True) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise InputError(f"{arg} must be a string")
    if len(value) > limit:
        raise InputError(f"{arg} is {len(value)} characters, over the {limit}-character limit")
    if "\x00" in value:
        raise InputError(f"{arg} contains a NUL character; send text, not binary data")
    return value


def check_ref(value: Any, *, arg: str = "base_branch") -> str | None:
    """A branch name: printable, no spaces, no `..` (the same shape git accepts, roughly)."""
    if value is None:
        return None
    text = check_text(value, arg=arg, limit=MAX_REF_CHARS)
    assert text is not None
    if not text or not _REF.match(text) or ".." in text or text.startswith(("/", "-")) or text.endswith(("/", ".lock")):
        raise InputError(f"{arg} {text[:80]!r} is not a valid branch name")
    return text


def check_rule_id(value: Any) -> str:
    text = check_text(value, arg="rule_id", limit=MAX_RULE_ID_CHARS, allow_none=False)
    assert text is not None
    if not RULE_ID_RE.match(text):
        raise InputError(f"rule_id {text[:80]!r} is not a rule ID like TS-CRED-001 (rules_list lists them)")
    return text


def check_files(files: Any) -> list[tuple[str, str | None]]:
    """(path, new content or None for a deletion) for each file of a proposed change."""
    if not isinstance(files, list) or not files:
        raise InputError("files must be a non-empty list of {path, content} objects (content null deletes the file)")
    if len(files) > MAX_FILES:
        raise InputError(f"{len(files)} files is over the {MAX_FILES}-file limit; evaluate the change in parts")
    out: dict[str, str | None] = {}
    total = 0
    for i, item in enumerate(files):
        if not isinstance(item, dict) or "path" not in item:
            raise InputError(f"files[{i}] must be an object with `path` and `content`")
        extra = set(item) - {"path", "content"}
        if extra:
            raise InputError(f"files[{i}] has unknown keys {sorted(extra)}; only `path` and `content` are read")
        path = check_path(item["path"], arg=f"files[{i}].path")
        content = check_text(item.get("content"), arg=f"files[{i}].content ({path})", limit=MAX_FILE_CHARS)
        total += len(content or "")
        if total > MAX_TOTAL_CHARS:
            raise InputError(f"the files add up to over {MAX_TOTAL_CHARS} characters; evaluate the change in parts")
        if path in out:
            raise InputError(f"files[{i}]: {path} appears twice")
        out[path] = content
    return list(out.items())


def check_decision(value: Any) -> dict[str, Any] | None:
    """A Decision as `evaluate` returned it (only `deny` and `warn` are read)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError("decision must be the object `evaluate` returned (or its `decision` member)")
    if "decision" in value and isinstance(value["decision"], dict):
        value = value["decision"]
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InputError(f"decision is not a JSON object: {exc}") from None
    if size > MAX_DECISION_CHARS:
        raise InputError(f"decision is {size} characters, over the {MAX_DECISION_CHARS}-character limit")
    for key in ("deny", "warn"):
        items = value.get(key, [])
        if not isinstance(items, list) or len(items) > MAX_DECISION_ITEMS:
            raise InputError(f"decision.{key} must be a list of at most {MAX_DECISION_ITEMS} violations")
        for j, v in enumerate(items):
            if not isinstance(v, dict) or not isinstance(v.get("rule"), str) or not isinstance(v.get("msg", ""), str):
                raise InputError(f"decision.{key}[{j}] must be an object with `rule` and `msg` strings")
    return value
