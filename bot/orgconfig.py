"""The organisation configuration (`.trustacks/config.yaml` in the platform repo): load, check, resolve.

The file says how the bot behaves in one organisation: which compliance packs apply, `mode: live` or
`dry-run`, noise limits, PR grouping, when to rebase, and ignore lists. It is validated against the
JSON Schema in `bot/schemas/orgconfig.schema.json`; every error names the file, the field
(`repos["acme/app"].limits.max_new_prs_per_hour`) and, when known, its line.

Repo overrides live in the same file under `repos:`. A repo entry may set only the keys listed in
`overridable:`, and only towards stricter or quieter values (the ratchet of DESIGN.md §3): fewer PRs,
`dry-run` over `live`, `per-repo` over `per-service`, fewer rebases, fewer ignored emails, more ignored
paths, more packs (packs are added, never removed). An override that would loosen anything makes the
whole file invalid, so the last good configuration stays in force (`resolve_config`).

Nothing here reads the environment: `TRUSTACKS_DRY_RUN` is read by bot/config.py and passed in as
`force_dry_run`. Nothing here does I/O: callers read the file from the forge and pass its text.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from bot.allowlist import check_glob, glob_match

CONFIG_PATH = ".trustacks/config.yaml"
MAX_CONFIG_BYTES = 256 * 1024
MAX_ALIASES = 50
DEFAULT_MAX_NEW_PRS_PER_HOUR = 5
DEFAULT_MAX_OPEN_PRS_PER_REPO = 3


class Mode(StrEnum):
    LIVE = "live"
    DRY_RUN = "dry-run"


class Grouping(StrEnum):
    """How generation PRs are cut: one per repo (quieter) or one per service."""

    PER_REPO = "per-repo"
    PER_SERVICE = "per-service"


class RebaseWhen(StrEnum):
    """When the bot rebases its own (unedited) branch."""

    NEVER = "never"
    CONFLICTED = "conflicted"
    BEHIND_BASE = "behind-base"


#: noise rank of each closed-set value: a repo may only move to an equal or lower rank
_MODE_RANK = {Mode.DRY_RUN: 0, Mode.LIVE: 1}
_GROUPING_RANK = {Grouping.PER_REPO: 0, Grouping.PER_SERVICE: 1}
_REBASE_RANK = {RebaseWhen.NEVER: 0, RebaseWhen.CONFLICTED: 1, RebaseWhen.BEHIND_BASE: 2}

OVERRIDABLE_KEYS = ("mode", "packs", "limits", "grouping", "rebase_when", "ignore_emails", "ignore_paths")

#: friendlier messages for schema `pattern` failures, keyed by the field's last name
_PATTERN_HINTS = {
    "platform_repo": "expected owner/name (GitLab: group/subgroup/name)",
    "packs": "a pack name is lower-case letters, digits, '-' and '_' (e.g. soc2, pci)",
    "ignore_emails": "an email glob without spaces, e.g. '*[bot]@users.noreply.github.com'",
    "ignore_paths": "a path glob without a leading or trailing '/' or spaces (write 'vendor/**' for a folder)",
    "repos": "a repo key is owner/name (GitLab: group/subgroup/name)",
}


class OrgConfigError(ValueError):
    """An unreadable or invalid org config. `errors` lists every (field, message, line) found."""

    def __init__(self, path: str, errors: list[tuple[str, str, int | None]]) -> None:
        self.path = path
        self.errors = errors
        fld, msg, line = errors[0]
        self.field = fld
        self.line = line
        where = f" (line {line})" if line else ""
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        super().__init__(f"{path}: {fld}{where}: {msg}{more}" if fld else f"{path}{where}: {msg}{more}")

    def details(self) -> list[str]:
        """One line per error, for a check run summary."""
        return [
            f"{self.path}: {fld}{f' (line {line})' if line else ''}: {msg}" if fld else f"{self.path}: {msg}"
            for fld, msg, line in self.errors
        ]


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("bot").joinpath("schemas/orgconfig.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


# --------------------------------------------------------------------------- value objects


@dataclass(frozen=True)
class Limits:
    max_new_prs_per_hour: int = DEFAULT_MAX_NEW_PRS_PER_HOUR
    max_open_prs_per_repo: int = DEFAULT_MAX_OPEN_PRS_PER_REPO


@dataclass(frozen=True)
class RepoOverride:
    """What one `repos:` entry sets; None (or empty) means 'as the org config says'."""

    mode: Mode | None = None
    packs: tuple[str, ...] = ()
    max_new_prs_per_hour: int | None = None
    max_open_prs_per_repo: int | None = None
    grouping: Grouping | None = None
    rebase_when: RebaseWhen | None = None
    ignore_emails: tuple[str, ...] | None = None
    ignore_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class EffectiveConfig:
    """The settings in force for one repo, with a `because` trail naming where each value came from."""

    repo: str
    mode: Mode
    packs: tuple[str, ...]
    platform_repo: str | None
    max_new_prs_per_hour: int
    max_open_prs_per_repo: int
    grouping: Grouping
    rebase_when: RebaseWhen
    ignore_emails: tuple[str, ...]
    ignore_paths: tuple[str, ...]
    because: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def dry_run(self) -> bool:
        """True when the bot must write nothing to the repo except check runs."""
        return self.mode is Mode.DRY_RUN

    def ignores_email(self, email: str, *, extra: Iterable[str] = ()) -> bool:
        """True when a commit by `email` is other automation (does not make a bot branch 'edited').

        `extra`: server-wide patterns (Settings.ignore_emails). See `email_matches` for the glob rules.
        """
        return any(email_matches(email, p) for p in (*self.ignore_emails, *extra))

    def ignores_path(self, path: str) -> bool:
        """True when the bot must not write `path` (a repo-relative POSIX path)."""
        return any(glob_match(path, p) for p in self.ignore_paths)

    def should_rebase(self, *, conflicted: bool, behind_base: bool) -> bool:
        """Whether to rebase an unedited bot branch in this state (an edited branch is never rebased)."""
        if self.rebase_when is RebaseWhen.NEVER:
            return False
        if self.rebase_when is RebaseWhen.CONFLICTED:
            return conflicted
        return conflicted or behind_base

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "mode": str(self.mode),
            "packs": list(self.packs),
            "platform_repo": self.platform_repo,
            "limits": {
                "max_new_prs_per_hour": self.max_new_prs_per_hour,
                "max_open_prs_per_repo": self.max_open_prs_per_repo,
            },
            "grouping": str(self.grouping),
            "rebase_when": str(self.rebase_when),
            "ignore_emails": list(self.ignore_emails),
            "ignore_paths": list(self.ignore_paths),
            "because": dict(self.because),
        }


def email_matches(email: str, pattern: str) -> bool:
    """Case-insensitive email glob: `*` any run of characters, `?` one; everything else is literal.

    Brackets are literal on purpose: with fnmatch, `renovate[bot]@x` would be a character class
    that matches `renovateb@x` (a human's address) and not the bot's `renovate[bot]@x`.
    """
    return _email_regex(pattern.lower()).fullmatch(email.lower()) is not None


@lru_cache(maxsize=1024)
def _email_regex(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class OrgConfig:
    """A validated org config. `source` keeps the text it was read from, so it can be persisted as the
    last good one; `path` names where it came from in error messages and `because` trails."""

    path: str = "(built-in defaults)"
    platform_repo: str | None = None
    mode: Mode = Mode.LIVE
    packs: tuple[str, ...] = ()
    limits: Limits = Limits()
    grouping: Grouping = Grouping.PER_REPO
    rebase_when: RebaseWhen = RebaseWhen.CONFLICTED
    ignore_emails: tuple[str, ...] = ()
    ignore_paths: tuple[str, ...] = ()
    overridable: frozenset[str] = frozenset()
    repos: Mapping[str, RepoOverride] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    source: str | None = field(default=None, repr=False, compare=False)
    #: the top-level keys the file set (the rest are defaults), for the `because` trail
    explicit: frozenset[str] = frozenset()

    @classmethod
    def default(cls) -> "OrgConfig":
        """The built-in defaults: live, no extra packs, 5 new PRs an hour, 3 open per repo, per-repo
        grouping, rebase only when conflicted, nothing ignored, no overrides."""
        return cls()

    @classmethod
    def loads(cls, text: str | bytes, *, path: str = CONFIG_PATH) -> "OrgConfig":
        """Parse and validate the file; raise OrgConfigError naming the file, the field and the line."""
        doc = _load_yaml(text, path=path)
        plain = _to_plain(doc, path=path)
        errors = [_describe(err, doc) for err in _validator().iter_errors(plain)]
        if errors:
            errors.sort(key=lambda e: (e[2] or 0, e[0]))
            raise OrgConfigError(path, errors)
        for key in ("ignore_paths",):
            for i, pat in enumerate(plain.get(key, [])):
                problem = check_glob(pat, what="path glob")
                if problem:
                    raise OrgConfigError(path, [(f"{key}[{i}]", problem, _line(doc, [key, i]))])
        config = cls._build(plain, path=path, source=text if isinstance(text, str) else text.decode("utf-8"))
        problems = config._check_overrides(plain, doc)
        if problems:
            raise OrgConfigError(path, problems)
        return config

    @classmethod
    def _build(cls, plain: dict[str, Any], *, path: str, source: str) -> "OrgConfig":
        lim = plain.get("limits", {})
        repos: dict[str, RepoOverride] = {}
        for name, entry in plain.get("repos", {}).items():
            rl = entry.get("limits", {})
            repos[name] = RepoOverride(
                mode=Mode(entry["mode"]) if "mode" in entry else None,
                packs=tuple(entry.get("packs", ())),
                max_new_prs_per_hour=rl.get("max_new_prs_per_hour"),
                max_open_prs_per_repo=rl.get("max_open_prs_per_repo"),
                grouping=Grouping(entry["grouping"]) if "grouping" in entry else None,
                rebase_when=RebaseWhen(entry["rebase_when"]) if "rebase_when" in entry else None,
                ignore_emails=tuple(entry["ignore_emails"]) if "ignore_emails" in entry else None,
                ignore_paths=tuple(entry.get("ignore_paths", ())),
            )
        return cls(
            path=path,
            platform_repo=plain.get("platform_repo"),
            mode=Mode(plain.get("mode", Mode.LIVE)),
            packs=tuple(plain.get("packs", ())),
            limits=Limits(
                max_new_prs_per_hour=lim.get("max_new_prs_per_hour", DEFAULT_MAX_NEW_PRS_PER_HOUR),
                max_open_prs_per_repo=lim.get("max_open_prs_per_repo", DEFAULT_MAX_OPEN_PRS_PER_REPO),
            ),
            grouping=Grouping(plain.get("grouping", Grouping.PER_REPO)),
            rebase_when=RebaseWhen(plain.get("rebase_when", RebaseWhen.CONFLICTED)),
            ignore_emails=tuple(plain.get("ignore_emails", ())),
            ignore_paths=tuple(plain.get("ignore_paths", ())),
            overridable=frozenset(plain.get("overridable", ())),
            repos=MappingProxyType(repos),
            source=source,
            explicit=frozenset(k for k in plain if k != "limits") | frozenset(f"limits.{k}" for k in lim),
        )

    def _check_overrides(self, plain: dict[str, Any], doc: Any) -> list[tuple[str, str, int | None]]:
        """Every repo override that sets a key it may not, or moves a value towards louder or looser."""
        problems: list[tuple[str, str, int | None]] = []
        folded: dict[str, str] = {}
        for name, entry in plain.get("repos", {}).items():
            where = f"repos[{json.dumps(name)}]"
            other = folded.setdefault(name.lower(), name)
            if other != name:
                problems.append((where, f"same repo as {other!r} (repo keys are matched case-insensitively)",
                                 _line(doc, ["repos", name])))
            for key, value in entry.items():
                fld, line = f"{where}.{key}", _line(doc, ["repos", name, key])
                if key not in self.overridable:
                    allowed = ", ".join(sorted(self.overridable)) or "nothing"
                    problems.append((fld, f"this key is not overridable (overridable: {allowed}); "
                                          f"add {key!r} to `overridable` to allow it", line))
                    continue
                for sub, msg in self._looser(key, value):
                    problems.append((f"{fld}.{sub}" if sub else fld, msg,
                                     _line(doc, ["repos", name, key, sub]) if sub else line))
        return problems

    def _looser(self, key: str, value: Any) -> list[tuple[str, str]]:
        """(sub-field, message) for each way `value` would make the bot louder or less strict than the org."""
        out: list[tuple[str, str]] = []
        if key == "mode" and _MODE_RANK[Mode(value)] > _MODE_RANK[self.mode]:
            out.append(("", f"{value!r} is looser than the org's {str(self.mode)!r}; a repo may only choose dry-run"))
        elif key == "grouping" and _GROUPING_RANK[Grouping(value)] > _GROUPING_RANK[self.grouping]:
            out.append(("", f"{value!r} opens more PRs than the org's {str(self.grouping)!r}"))
        elif key == "rebase_when" and _REBASE_RANK[RebaseWhen(value)] > _REBASE_RANK[self.rebase_when]:
            out.append(("", f"{value!r} rebases more often than the org's {str(self.rebase_when)!r}"))
        elif key == "limits":
            for sub, org_value in (("max_new_prs_per_hour", self.limits.max_new_prs_per_hour),
                                   ("max_open_prs_per_repo", self.limits.max_open_prs_per_repo)):
                if sub in value and value[sub] > org_value:
                    out.append((sub, f"{value[sub]} is above the org's limit of {org_value}; "
                                     "a repo may only lower it"))
        elif key == "ignore_emails":
            extra = [p for p in value if p not in self.ignore_emails]
            if extra:
                out.append(("", f"{', '.join(map(repr, extra))} not in the org's ignore_emails; a repo may only "
                                "ignore fewer emails (more commits then count as human edits)"))
        return out  # packs and ignore_paths only add: a repo can neither drop a pack nor un-ignore a path

    def for_repo(self, repo: str, *, force_dry_run: bool = False) -> EffectiveConfig:
        """The settings in force for `repo` (owner/name): org values, the repo's override (matched
        case-insensitively, since it can only make things quieter), then `force_dry_run`
        (TRUSTACKS_DRY_RUN, server-wide) on top."""
        org = f"org config {self.path}" if self.source is not None else "built-in default"

        def src(key: str) -> str:
            return org if self.source is None or key in self.explicit else f"built-in default (not set in {self.path})"

        because = {k: src(k) for k in ("mode", "packs", "platform_repo", "limits.max_new_prs_per_hour",
                                        "limits.max_open_prs_per_repo", "grouping", "rebase_when",
                                        "ignore_emails", "ignore_paths")}
        values: dict[str, Any] = {
            "mode": self.mode, "packs": self.packs, "grouping": self.grouping, "rebase_when": self.rebase_when,
            "max_new_prs_per_hour": self.limits.max_new_prs_per_hour,
            "max_open_prs_per_repo": self.limits.max_open_prs_per_repo,
            "ignore_emails": self.ignore_emails, "ignore_paths": self.ignore_paths,
        }
        name, override = self._override_for(repo)
        if override is not None:
            by = f"repos[{json.dumps(name)}] in {self.path}"
            # Each step below can only tighten, even if an override slipped past loads() unchecked.
            if override.mode is not None and _MODE_RANK[override.mode] < _MODE_RANK[values["mode"]]:
                values["mode"], because["mode"] = override.mode, by
            extra_packs = tuple(p for p in override.packs if p not in values["packs"])
            if extra_packs:
                values["packs"] = values["packs"] + extra_packs
                because["packs"] = f"{because['packs']} + {by}"
            for key in ("max_new_prs_per_hour", "max_open_prs_per_repo"):
                v = getattr(override, key)
                if v is not None and v < values[key]:
                    values[key], because[f"limits.{key}"] = v, by
            if override.grouping is not None and _GROUPING_RANK[override.grouping] < _GROUPING_RANK[values["grouping"]]:
                values["grouping"], because["grouping"] = override.grouping, by
            if override.rebase_when is not None and \
                    _REBASE_RANK[override.rebase_when] < _REBASE_RANK[values["rebase_when"]]:
                values["rebase_when"], because["rebase_when"] = override.rebase_when, by
            if override.ignore_emails is not None:
                kept = tuple(p for p in values["ignore_emails"] if p in override.ignore_emails)
                if kept != values["ignore_emails"]:
                    values["ignore_emails"], because["ignore_emails"] = kept, by
            extra_paths = tuple(p for p in override.ignore_paths if p not in values["ignore_paths"])
            if extra_paths:
                values["ignore_paths"] = values["ignore_paths"] + extra_paths
                because["ignore_paths"] = f"{because['ignore_paths']} + {by}"
        if force_dry_run and values["mode"] is not Mode.DRY_RUN:
            values["mode"], because["mode"] = Mode.DRY_RUN, "TRUSTACKS_DRY_RUN (server setting)"
        return EffectiveConfig(repo=repo, platform_repo=self.platform_repo,
                               because=MappingProxyType(because), **values)

    def _override_for(self, repo: str) -> tuple[str, RepoOverride | None]:
        if repo in self.repos:
            return repo, self.repos[repo]
        folded = repo.lower()
        for name, override in self.repos.items():
            if name.lower() == folded:
                return name, override
        return repo, None


def resolve_config(
    text: str | bytes | None,
    *,
    last_good: OrgConfig | None,
    path: str = CONFIG_PATH,
) -> tuple[OrgConfig, str | None]:
    """The config to use now, and an error text for a check run when the file is broken.

    No file: the built-in defaults, no error. A valid file: it. A broken file: `last_good` (or the
    defaults when there is none) stays in force, and the error says so and how to fix it.
    """
    if text is None:
        return OrgConfig.default(), None
    try:
        return OrgConfig.loads(text, path=path), None
    except OrgConfigError as exc:
        kept = last_good if last_good is not None else OrgConfig.default()
        which = f"the last good configuration (from {kept.path})" if last_good is not None \
            else "the built-in defaults"
        lines = exc.details()
        text_out = "\n".join([
            f"{path} is invalid, so {which} stays in force.",
            *(f"- {line}" for line in lines),
            "Fix the file and push again; the bot re-reads it on the next push to the default branch.",
        ])
        return kept, text_out


# --------------------------------------------------------------------------- YAML and error helpers


def _load_yaml(text: str | bytes, *, path: str) -> Any:
    if isinstance(text, bytes):
        if len(text) > MAX_CONFIG_BYTES:
            raise OrgConfigError(path, [("", f"file is larger than {MAX_CONFIG_BYTES} bytes", None)])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise OrgConfigError(path, [("", f"not valid UTF-8 ({exc.reason} at byte {exc.start})", None)]) from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise OrgConfigError(path, [("", f"file is larger than {MAX_CONFIG_BYTES} bytes", None)])
    y = YAML(typ="rt")
    try:
        aliases = sum(1 for ev in y.parse(io.StringIO(text)) if isinstance(ev, AliasEvent))
        if aliases > MAX_ALIASES:
            raise OrgConfigError(path, [("", f"too many YAML aliases ({aliases} > {MAX_ALIASES})", None)])
        doc = y.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise OrgConfigError(path, [("", f"invalid YAML: {problem}", mark.line + 1 if mark else None)]) from None
    except RecursionError:
        raise OrgConfigError(path, [("", "invalid YAML: nesting too deep", None)]) from None
    if doc is None:
        return CommentedMap()  # an empty file means "all defaults"
    if not isinstance(doc, CommentedMap):
        raise OrgConfigError(path, [("(top level)", f"must be a mapping of keys to values, not {_kind(doc)}", 1)])
    return doc


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return "a list"
    if isinstance(node, str):
        return "a string"
    return type(node).__name__


def _to_plain(node: Any, *, path: str, at: tuple[Any, ...] = ()) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if not isinstance(k, str):
                raise OrgConfigError(path, [(_field(at) or "(top level)", f"key {k!r} is not a string; quote it",
                                             _line(node, [k]))])
            out[k] = _to_plain(v, path=path, at=(*at, k))
        return out
    if isinstance(node, list):
        return [_to_plain(v, path=path, at=(*at, i)) for i, v in enumerate(node)]
    return node


def _field(parts: Iterable[Any]) -> str:
    """`repos["acme/app"].limits.max_new_prs_per_hour` style field names."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            out += f".{p}" if out else p
        else:
            out += f"[{json.dumps(p)}]"
    return out


