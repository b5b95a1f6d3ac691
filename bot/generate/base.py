"""What every generator shares: the result types, the per-call Context, the registry entry shape, YAML output.

A generator is a pure function from a Context (the Profile and one service, with the Profile's tool
choices resolved once) to files and gaps. It never writes to disk and never raises for a Profile that
lacks something: it returns a Gap naming the category instead, and generates a file only when the file
is safe and valid without the missing piece.

Paths: a `target="app"` file's path is relative to the service's directory in its app repo (the spine
joins it with `Service.path`), unless `root_relative` is set: CI files that the platform only reads at
the repository root (GitHub workflows, `.gitlab-ci.yml`) are relative to the repository root when the
service lives in a subdirectory. A `target="platform"` file's path is relative to the platform repo root
and starts with `platform.gitops_path`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Literal

import yaml

from bot.models import Service, ToolChoice
from bot.profile import Profile, ToolEntry

#: the artifact kinds a caller may ask for (`--only`, `/trustacks generate KIND`)
ARTIFACT_KINDS: tuple[str, ...] = ("ci", "docker", "helm", "kustomize", "argocd")

Target = Literal["app", "platform"]

DEFAULT_THRESHOLD = "HIGH"
SEVERITIES: tuple[str, ...] = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_BRANCH = "main"


@dataclass
class GeneratedFile:
    """One file a generator proposes, with the Profile entries that decided its tools."""

    path: str
    content: str
    artifact: str
    target: Target
    tool_choices: list[ToolChoice] = field(default_factory=list)
    root_relative: bool = False  # app files only: path is relative to the repo root, not the service path


@dataclass(frozen=True)
class Gap:
    """Something the Profile does not name that an artifact needs; input for gap analysis."""

    category: str
    message: str
    artifact: str


@dataclass
class GenerationResult:
    files: list[GeneratedFile] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [f.path for f in self.files]

    def file(self, path: str) -> GeneratedFile | None:
        return next((f for f in self.files if f.path == path), None)


@dataclass
class Output:
    """What one generator returns."""

    files: list[GeneratedFile] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


@dataclass(frozen=True)
class Generator:
    """A registry entry: one module, one artifact kind, a predicate choosing it, and its render function."""

    name: str
    artifact: str
    selects: Callable[["Context"], bool]
    render: Callable[["Context"], Output]
    doc: str = ""


class Context:
    """The Profile and one service, with each category's entries read once (generators share it)."""

    def __init__(self, profile: Profile, service: Service) -> None:
        self.profile = profile
        self.service = service
        self._tools: dict[str, list[ToolEntry]] = {}

    def tools(self, category: str) -> list[ToolEntry]:
        if category not in self._tools:
            self._tools[category] = self.profile.tools(category)
        return self._tools[category]

    def first(self, category: str) -> ToolEntry | None:
        entries = self.tools(category)
        return entries[0] if entries else None

    def has(self, category: str, tool: str) -> bool:
        return any(e.tool == tool for e in self.tools(category))

    def entry(self, category: str, tool: str) -> ToolEntry | None:
        return next((e for e in self.tools(category) if e.tool == tool), None)

    @cached_property
    def platform(self) -> dict[str, Any]:
        return self.profile.platform

    @cached_property
    def gitops_path(self) -> str:
        return str(self.platform.get("gitops_path") or "apps").strip("/") or "apps"

    @cached_property
    def environments(self) -> list[str]:
        return self.profile.environments or ["dev"]

    @cached_property
    def service_dir(self) -> str:
        """The service's directory in its repo, "." for the root."""
        p = (self.service.path or ".").strip().strip("/")
        return p if p and p != "." else "."

    @cached_property
    def ci_tool(self) -> str | None:
        entry = self.first("ci")
        return entry.tool if entry else None

    @cached_property
    def default_branch(self) -> str:
        entry = self.first("ci")
        value = entry.settings.get("default_branch") if entry else None
        return str(value) if value else DEFAULT_BRANCH

    @cached_property
    def threshold(self) -> str:
        """Severity at or above which a scan fails the pipeline (the scanner's setting, else HIGH)."""
        for category in ("image_scanning", "sast_sca"):
            for entry in self.tools(category):
                value = entry.settings.get("severity_threshold")
                if isinstance(value, str) and value.upper() in SEVERITIES:
                    return value.upper()
        return DEFAULT_THRESHOLD

    def threshold_gaps(self, artifact: str) -> list[Gap]:
        out = []
        for category in ("image_scanning", "sast_sca"):
            for entry in self.tools(category):
                value = entry.settings.get("severity_threshold")
                if value is not None and not (isinstance(value, str) and value.upper() in SEVERITIES):
                    out.append(Gap(category, f"{entry.ref}: severity_threshold {value!r} is not one of "
                                   f"{', '.join(SEVERITIES)}; the pipeline fails at {DEFAULT_THRESHOLD} and above",
                                   artifact))
        return out


