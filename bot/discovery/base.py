"""What every detector shares: path classification, the per-run read cache, safe parsers, rule scanning.

Discovery decides which files to read from their paths alone (`classify`), reads each chosen file once
(`Context.source`), and parses it at most once per format (`Context.yaml` / `json` / `toml` / `xml`).
Detectors are pure functions over a `Context`; they return Findings (and Services) and never raise for
a malformed file: the parser records an `unparseable` finding instead. Nothing here executes, imports or
follows anything from the repository.
"""

from __future__ import annotations

import json
import posixpath
import re
import time
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, SequenceNode

from bot.catalog import CATEGORY_NAMES
from bot.models import Evidence, Finding, Service
from bot.tree import FileTree

UNPARSEABLE = "unparseable"
MAX_EVIDENCE = 10  # per finding; the Profile keeps a handful of citations, not every occurrence
MAX_YAML_ALIASES = 100
MAX_SNIPPET = 160
BINARY_SNIFF_BYTES = 8192

# --------------------------------------------------------------------------- path classification

#: Every kind `classify` can return; detectors declare which kinds they read (checked by a test).
KINDS = frozenset(
    {
        "yaml", "workflow", "gitlab-ci", "azure-pipelines", "jenkinsfile", "tekton-dir", "pipeline",
        "dockerfile", "compose", "chart", "values", "kustomization",
        "python-manifest", "node-manifest", "go-manifest", "java-manifest", "dotnet-manifest",
        "runtime-pin", "app-config", "entrypoint", "tool-config", "pr-template", "commit-convention",
        "terraform", "dashboard",
    }
)

_TOOL_CONFIG_NAMES = frozenset(
    {
        "sonar-project.properties", ".snyk", ".gitleaks.toml", "gitleaks.toml", ".gitleaksignore",
        ".semgrep.yml", ".semgrep.yaml", "semgrep.yml", "semgrep.yaml", ".semgrepignore",
        "trivy.yaml", "trivy.yml", ".trivy.yaml", ".trivy.yml", ".trivyignore", "trivy-secret.yaml",
        ".grype.yaml", ".grype.yml", ".gitguardian.yaml", ".gitguardian.yml", "secret_scanning.yml",
        "codeql-config.yml", "codeql-config.yaml", ".checkmarx.yml", "checkmarx.yml", "cx.config",
        "clair-config.yaml", "clair.yaml", ".anchore.yaml", "cosign.pub",
        "newrelic.ini", "newrelic.js", "newrelic.cjs", "newrelic.yml", "newrelic.config", "datadog.yaml",
        "prometheus.yml", "prometheus.yaml", "vault.hcl", "vault-agent.hcl", "vault-agent-config.hcl",
        ".drata.yml", ".vanta.yml",
    }
)
_ENTRYPOINTS = frozenset(
    {
        "main.py", "app.py", "asgi.py", "wsgi.py", "manage.py", "server.py", "main.go",
        "server.js", "index.js", "app.js", "main.js", "server.ts", "index.ts", "app.ts", "main.ts",
        "program.cs",
    }
)
_RUNTIME_PINS = frozenset(
    {".python-version", "runtime.txt", ".nvmrc", ".node-version", ".tool-versions", ".java-version",
     ".sdkmanrc", "global.json", ".go-version"}
)
_COMMIT_CONVENTION = frozenset(
    {".gitmessage", ".gitmessage.txt", "commitlint.config.js", "commitlint.config.cjs", "commitlint.config.mjs",
     "commitlint.config.ts", ".commitlintrc", ".commitlintrc.json", ".commitlintrc.yml", ".commitlintrc.yaml",
     ".commitlintrc.js", ".czrc", ".cz.toml", "contributing.md"}
)
_PIPELINE_NAMES = frozenset(
    {"makefile", "gnumakefile", ".pre-commit-config.yaml", ".goreleaser.yml", ".goreleaser.yaml", "goreleaser.yml",
     "cloudbuild.yaml", "cloudbuild.yml", "bitbucket-pipelines.yml", ".travis.yml", "buildspec.yml",
     "skaffold.yaml"}
)
_AZURE_DIRS = (".azure-pipelines/", ".azuredevops/", ".pipelines/", "azure-pipelines/")


