"""The Environment Profile (`.trustacks/profile.yaml`): load, validate, edit and dump it.

The Profile is a human-reviewed document, so it is loaded with ruamel.yaml round-trip mode and dumped
back with comments and key order intact. Validation uses the JSON Schema shipped in
`bot/schemas/profile.schema.json`; every error names the file and the field (`tooling.ci[0].source`).
Nothing here writes a file: callers turn a changed Profile into a Proposal (the Profile is never
mutated silently).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from bot.catalog import CATEGORY_NAMES
from bot.models import Evidence, Service

PROFILE_PATH = ".trustacks/profile.yaml"
MAX_PROFILE_BYTES = 512 * 1024
MAX_ALIASES = 100
#: `[`/`{` nesting refused before parsing: ruamel's pure-Python scanner is quadratic in flow depth
#: (2,000 brackets took ~11 s; a 512 KB file of them, hours). A real Profile nests a few levels.
MAX_FLOW_NESTING = 64

HEADER = (
    "# TruStacks Environment Profile: the tools this organisation runs.\n"
    "# Changed only through reviewed pull requests; the bot never edits it silently.\n"
    "# Entries with `source: declared` are yours: discovery never removes them.\n"
)


def _flow_depth(text: str) -> int:
    """Deepest `[`/`{` nesting outside quoted scalars and comments (an upper bound is enough: it only refuses)."""
    depth = deepest = 0
    quote = ""
    prev = "\n"
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c == "#" and prev in " \t\n":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            prev = "\n"
            continue
        elif c in "'\"" and prev in " \t\n[{,:-?":
            quote = c
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        prev = c
        i += 1
    return deepest


class ProfileError(ValueError):
    """An unreadable or invalid Profile; names the file and the field."""

    def __init__(self, path: str, field: str, message: str) -> None:
        self.path = path
        self.field = field
        self.message = message
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + message)


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("bot").joinpath("schemas/profile.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _field_path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _to_plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_plain(v) for v in node]
    return node


@dataclass
class ToolEntry:
    category: str
    index: int
    tool: str
    source: str
    evidence: list[str]
    settings: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{PROFILE_PATH}#tooling.{self.category}[{self.index}]"


class Profile:
    """A validated Profile document; keeps the round-trip YAML so a dump preserves comments."""

    def __init__(self, doc: CommentedMap, *, path: str = PROFILE_PATH) -> None:
        self.doc = doc
        self.path = path

    # ------------------------------------------------------------------ construction

    @classmethod
    def new(cls, platform_repo: str, *, deploy_with: str = "helm") -> "Profile":
        doc = CommentedMap()
        doc["version"] = 1
        platform = CommentedMap()
        platform["repo"] = platform_repo
        platform["gitops_path"] = "apps"
        platform["deploy_with"] = deploy_with
        platform["environments"] = CommentedSeq(["dev", "staging", "prod"])
        doc["platform"] = platform
        doc["tooling"] = CommentedMap()
        doc["services"] = CommentedSeq()
        doc.yaml_set_start_comment(HEADER.replace("# ", "").rstrip("\n"))
        return cls(doc)

    @classmethod
    def loads(cls, text: str | bytes, *, path: str = PROFILE_PATH) -> "Profile":
        if isinstance(text, bytes):
            if len(text) > MAX_PROFILE_BYTES:
                raise ProfileError(path, "", f"file is larger than {MAX_PROFILE_BYTES} bytes")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProfileError(path, "", f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        if len(text.encode("utf-8", "surrogatepass")) > MAX_PROFILE_BYTES:
            raise ProfileError(path, "", f"file is larger than {MAX_PROFILE_BYTES} bytes")
        if _flow_depth(text) > MAX_FLOW_NESTING:
            raise ProfileError(path, "", f"invalid YAML: brackets nested more than {MAX_FLOW_NESTING} deep")
        y = _yaml()
        try:
            aliases = sum(1 for ev in y.parse(io.StringIO(text)) if isinstance(ev, AliasEvent))
            if aliases > MAX_ALIASES:
                raise ProfileError(path, "", f"too many YAML aliases ({aliases} > {MAX_ALIASES})")
            doc = y.load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ProfileError(path, "", f"invalid YAML: {where}{problem}") from None
        except RecursionError:
            raise ProfileError(path, "", "invalid YAML: nesting too deep") from None
        if doc is None:
            raise ProfileError(path, "", "the file is empty")
        if not isinstance(doc, CommentedMap):
            raise ProfileError(path, "", f"top level must be a mapping, not {type(doc).__name__}")
        profile = cls(doc, path=path)
        profile.validate()
        return profile

    def validate(self) -> None:
        plain = _to_plain(self.doc)
        validator = jsonschema.Draft202012Validator(schema())
        errors = sorted(validator.iter_errors(plain), key=lambda e: (list(e.absolute_path), e.message))
        if errors:
            err = errors[0]
            field = _field_path(err.absolute_path)
            more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
            raise ProfileError(self.path, field or "(top level)", err.message + more)
        names = [s["name"] for s in plain.get("services", [])]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ProfileError(self.path, "services", f"duplicate service name(s): {', '.join(dupes)}")

    def dumps(self) -> str:
        buf = io.StringIO()
        _yaml().dump(self.doc, buf)
        return buf.getvalue()

    def copy(self) -> "Profile":
        return Profile.loads(self.dumps(), path=self.path)

    # ------------------------------------------------------------------ reading

    @property
    def platform_repo(self) -> str:
        return str(self.doc["platform"]["repo"])

    @property
    def platform(self) -> dict[str, Any]:
        return _to_plain(self.doc.get("platform", {}))

    @property
    def deploy_with(self) -> str:
        return str(self.doc["platform"].get("deploy_with", "helm"))

    @property
    def environments(self) -> list[str]:
        return list(self.doc["platform"].get("environments", ["dev", "staging", "prod"]))

    def tools(self, category: str) -> list[ToolEntry]:
        if category not in CATEGORY_NAMES:
            raise KeyError(f"unknown Profile category {category!r}")
        entries = (self.doc.get("tooling") or {}).get(category) or []
        return [
            ToolEntry(
                category=category,
                index=i,
                tool=str(e["tool"]),
                source=str(e["source"]),
                evidence=[str(x) for x in e.get("evidence", [])],
                settings=_to_plain(e.get("settings", {})),
            )
            for i, e in enumerate(entries)
        ]

    def first_tool(self, category: str) -> ToolEntry | None:
        entries = self.tools(category)
        return entries[0] if entries else None

    def services(self) -> list[Service]:
        out = []
        for s in self.doc.get("services") or []:
            out.append(
                Service(
                    name=str(s["name"]),
                    repo=str(s["repo"]),
                    path=str(s.get("path", ".")),
                    language=s.get("language"),
                    framework=s.get("framework"),
                    runtime_version=None if s.get("runtime_version") is None else str(s.get("runtime_version")),
                    port=s.get("port"),
                    dockerfile=s.get("dockerfile"),
                    chart=s.get("chart"),
                    evidence=[_parse_evidence(x) for x in s.get("evidence", [])],
                )
            )
        return out

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services() if s.name == name), None)

    def to_plain(self) -> dict[str, Any]:
        return _to_plain(self.doc)

    # ------------------------------------------------------------------ editing (returns nothing; callers propose)

    def set_tools(self, category: str, entries: list[dict[str, Any]]) -> None:
        if category not in CATEGORY_NAMES:
            raise KeyError(f"unknown Profile category {category!r}")
        tooling = self.doc.setdefault("tooling", CommentedMap())
        if tooling is None:
            tooling = self.doc["tooling"] = CommentedMap()
        if entries:
            tooling[category] = CommentedSeq([CommentedMap(e) for e in entries])
        elif category in tooling:
            del tooling[category]
        _order_tooling(tooling)

    def set_services(self, services: list[dict[str, Any]]) -> None:
        self.doc["services"] = CommentedSeq([CommentedMap(s) for s in services])


def _order_tooling(tooling: CommentedMap) -> None:
    """Keep categories in catalog order so diffs stay small and predictable."""
    keys = [k for k in CATEGORY_NAMES if k in tooling]
    if list(tooling.keys()) == keys:
        return
    items = [(k, tooling[k]) for k in keys]
    for k in list(tooling.keys()):
        del tooling[k]
    for k, v in items:
        tooling[k] = v


def _parse_evidence(text: str) -> Evidence:
    head, _, line = str(text).rpartition(":")
    if head and line.isdigit():
        return Evidence(path=head, line=int(line))
    return Evidence(path=str(text), line=0)


def service_to_dict(service: Service) -> dict[str, Any]:
    """A Service as a Profile `services:` entry (only the fields that are known)."""
    d: dict[str, Any] = {"name": service.name, "repo": service.repo, "path": service.path}
    for key in ("language", "framework", "runtime_version", "port", "dockerfile", "chart"):
        value = getattr(service, key)
        if value is not None:
            d[key] = value
    if service.evidence:
        d["evidence"] = [str(e) for e in service.evidence]
    return d