def choice(entry: ToolEntry, path: str, *, tool: str | None = None) -> ToolChoice:
    """The ToolChoice citing `entry` for a file (tool may differ, e.g. Cosign chosen by a `sigstore` entry)."""
    return ToolChoice(category=entry.category, tool=tool or entry.tool, profile_ref=entry.ref, path=path)


def dedupe_choices(choices: Iterable[ToolChoice]) -> list[ToolChoice]:
    seen: dict[tuple[str, str, str, str], ToolChoice] = {}
    for c in choices:
        seen.setdefault((c.category, c.tool, c.profile_ref, c.path), c)
    return list(seen.values())


def join_path(*parts: str) -> str:
    """Join path parts, dropping "." and empty parts (`join_path(".", "Dockerfile") == "Dockerfile"`)."""
    out = [p.strip("/") for p in parts if p and p.strip("/") not in ("", ".")]
    return "/".join(out) if out else "."


# --------------------------------------------------------------------------- YAML output
# libyaml's C emitter (through PyYAML) is ~10x faster than ruamel's pure-Python one; generation runs for
# every service on every event, so new files are emitted with it, then re-indented so sequences sit two
# spaces under their key (the style of GitHub's and Kubernetes' docs). Existing files are never re-dumped:
# the merge splices changes into them (DESIGN.md §8).

_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _GenDumper(_Dumper):  # type: ignore[misc, valid-type]
    """Safe dumper: multi-line strings as literal blocks, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: Any, data: str) -> Any:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_GenDumper.add_representer(str, _represent_str)

_BLOCK_SCALAR = re.compile(r"(^|[:\-]\s)[|>][0-9+-]*$")
_ITEM_SCALAR = re.compile(r"^-\s+[|>]")


def indent_sequences(text: str) -> str:
    """Indent block sequences two spaces under their parent key (`key:\\n  - a`); meaning is unchanged."""
    out: list[str] = []
    stack: list[int] = []  # original indents of the open re-indented sequences
    block_indent = -1  # inside a literal block: lines indented deeper than this are content
    prev_key_indent = -1  # indent of the previous line when it was `key:` opening a block
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        if not stripped:
            out.append(line)
            continue
        ind = len(line) - len(stripped)
        if block_indent >= 0:
            if ind > block_indent:
                out.append(" " * (2 * len(stack)) + line)
                continue
            block_indent = -1
        is_item = stripped.startswith("- ") or stripped == "-"
        while stack and (ind < stack[-1] or (ind == stack[-1] and not is_item)):
            stack.pop()
        if is_item and (not stack or stack[-1] != ind) and prev_key_indent == ind:
            stack.append(ind)
        out.append(" " * (2 * len(stack)) + line)
        key_col = ind + 2 if is_item and not _ITEM_SCALAR.match(stripped) else ind
        prev_key_indent = key_col if stripped.endswith(":") and not stripped.startswith("#") else -1
        if _BLOCK_SCALAR.search(stripped):
            block_indent = key_col
    return "\n".join(out)


def _dump(data: Any) -> str:
    text = yaml.dump(data, Dumper=_GenDumper, sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True)
    return indent_sequences(text)


def header(lines: Iterable[str]) -> str:
    return "".join(f"# {line}\n" if line else "#\n" for line in lines)


def dump_yaml(data: Any, *, comment: Iterable[str] = ()) -> str:
    """One YAML document, block style, 2-space indent, scripts as literal blocks, led by a comment header."""
    return header(comment) + _dump(data)


def dump_yaml_all(docs: Iterable[Any], *, comment: Iterable[str] = ()) -> str:
    """Several documents separated by `---` (Kubernetes multi-document style)."""
    return header(comment) + "---\n".join(_dump(doc) for doc in docs)


def generated_by(profile: Profile, what: str) -> list[str]:
    """The comment that opens every generated YAML file."""
    return [
        f"{what}",
        f"Generated by TruStacks from {profile.path}; edit freely: regeneration keeps your changes",
        "(read-and-preserve) and proposes updates as a reviewed pull request.",
    ]


_SAFE_ARG = re.compile(r"^[A-Za-z0-9_./:=,@%+^-]+$")


def sh_quote(arg: str) -> str:
    """Quote one argument for POSIX sh, keeping `${VAR}` references expandable by the shell."""
    if _SAFE_ARG.match(arg):
        return arg
    if "${" in arg:
        escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
        return f'"{escaped}"'
    return "'" + arg.replace("'", "'\"'\"'") + "'"