_EXTS = frozenset({".yml", ".yaml", ".json", ".tf", ".csproj", ".md", ".properties", ".txt", ".mk"})
_NAMES = (
    _TOOL_CONFIG_NAMES | _ENTRYPOINTS | _RUNTIME_PINS | _COMMIT_CONVENTION | _PIPELINE_NAMES
    | {"pyproject.toml", "pipfile", "setup.py", "setup.cfg", "go.mod", "pom.xml", "build.gradle", "build.gradle.kts"}
)
_NAME_PREFIXES = ("dockerfile", "jenkinsfile", "containerfile")
_NAME_SUFFIXES = (".dockerfile", ".jenkinsfile")
_NOTHING: frozenset[str] = frozenset()


def maybe_candidate(path: str) -> bool:
    """The cheap first cut of `classify`: False for the bulk of a tree (source files, assets)."""
    name = path[path.rfind("/") + 1 :].lower()
    dot = name.rfind(".")
    return (
        (dot > 0 and name[dot:] in _EXTS)
        or name in _NAMES
        or name.startswith(_NAME_PREFIXES)
        or name.endswith(_NAME_SUFFIXES)
    )


def classify(path: str) -> frozenset[str]:
    """The kinds of file a path is, judged from the path alone (cheap: called once per file in the tree)."""
    slash = path.rfind("/")
    name = path[slash + 1 :].lower()
    dot = name.rfind(".")
    ext = name[dot:] if dot > 0 else ""
    if (
        ext not in _EXTS
        and name not in _NAMES
        and not name.startswith(_NAME_PREFIXES)
        and not name.endswith(_NAME_SUFFIXES)
    ):
        return _NOTHING
    dirname = path[: slash + 1].lower()
    kinds: set[str] = set()
    if ext in (".yml", ".yaml"):
        kinds.add("yaml")
        if dirname.endswith(".github/workflows/"):
            kinds.update(("workflow", "pipeline"))
        elif name in ("action.yml", "action.yaml") and ".github/actions/" in dirname:
            kinds.add("pipeline")
        if name == ".gitlab-ci.yml" or name.endswith(".gitlab-ci.yml") or "/.gitlab/ci/" in "/" + dirname:
            kinds.update(("gitlab-ci", "pipeline"))
        if name.startswith(("azure-pipelines", ".azure-pipelines")) or any(
            ("/" + dirname).endswith("/" + d) for d in _AZURE_DIRS
        ):
            kinds.update(("azure-pipelines", "pipeline"))
        if ("/" + dirname).endswith("/.tekton/"):
            kinds.update(("tekton-dir", "pipeline"))
        if name in ("chart.yaml", "chart.yml"):
            kinds.add("chart")
        elif name.startswith("values"):
            kinds.add("values")
        elif name in ("kustomization.yaml", "kustomization.yml"):
            kinds.add("kustomization")
        elif name.startswith(("docker-compose", "compose")):
            kinds.add("compose")
        elif name.startswith(("application", "bootstrap")):
            kinds.add("app-config")
        elif name.startswith(".commitlintrc"):
            kinds.add("commit-convention")
        elif dirname.endswith(".semgrep/"):
            kinds.add("tool-config")
    elif ext == ".json":
        if name == "package.json":
            kinds.add("node-manifest")
        elif name.startswith("appsettings") or name == "launchsettings.json":
            kinds.add("app-config")
        elif name == "global.json":
            kinds.add("runtime-pin")
        elif "grafana" in dirname or "dashboard" in dirname:
            kinds.add("dashboard")
        elif name == ".commitlintrc.json":
            kinds.add("commit-convention")
    elif ext == ".tf":
        kinds.add("terraform")
    elif ext == ".csproj":
        kinds.add("dotnet-manifest")
    elif ext == ".md":
        if name == "pull_request_template.md" or dirname.endswith(
            ("pull_request_template/", ".gitlab/merge_request_templates/")
        ) or (name.startswith("pull_request_template") and ".azuredevops/" in dirname):
            kinds.add("pr-template")
        elif name == "contributing.md":
            kinds.add("commit-convention")
    elif ext == ".properties" and name.startswith("application"):
        kinds.add("app-config")
    if name == "dockerfile" or name.startswith("dockerfile.") or name.endswith(".dockerfile") or name == "containerfile":
        kinds.add("dockerfile")
    elif name == "jenkinsfile" or name.startswith("jenkinsfile.") or name.endswith(".jenkinsfile"):
        kinds.update(("jenkinsfile", "pipeline"))
    if name in _PIPELINE_NAMES or ext == ".mk":
        kinds.add("pipeline")
    if name in _TOOL_CONFIG_NAMES:
        kinds.add("tool-config")
    if name in ("pyproject.toml", "pipfile", "setup.py", "setup.cfg") or (
        ext == ".txt" and (name.startswith("requirements") or dirname.endswith("requirements/"))
    ):
        kinds.add("python-manifest")
    elif name == "go.mod":
        kinds.add("go-manifest")
    elif name in ("pom.xml", "build.gradle", "build.gradle.kts"):
        kinds.add("java-manifest")
    if name in _RUNTIME_PINS:
        kinds.add("runtime-pin")
    if name in _ENTRYPOINTS:
        kinds.add("entrypoint")
    if name in _COMMIT_CONVENTION:
        kinds.add("commit-convention")
    return frozenset(kinds) if kinds else _NOTHING