def _line(doc: Any, parts: Iterable[Any]) -> int | None:
    """1-based line of the key or item at `parts` in the round-trip document, or of its nearest parent."""
    node, line = doc, None
    for p in parts:
        if isinstance(node, CommentedMap) and p in node:
            pos = node.lc.key(p)
        elif isinstance(node, CommentedSeq) and isinstance(p, int) and 0 <= p < len(node):
            pos = node.lc.item(p)
        else:
            break
        line, node = pos[0] + 1, node[p]
    return line


def _describe(err: jsonschema.ValidationError, doc: Any) -> tuple[str, str, int | None]:
    parts = list(err.absolute_path)
    msg = err.message
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in known)
        if extra:
            parts.append(extra[0])
            msg = f"unknown key; allowed here: {', '.join(sorted(known))}"
    elif "propertyNames" in err.schema_path:
        parts.append(err.instance)  # the offending key itself, so the field and line point at it
        msg = f"{err.instance!r}: {_PATTERN_HINTS.get(str(parts[0]), 'unexpected key')}"
    elif err.validator == "pattern":
        names = [p for p in parts if isinstance(p, str)]
        hint = _PATTERN_HINTS.get(names[-1] if names else "", "does not have the expected form")
        msg = f"{err.instance!r}: {hint}"
    elif err.validator == "enum":
        msg = f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return _field(parts) or "(top level)", msg, _line(doc, parts)


def schema_keys() -> tuple[str, ...]:
    """The top-level keys the schema defines (documentation and tests)."""
    return tuple(schema()["properties"])


__all__ = [
    "CONFIG_PATH", "EffectiveConfig", "Grouping", "Limits", "Mode", "OrgConfig", "OrgConfigError",
    "OVERRIDABLE_KEYS", "RebaseWhen", "RepoOverride", "email_matches", "resolve_config", "schema",
]