# --------------------------------------------------------------------------- detectors


@dataclass(frozen=True)
class Detector:
    """One detector: its name, the file kinds it reads, and the pure function that runs it."""

    name: str
    kinds: frozenset[str]
    detect: Callable[["Context"], Iterable[Finding | Service]]
    categories: tuple[str, ...] = ()


class TimeUp(Exception):
    """The per-repo time budget ran out; discovery returns what it has."""


# --------------------------------------------------------------------------- sources

_SECRETISH = (
    re.compile(
        r"(?i)((?<![\w.-])[\w.-]*(?:password|passwd|secret|token|api[_-]?key|license[_-]?key)[\w.-]*['\"]?\s*[=:]\s*)"
        r"(\"[^\"]*\"|'[^']*'|[^\s\"',;]+)"
    ),
    re.compile(r"((?<!\S)(?:-p|--password)(?:\s+|=))(\"[^\"]*\"|'[^']*'|\S+)"),
)


_VERSION = re.compile(r"^(?:[\^~<>=!]+v?\d+(?:\.[\dx*]+)*|v?\d+(?:\.[\dx*]+)+)$")


def _mask(m: re.Match[str]) -> str:
    value = m.group(2).strip("\"'")
    if not value or value.startswith(("$", "{", "(", "<", "%")) or _VERSION.match(value):
        return m.group(0)  # a variable reference or a version range, not a secret
    return m.group(1) + "***"


def redact(snippet: str) -> str:
    """Mask values that look like credentials (`password: x`, `-p x`): snippets end up in PR bodies."""
    for pattern in _SECRETISH:
        snippet = pattern.sub(_mask, snippet)
    return snippet


class Source:
    """One decoded text file, with line lookups for evidence."""

    __slots__ = ("path", "text", "_lower", "kinds")

    def __init__(self, path: str, text: str, kinds: frozenset[str]) -> None:
        self.path = path
        self.text = text
        self.kinds = kinds
        self._lower: str | None = None

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def line_text(self, line: int) -> str:
        lines = self.text.split("\n", line)
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def evidence(self, line: int) -> Evidence:
        snippet = redact(self.line_text(line).strip())
        if len(snippet) > MAX_SNIPPET:
            snippet = snippet[: MAX_SNIPPET - 1] + "…"
        return Evidence(self.path, line, snippet)

    def evidence_at(self, offset: int) -> Evidence:
        return self.evidence(self.line_of(offset))

    def is_comment_at(self, offset: int) -> bool:
        """True when the match sits on a commented-out line (`#`, `//`, `<!--` excluded: templates keep those)."""
        start = self.text.rfind("\n", 0, offset) + 1
        head = self.text[start:offset].lstrip()
        if not head:
            return False
        if head.startswith("//"):
            return True
        return head.startswith("#") and "pr-template" not in self.kinds and ".md" not in self.path[-3:].lower()

    def search(self, pattern: re.Pattern[str], *, skip_comments: bool = True) -> Iterator[re.Match[str]]:
        for m in pattern.finditer(self.text):
            if skip_comments and self.is_comment_at(m.start()):
                continue
            yield m

    def first(self, pattern: re.Pattern[str], *, skip_comments: bool = True) -> re.Match[str] | None:
        return next(self.search(pattern, skip_comments=skip_comments), None)

    def find_evidence(self, pattern: re.Pattern[str] | str, *, default_line: int | None = 1) -> Evidence | None:
        """Evidence for the first line matching `pattern` (a regex or a literal), else `default_line`."""
        if isinstance(pattern, str):
            pattern = re.compile(re.escape(pattern))
        m = self.first(pattern)
        if m is not None:
            return self.evidence_at(m.start())
        return None if default_line is None else self.evidence(default_line)


# --------------------------------------------------------------------------- YAML


class _TolerantConstructor(SafeConstructor):
    """Safe constructor that reads unknown tags (`!reference`, `!Ref`) as their plain value."""


def _construct_unknown(self: SafeConstructor, suffix: str, node: Any) -> Any:
    if isinstance(node, MappingNode):
        return self.construct_mapping(node)
    if isinstance(node, SequenceNode):
        return self.construct_sequence(node)
    return self.construct_scalar(node)


_TolerantConstructor.add_multi_constructor("", _construct_unknown)


def _new_yaml() -> YAML:
    y = YAML(typ="safe")  # the C parser when ruamel.yaml.clib is installed
    y.Constructor = _TolerantConstructor
    y.allow_duplicate_keys = True
    return y


def _yaml_problem(exc: BaseException) -> tuple[int, str]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["invalid YAML"])[0]
    return line, f"invalid YAML: {problem}"


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """One discovery run over one tree: the path index, the read cache, parse results and problems."""

    tree: FileTree
    repo: str
    paths: list[str]
    kinds: Mapping[str, frozenset[str]]
    deadline: float
    progress: Callable[[int, int], None] | None = None
    total: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: dict[str, list[Evidence]] = field(default_factory=dict)
    reads: int = 0
    _sources: dict[str, Source | None] = field(default_factory=dict)
    _parsed: dict[tuple[str, str], Any] = field(default_factory=dict)
    _by_kind: dict[str, list[str]] = field(default_factory=dict)
    _yaml: YAML | None = None

    # ------------------------------------------------------------------ index

    def files(self, *kinds: str) -> list[str]:
        """Candidate paths of any of these kinds, in path order."""
        if len(kinds) == 1:
            got = self._by_kind.get(kinds[0])
            if got is None:
                got = self._by_kind[kinds[0]] = [p for p, k in self.kinds.items() if kinds[0] in k]
            return got
        wanted = set(kinds)
        return [p for p, k in self.kinds.items() if not wanted.isdisjoint(k)]

    def memo(self, key: str, factory: Callable[[], Any]) -> Any:
        """A value derived from the tree, computed once per run (e.g. an index a detector needs per app)."""
        k = ("memo", key)
        if k not in self._parsed:
            self._parsed[k] = factory()
        return self._parsed[k]

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TimeUp()

    # ------------------------------------------------------------------ reading (once per file)

    def source(self, path: str) -> Source | None:
        if path in self._sources:
            return self._sources[path]
        self.check_time()
        src = self._read(path)
        self._sources[path] = src
        self.reads += 1
        if self.progress is not None and self.reads % 256 == 0:
            self.progress(self.reads, self.total)
        return src

    def _read(self, path: str) -> Source | None:
        data = self.tree.read(path)
        if data is None:
            size_of = getattr(self.tree, "size", None)
            size = size_of(path) if size_of is not None else None
            if size is not None:
                self.skipped.append((path, f"larger than the read limit ({size} bytes)"))
            else:
                self.skipped.append((path, "not readable inside the tree (symlink or special file)"))
            return None
        if b"\x00" in data[:BINARY_SNIFF_BYTES]:
            self.skipped.append((path, "binary file"))
            return None
        text = data.decode("utf-8", errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        return Source(path, text, self.kinds.get(path, frozenset()))

    def sources(self, *kinds: str) -> Iterator[Source]:
        for path in self.files(*kinds):
            src = self.source(path)
            if src is not None:
                yield src

    # ------------------------------------------------------------------ parsing (once per file and format)

    def problem(self, fmt: str, path: str, line: int, message: str) -> None:
        ev = Evidence(path, max(1, line), message[:MAX_SNIPPET])
        bucket = self.problems.setdefault(fmt, [])
        if all(e.path != path for e in bucket):
            bucket.append(ev)

    def _cached(self, fmt: str, path: str, parse: Callable[[Source], Any]) -> Any:
        key = (fmt, path)
        if key in self._parsed:
            return self._parsed[key]
        src = self.source(path)
        result = None if src is None else parse(src)
        self._parsed[key] = result
        return result

    def yaml(self, path: str) -> list[Any] | None:
        """All documents of a YAML file, or None if it cannot be read or parsed (recorded as unparseable)."""
        return self._cached("yaml", path, self._parse_yaml)

    def _parse_yaml(self, src: Source) -> list[Any] | None:
        if self._yaml is None:
            self._yaml = _new_yaml()
        y = self._yaml
        try:
            if "*" in src.text and "&" in src.text:
                aliases = sum(1 for ev in y.parse(src.text) if isinstance(ev, AliasEvent))
                if aliases > MAX_YAML_ALIASES:
                    self.problem("yaml", src.path, 1, f"too many YAML aliases ({aliases} > {MAX_YAML_ALIASES})")
                    return None
            return [d for d in y.load_all(src.text) if d is not None]
        except YAMLError as exc:
            line, msg = _yaml_problem(exc)
            self.problem("yaml", src.path, line, msg)
        except (RecursionError, ValueError, TypeError, OverflowError) as exc:
            self.problem("yaml", src.path, 1, f"invalid YAML: {type(exc).__name__}")
        self._yaml = None  # a failed load can leave the loader mid-stream
        return None

    def json(self, path: str) -> Any:
        return self._cached("json", path, self._parse_json)

    def _parse_json(self, src: Source) -> Any:
        try:
            return json.loads(src.text)
        except json.JSONDecodeError as exc:
            self.problem("json", src.path, exc.lineno, f"invalid JSON: {exc.msg}")
        except (RecursionError, ValueError) as exc:
            self.problem("json", src.path, 1, f"invalid JSON: {type(exc).__name__}")
        return None

    def toml(self, path: str) -> dict[str, Any] | None:
        return self._cached("toml", path, self._parse_toml)

    def _parse_toml(self, src: Source) -> dict[str, Any] | None:
        try:
            return tomllib.loads(src.text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            self.problem("toml", src.path, int(m.group(1)) if m else 1, f"invalid TOML: {exc}")
        except RecursionError:
            self.problem("toml", src.path, 1, "invalid TOML: nesting too deep")
        return None

    def xml(self, path: str) -> Any:
        """The root Element (namespaces stripped from tags), or None. DTDs and entities are refused."""
        return self._cached("xml", path, self._parse_xml)

    def _parse_xml(self, src: Source) -> Any:
        try:
            root = SafeET.fromstring(src.text.encode("utf-8"), forbid_dtd=True)
        except SafeET.ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else 1
            self.problem("xml", src.path, line, f"invalid XML: {exc}")
            return None
        except DefusedXmlException as exc:
            self.problem("xml", src.path, 1, f"refused XML: {type(exc).__name__}")
            return None
        for el in root.iter():
            if isinstance(el.tag, str) and "}" in el.tag:
                el.tag = el.tag.split("}", 1)[1]
        return root


# --------------------------------------------------------------------------- collecting findings


@dataclass
class _Hit:
    evidence: dict[tuple[str, int], Evidence] = field(default_factory=dict)
    confidence: float = 0.0
    details: dict[str, str] = field(default_factory=dict)


class Collector:
    """Merges hits into one Finding per (category, tool): union of evidence, highest confidence."""

    def __init__(self, detector: str) -> None:
        self.detector = detector
        self._hits: dict[tuple[str, str], _Hit] = {}

    def add(
        self,
        category: str,
        tool: str,
        evidence: Evidence | None,
        confidence: float,
        *,
        details: Mapping[str, str] | None = None,
    ) -> None:
        if evidence is None:
            return
        hit = self._hits.setdefault((category, tool), _Hit())
        hit.evidence.setdefault((evidence.path, evidence.line), evidence)
        hit.confidence = max(hit.confidence, confidence)
        for k, v in (details or {}).items():
            hit.details.setdefault(k, v)

    def has(self, category: str, tool: str) -> bool:
        return (category, tool) in self._hits

    def saturated(self, category: str, tool: str, confidence: float) -> bool:
        """True when another hit could change nothing: evidence is full and confidence no higher."""
        hit = self._hits.get((category, tool))
        return hit is not None and len(hit.evidence) >= MAX_EVIDENCE and hit.confidence >= confidence

    def findings(self) -> list[Finding]:
        out = []
        for (category, tool), hit in self._hits.items():
            ev = tuple(sorted(hit.evidence.values(), key=lambda e: (e.path, e.line))[:MAX_EVIDENCE])
            out.append(
                Finding(
                    category=category,
                    tool=tool,
                    evidence=ev,
                    confidence=round(hit.confidence, 2),
                    detector=self.detector,
                    details=tuple(sorted(hit.details.items())),
                )
            )
        return sort_findings(out)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    order = {c: i for i, c in enumerate(CATEGORY_NAMES)}
    return sorted(findings, key=lambda f: (order.get(f.category, len(order)), f.category, f.tool))


# --------------------------------------------------------------------------- rule tables


@dataclass(frozen=True)
class Rule:
    """A line-level clue: `pattern` in a file of one of `kinds` means `tool`.

    The regex runs only on files whose lowercased text contains one of `keywords` (none: always),
    which keeps a scan over thousands of manifests cheap.
    """

    category: str
    tool: str
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]
    kinds: frozenset[str]
    confidence: float = 0.9
    details: Callable[[re.Match[str]], Mapping[str, str]] | None = None


def rule(
    category: str,
    tool: str,
    pattern: str,
    *,
    kinds: Iterable[str],
    keyword: str | tuple[str, ...] = (),
    confidence: float = 0.9,
    flags: int = re.IGNORECASE | re.MULTILINE,
    details: Callable[[re.Match[str]], Mapping[str, str]] | None = None,
) -> Rule:
    """Build a Rule; `keyword` is one lowercase literal or several, one of which every match contains."""
    keywords = (keyword,) if isinstance(keyword, str) else tuple(keyword)
    keywords = tuple(k.lower() for k in keywords if k)
    return Rule(category, tool, keywords, re.compile(pattern, flags), frozenset(kinds), confidence, details)


def scan(ctx: Context, rules: Iterable[Rule], collector: Collector) -> None:
    """Run a rule table over every candidate file of the kinds the rules name; first match per file and rule."""
    rules = list(rules)
    kinds = sorted(set().union(*(r.kinds for r in rules))) if rules else []
    for src in ctx.sources(*kinds):
        lower = src.lower
        for r in rules:
            if r.kinds.isdisjoint(src.kinds) or (r.keywords and not any(k in lower for k in r.keywords)):
                continue
            if collector.saturated(r.category, r.tool, r.confidence):
                continue  # files come in path order: later hits would be cut anyway
            m = src.first(r.pattern)
            if m is None:
                continue
            collector.add(
                r.category, r.tool, src.evidence_at(m.start()), r.confidence,
                details=r.details(m) if r.details else None,
            )


# --------------------------------------------------------------------------- YAML document helpers


def yaml_documents(src: Source) -> list[tuple[int, str]]:
    """Split a YAML text into documents at `---` lines: (first line number, text). No parsing."""
    out: list[tuple[int, str]] = []
    start_line, buf_start = 1, 0
    for m in re.finditer(r"^---[ \t]*(?:#.*)?$|^\.\.\.[ \t]*$", src.text, re.MULTILINE):
        out.append((start_line, src.text[buf_start : m.start()]))
        buf_start = m.end()
        start_line = src.line_of(m.end())
    out.append((start_line, src.text[buf_start:]))
    return [(line, text) for line, text in out if text.strip()]


_TOP_KIND = re.compile(r"^kind:[ \t]*['\"]?([A-Za-z]+)", re.MULTILINE)
_TOP_API = re.compile(r"^apiVersion:[ \t]*['\"]?([A-Za-z0-9.\-/]+)", re.MULTILINE)


@dataclass(frozen=True)
class K8sDoc:
    """A Kubernetes-style document found by its top-level `apiVersion` / `kind` lines."""

    api_version: str
    kind: str
    line: int  # line of `kind:`
    text: str
    first_line: int


def k8s_documents(src: Source) -> list[K8sDoc]:
    """Kubernetes objects in a YAML file, found line-wise (fast; the file is parsed only when cited)."""
    if "kind:" not in src.text:
        return []
    out = []
    for first_line, text in yaml_documents(src):
        km = _TOP_KIND.search(text)
        am = _TOP_API.search(text)
        if km and am:
            line = first_line + text.count("\n", 0, km.start())
            out.append(K8sDoc(am.group(1), km.group(1), line, text, first_line))
    return out


def walk(node: Any, *, limit: int = 20000) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (key path, value) in a parsed document, bounded so a hostile file cannot make this explode."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), node)]
    seen = 0
    while stack and seen < limit:
        path, value = stack.pop()
        seen += 1
        yield path, value
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))


def dirname(path: str) -> str:
    d = posixpath.dirname(path)
    return d or "."


def is_under(path: str, directory: str) -> bool:
    return directory == "." or path == directory or path.startswith(directory.rstrip("/") + "/")


@dataclass(frozen=True)
class NameRule:
    """A file whose name alone names a tool (a scanner's config file, an agent's config)."""

    category: str
    tool: str
    confidence: float = 0.9
    parse: str | None = None  # "yaml" | "toml" | "json": parse it so a broken config is reported


def first_content_line(src: Source) -> int:
    """The first non-blank, non-comment line (1 for an empty file): where a config file's evidence points."""
    for i, line in enumerate(src.text.split("\n"), 1):
        s = line.strip()
        if s and not s.startswith(("#", "//", ";")):
            return i
    return 1


def scan_names(ctx: Context, table: Mapping[str, NameRule], collector: Collector, *, kinds: Iterable[str]) -> None:
    """Config files known by name: `table` maps a lowercase base name to the tool it means."""
    for path in ctx.files(*kinds):
        r = table.get(path.rsplit("/", 1)[-1].lower())
        if r is None:
            continue
        src = ctx.source(path)
        if src is None:
            continue
        if r.parse == "yaml":
            ctx.yaml(path)
        elif r.parse == "toml":
            ctx.toml(path)
        elif r.parse == "json":
            ctx.json(path)
        collector.add(r.category, r.tool, src.evidence(first_content_line(src)), r.confidence)
