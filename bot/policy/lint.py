"""The ratchet linter: prove an overlay only adds strictness before the runtime loads it (DESIGN.md §3).

`lint_overlay(overlay_dir, rules_dir=...)` returns a `LintReport` whose violations each name the
file, the line, the upper rule (or parameter) the trick would weaken, and why. It works on the parsed
AST (`regorus.Engine.get_ast_as_json()`), never on regexes over source text, in four stages:

1. Bounds before parsing: size, line count, line width and bracket nesting (`engine.check_bounds`;
   regorus parse time doubles per nesting level). Files are then parsed in a child process under a
   timeout and a memory limit, so a hostile overlay cannot hang or exhaust the linter.
2. Static checks on the AST (`Trick` lists them): a package outside `trustacks.overlay` (segments
   compared exactly, so `trustacks["overlay.lib"]` and Unicode lookalikes fail); rules that land on
   a path an upper layer defines (`default`, `else`, a function of the same name, a complete or
   partial rule) or that an upper layer reads (an allow/exception hook); `with` that rewrites input,
   upper data or a builtin outside tests; non-deterministic or network builtins anywhere.
3. Parameters (`params.json`, the engine's channel, and any `data.json`) compared with the upper
   layers' merged values using the engine's own merge kinds (`params.PARAMS`): severity thresholds
   only lower, minimum counts only higher, ceilings only lower, allow-lists only subsets. Waiver
   files in the overlay may not name constitution rules.
4. Every upper-layer test is re-run with the overlay loaded (`PolicyEngine.run_tests`, in a child
   process with a timeout) and compared with a run without it: an upper test that passed before and
   fails now is a denial the overlay removed. `run_upper_tests` is the one function to swap if the
   engine's test runner changes.
"""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from bot.policy.engine import ROOT, PolicyError, RegoEngine, available_packs, check_bounds, default_rules_dir
from bot.policy.params import PARAMS, PARAMS_FILE, LayerParams, Merge, ParamsError, check_params, merge_params, read_params
from bot.policy.rules_meta import SEVERITIES, MetadataError, file_info

OVERLAY_ROOT: tuple[str, ...] = (ROOT, "overlay")
#: builtins whose result depends on the world or the clock, or that talk to the network
FORBIDDEN_BUILTINS = frozenset({"http.send", "net.lookup_ip_addr", "opa.runtime", "time.now_ns", "print"})
FORBIDDEN_PREFIXES: tuple[str, ...] = ("rand.", "uuid.")
#: overlay rule names an upper layer may read without that being a hook: outputs and documentation
OUTPUT_NAMES = frozenset({"deny", "warn", "metadata"})
WAIVER_FILES = frozenset({"waivers.yaml", "waivers.yml", "waivers.json"})
MAX_OVERLAY_FILES = 500
PARSE_TIMEOUT_S = 10.0
TESTS_TIMEOUT_S = 60.0
CHILD_MEMORY_BYTES = 4 * 1024 * 1024 * 1024
_IDENT_ASCII = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class Trick(str, enum.Enum):
    """What a violation is about (one code per kind of weakening)."""

    FILE = "file"  # symlink, not UTF-8, too many files
    BOUNDS = "bounds"  # too large / too long / nested too deep to parse safely
    PARSE = "parse-error"
    PARSE_TIMEOUT = "parse-timeout"
    PACKAGE_OUTSIDE_ROOT = "package-outside-root"
    PACKAGE_NAME = "package-name"  # under the root, but a segment that is not a plain identifier
    DOTTED_HEAD = "dotted-head"
    SHADOWS_UPPER = "shadows-upper"
    UPPER_HOOK = "upper-hook"  # defines something an upper layer reads (allow/exception rule)
    WITH_REWRITE = "with-rewrite"
    FORBIDDEN_BUILTIN = "forbidden-builtin"
    LOOSER_PARAMETER = "looser-parameter"
    UNKNOWN_PARAMETER = "unknown-parameter"
    UPPER_DATA = "upper-data"
    CONSTITUTION_WAIVER = "constitution-waiver"
    ENGINE_REFUSES = "engine-refuses"
    UPPER_DENIAL_LOST = "upper-denial-lost"
    TESTS_TIMEOUT = "tests-timeout"


@dataclass(frozen=True)
class LintViolation:
    file: str
    line: int
    rule_weakened: str
    message: str
    code: Trick = Trick.FILE

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.code.value}] weakens {self.rule_weakened}: {self.message}"


@dataclass
class LintReport:
    violations: list[LintViolation] = field(default_factory=list)
    #: upper-layer tests re-run with the overlay loaded: (test name, passed)
    upper_tests: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def codes(self) -> set[str]:
        return {v.code.value for v in self.violations}

    def format(self) -> str:
        lines = [str(v) for v in sorted(self.violations, key=lambda v: (v.file, v.line, v.code.value))]
        if self.upper_tests:
            passing = sum(1 for _, ok in self.upper_tests if ok)
            lines.append(f"re-ran {len(self.upper_tests)} upper-layer tests with the overlay loaded: {passing} still pass")
        lines += [f"note: {n}" for n in self.notes]
        lines.append("overlay OK: it only adds strictness" if self.ok else f"overlay REJECTED: {len(self.violations)} violation(s)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "violations": [{**asdict(v), "code": v.code.value} for v in self.violations],
            "upper_tests": [{"name": n, "passed": p} for n, p in self.upper_tests],
            "notes": list(self.notes),
        }


class LintError(RuntimeError):
    """The linter cannot run (the upper layers themselves do not load); not a verdict on the overlay."""


# ====================================================================== AST helpers


def _span_line(node: Any) -> int:
    """The first line number found in a node (spans sit on the inner body of each AST node)."""
    stack = [node]
    while stack:
        n = stack.pop(0)
        if isinstance(n, dict):
            span = n.get("span")
            if isinstance(span, dict) and isinstance(span.get("line"), int):
                return span["line"]
            stack.extend(v for v in n.values() if isinstance(v, (dict, list)))
        elif isinstance(n, list):
            stack.extend(n)
    return 0


def ref_path(node: Any) -> list[str | None] | None:
    """Segments of a reference (`Var`, `.field`, `["literal"]`); None for a computed index.

    Returns None when the node is not a reference at all. Iterative: a long chain cannot exhaust
    the Python stack.
    """
    segs: list[str | None] = []
    cur = node
    while True:
        if not isinstance(cur, dict) or len(cur) != 1:
            return None
        kind, body = next(iter(cur.items()))
        if not isinstance(body, dict):
            return None
        if kind == "Var":
            segs.append(str(body.get("value")))
            return segs[::-1]
        if kind == "RefDot":
            fld = body.get("field")
            segs.append(str(fld[1] if isinstance(fld, list) else fld))
        elif kind == "RefBrack":
            index = body.get("index") or {}
            lit = None
            for k in ("String", "RawString"):
                if k in index:
                    lit = str(index[k]["value"])
            segs.append(lit)
        else:
            return None
        cur = body.get("refr")


def _bracket_indexes(node: dict[str, Any]) -> Iterator[Any]:
    cur = node
    while isinstance(cur, dict) and len(cur) == 1:
        kind, body = next(iter(cur.items()))
        if kind == "RefBrack":
            yield body.get("index")
        if kind not in ("RefDot", "RefBrack"):
            return
        cur = body.get("refr")


def iter_refs(node: Any) -> Iterator[tuple[list[str | None], int]]:
    """Every maximal reference chain in a subtree, with its line (prefixes are not repeated)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
            continue
        if not isinstance(n, dict):
            continue
        if len(n) == 1:
            kind = next(iter(n))
            if kind in ("RefDot", "RefBrack", "Var"):
                segs = ref_path(n)
                if segs is not None:
                    yield segs, _span_line(n)
                    stack.extend(_bracket_indexes(n))
                    continue
        stack.extend(v for v in n.values() if isinstance(v, (dict, list)))


def iter_nodes(node: Any, kind: str) -> Iterator[dict[str, Any]]:
    """Bodies of every node of one kind (e.g. "Call") in a subtree."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if kind in n and isinstance(n[kind], dict) and len(n) == 1:
                yield n[kind]
            stack.extend(v for v in n.values() if isinstance(v, (dict, list)))
        elif isinstance(n, list):
            stack.extend(n)


def iter_with_mods(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            for mod in n.get("with_mods") or []:
                if isinstance(mod, dict):
                    yield mod
            stack.extend(v for v in n.values() if isinstance(v, (dict, list)))
        elif isinstance(n, list):
            stack.extend(n)


def _import_aliases(entry: Mapping[str, Any]) -> dict[str, list[str | None]]:
    """alias -> full path of each `import data....` / `import input....` in a file."""
    contents = str(entry.get("source", {}).get("contents", "")).encode("utf-8")
    out: dict[str, list[str | None]] = {}
    for imp in entry.get("ast", {}).get("imports", []) or []:
        path = ref_path(imp.get("refr"))
        if not path or path[0] not in ("data", "input"):
            continue
        alias_span = imp.get("as")
        if isinstance(alias_span, dict) and "start" in alias_span:
            alias = contents[alias_span["start"] : alias_span["end"]].decode("utf-8", "replace")
        else:
            alias = path[-1] or ""
        if alias:
            out[alias] = path
    return out


def _resolve(path: list[str | None], aliases: Mapping[str, list[str | None]]) -> list[str | None]:
    if path and path[0] in aliases and path[0] not in ("data", "input"):
        return [*aliases[path[0]], *path[1:]]
    return path


@dataclass(frozen=True)
class RuleDef:
    """One rule definition: its data path (without `data`), kind and line."""

    path: tuple[str, ...]
    name: str
    kind: str  # default | else | function | partial set | partial object | complete
    line: int
    head_segments: int


def iter_rule_defs(entry: Mapping[str, Any], package: Sequence[str]) -> Iterator[RuleDef]:
    for rule in entry.get("ast", {}).get("rules", []) or []:
        if "Default" in rule:
            body = rule["Default"]
            refr, kind = body.get("refr"), "default"
        elif "Spec" in rule:
            spec = rule["Spec"]
            head_kind, head = next(iter(spec.get("head", {}).items()), ("", {}))
            refr = head.get("refr") if isinstance(head, dict) else None
            if head_kind == "Func":
                kind = "function"
            elif head_kind == "Set":
                kind = "partial set"
            elif head_kind == "Compr":
                kind = "complete"
                if refr and ref_path(refr) and ref_path(refr)[-1] is None:
                    kind = "partial object"
            else:
                kind = head_kind.lower() or "rule"
            if any(b.get("is_else") for b in spec.get("bodies", []) or [] if isinstance(b, dict)):
                kind = "else"
        else:
            continue
        segs = ref_path(refr) or []
        literal: list[str] = []
        for s in segs:
            if s is None:
                break
            literal.append(s)
        if not literal:
            continue
        yield RuleDef(
            path=(*package, *literal), name=literal[0], kind=kind, line=_span_line(rule), head_segments=len(literal)
        )


_KIND_PHRASE = {
    "default": "a `default` rule",
    "else": "a rule with an `else` branch",
    "function": "a function of the same name",
    "partial set": "a partial set rule (`contains`)",
    "partial object": "a partial object rule",
    "complete": "a complete rule",
}


def _package_of(entry: Mapping[str, Any]) -> list[str | None]:
    return ref_path(entry.get("ast", {}).get("package", {}).get("refr")) or []


def _show_segment(seg: str) -> str:
    """A segment with every non-ASCII character spelled out, so lookalikes are visible."""
    if seg.isascii():
        return repr(seg)
    odd = [f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in seg if not c.isascii()]
    return f"{seg!r} (contains {', '.join(odd)})"


def _show_path(segs: Sequence[str | None]) -> str:
    out = ""
    for i, s in enumerate(segs):
        if s is None:
            out += "[_]"
        elif s and s[0] in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_" and set(s) <= _IDENT_ASCII:
            out += ("." if i else "") + s
        else:
            out += f"[{json.dumps(s)}]"
    return out


# ====================================================================== the upper layers


@dataclass(frozen=True)
class UpperRule:
    path: tuple[str, ...]
    kind: str
    file: str
    line: int
    rule_id: str


@dataclass
class UpperContext:
    """What the linter needs to know about the layers above the overlay."""

    sources: list[tuple[str, str, str, str | None]]  # (display path, text, layer, pack)
    layer_params: list[LayerParams]
    definitions: list[UpperRule]
    package_ids: dict[tuple[str, ...], str]  # package -> rule ID
    constitution_ids: set[str]
    all_ids: set[str]
    hooks: list[tuple[list[str | None], str, int, str]]  # (pattern without "data", file, line, rule id)
    effective: dict[str, Any]
    tests: dict[str, tuple[str, int]] = field(default_factory=dict)  # "pkg.test_x" -> (file, line)
    notes: list[str] = field(default_factory=list)  # upper-layer patterns the linter cannot reason about

    def weakened(self, path: Sequence[str]) -> list[UpperRule]:
        """Upper definitions a definition at `path` would collide with (equal, or one inside the other)."""
        p = tuple(path)
        return [d for d in self.definitions if d.path[: len(p)] == p or p[: len(d.path)] == d.path]


def _layer_dirs(rules_dir: Path, packs: Sequence[str]) -> list[tuple[str, Path, str | None]]:
    plan: list[tuple[str, Path, str | None]] = [("lib", rules_dir / "lib", None), ("constitution", rules_dir / "constitution", None)]
    plan += [("packs", rules_dir / "packs" / p, p) for p in packs]
    return [(layer, d, pack) for layer, d, pack in plan if d.is_dir()]


def load_upper(rules_dir: Path | None = None, *, packs: Sequence[str] | None = None) -> UpperContext:
    """Read and parse the (trusted) upper layers once; LintError if they do not load themselves."""
    rules_dir = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    if not (rules_dir / "constitution").is_dir():
        raise LintError(f"{rules_dir}: no constitution/ directory")
    packs = list(available_packs(rules_dir) if packs is None else packs)
    sources: list[tuple[str, str, str, str | None]] = []
    layer_params: list[LayerParams] = []
    for layer, directory, pack in _layer_dirs(rules_dir, packs):
        prefix = f"packs/{pack}" if pack else layer
        for f in sorted(directory.rglob("*.rego")):
            if f.is_file() and not f.is_symlink():
                sources.append((f"{prefix}/{f.relative_to(directory).as_posix()}", f.read_text(encoding="utf-8"), layer, pack))
        if layer != "lib":
            try:
                layer_params.append(read_params(directory / PARAMS_FILE, layer=prefix))
            except ParamsError as exc:
                raise LintError(str(exc)) from None
    engine = RegoEngine()
    try:
        for path, text, _layer, _pack in sources:
            engine.add_policy(path, text)
        entries = engine.ast()
    except PolicyError as exc:
        raise LintError(f"the upper layers do not parse: {exc}") from None
    by_path = {s[0]: s for s in sources}
    definitions: list[UpperRule] = []
    package_ids: dict[tuple[str, ...], str] = {}
    constitution_ids: set[str] = set()
    hooks: list[tuple[list[str | None], str, int, str]] = []
    tests: dict[str, tuple[str, int]] = {}
    notes: list[str] = []
    for entry in entries:
        path = str(entry["source"]["file"])
        try:
            info = file_info(entry)
        except MetadataError as exc:
            raise LintError(str(exc)) from None
        layer = by_path[path][2]
        rule_id = str(info.metadata.get("id", "")) if isinstance(info.metadata, dict) else ""
        if rule_id:
            package_ids[info.package] = rule_id
            if layer == "constitution":
                constitution_ids.add(rule_id)
        if path.endswith("_test.rego"):
            for d in iter_rule_defs(entry, info.package):
                if d.name.startswith("test_") and d.head_segments == 1:
                    tests[".".join(d.path)] = (path, d.line)
            continue
        label = rule_id or f"{_show_path(info.package)} ({layer})"
        for d in iter_rule_defs(entry, info.package):
            definitions.append(UpperRule(path=d.path, kind=d.kind, file=path, line=d.line, rule_id=label))
        aliases = _import_aliases(entry)
        for segs, line in iter_refs(entry.get("ast", {}).get("rules", [])):
            full = _resolve(segs, aliases)
            if full and full[0] == "data" and len(full) >= 4 and _compatible(full[1:3], OVERLAY_ROOT):
                hooks.append((full[1:], path, line, label))
            elif full and full[0] == "data" and len(full) <= 3 and _compatible(full[1:], OVERLAY_ROOT):
                notes.append(f"{path}:{line} reads data.{_show_path(full[1:]) or '(all)'} as a whole; the linter cannot "
                             "tell which overlay rules that layer consults")
    definitions.append(UpperRule(path=(ROOT, "effective"), kind="engine data", file="(engine)", line=0,
                                 rule_id="the engine's effective parameters (data.trustacks.effective)"))
    effective = dict(merge_params(layer_params).values)
    return UpperContext(
        sources=sources,
        layer_params=layer_params,
        definitions=definitions,
        package_ids=package_ids,
        constitution_ids=constitution_ids,
        all_ids=set(package_ids.values()),
        hooks=hooks,
        effective=effective,
        tests=tests,
        notes=notes,
    )


def _compatible(pattern: Sequence[str | None], path: Sequence[str]) -> bool:
    """True when a reference pattern (None = any segment) and a path agree on their common prefix."""
    return all(p is None or p == q for p, q in zip(pattern, path))


def _namespace_owner(segs: Sequence[str | None]) -> str:
    s = [x if x is not None else "_" for x in segs]
    if not s or s[0] != ROOT:
        return "the policy namespace (packages must live under trustacks.overlay)"
    if len(s) == 1:
        return "every layer (package trustacks is the parent of all of them)"
    if s[1] == "constitution":
        return "the constitution layer (trustacks.constitution)"
    if s[1] == "packs":
        return f"pack {s[2]} (trustacks.packs.{s[2]})" if len(s) > 2 else "every pack (trustacks.packs)"
    if s[1] == "lib":
        return "the shared helpers every rule uses (trustacks.lib)"
    if s[1] == "effective":
        return "the engine's effective parameters (trustacks.effective)"
    return f"the namespace {_show_path(s[:2])} (not the overlay's)"


# ====================================================================== reading the overlay


@dataclass(frozen=True)
class OverlayFiles:
    rego: dict[str, str]  # rel path -> text
    params: bytes | None
    data: dict[str, bytes]  # rel path -> data.json bytes
    waivers: dict[str, bytes]


def read_overlay(overlay_dir: Path, report: LintReport) -> OverlayFiles:
    """The overlay's policy, parameter, data and waiver files; symlinks and odd files are violations."""
    overlay_dir = Path(overlay_dir)
    if not overlay_dir.is_dir():
        raise LintError(f"{overlay_dir}: overlay directory not found")
    raw: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(overlay_dir, followlinks=False):
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            full = base / name
            rel = full.relative_to(overlay_dir).as_posix()
            if full.is_symlink():
                report.violations.append(LintViolation(rel, 0, "the overlay's own files", "symlinks are not allowed in an overlay", Trick.FILE))
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if name in filenames and (name.endswith(".rego") or name in (PARAMS_FILE, "data.json") or name in WAIVER_FILES):
                if full.stat().st_size > 4 * 1024 * 1024:
                    report.violations.append(LintViolation(rel, 0, "the linter's bounds", "file is over 4 MiB", Trick.BOUNDS))
                    continue
                raw[rel] = full.read_bytes()
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".git"))
    return split_overlay(raw, report)


def split_overlay(raw: Mapping[str, bytes], report: LintReport) -> OverlayFiles:
    if len(raw) > MAX_OVERLAY_FILES:
        report.violations.append(LintViolation("(overlay)", 0, "the linter's bounds", f"{len(raw)} files is over {MAX_OVERLAY_FILES}", Trick.BOUNDS))
    rego: dict[str, str] = {}
    data: dict[str, bytes] = {}
    waivers: dict[str, bytes] = {}
    params = None
    for rel, content in sorted(raw.items()):
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(".rego"):
            try:
                rego[rel] = content.decode("utf-8")
            except UnicodeDecodeError:
                report.violations.append(LintViolation(rel, 0, "the overlay's own files", "not UTF-8", Trick.FILE))
        elif rel == PARAMS_FILE:
            params = content
        elif name == PARAMS_FILE:
            report.notes.append(f"{rel}: only the top-level params.json is read by the engine; this one is ignored")
        elif name == "data.json":
            data[rel] = content
        elif name in WAIVER_FILES:
            waivers[rel] = content
    return OverlayFiles(rego=rego, params=params, data=data, waivers=waivers)


# ====================================================================== the child process


_WORKER = "from bot.policy.lint import _worker_main; _worker_main()"


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}
    import bot

    repo = str(Path(bot.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _limit_child() -> None:  # pragma: no cover - runs in the child before exec
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass


def _run_child(payload: Mapping[str, Any], *, timeout_s: float) -> tuple[list[dict[str, Any]], bool]:
    """Run the worker; returns the JSON lines it printed and whether it timed out."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
        preexec_fn=_limit_child if os.name == "posix" else None,  # noqa: PLW1509 - only sets rlimits
        text=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(json.dumps(payload), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        timed_out = True
    lines = []
    for line in out.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    if not timed_out and proc.returncode != 0 and not lines:
        raise LintError(f"the lint worker failed (exit {proc.returncode}): {err.strip()[-500:]}")
    return lines, timed_out


def _worker_main() -> None:  # pragma: no cover - runs in the child process
    """Child entry point: one JSON request on stdin, JSON lines on stdout (flushed as they come)."""
    request = json.loads(sys.stdin.read())
    if request["mode"] == "parse":
        for name, text in request["files"]:
            print(json.dumps({"file": name, "started": True}), flush=True)
            engine = RegoEngine()
            try:
                engine.add_policy(name, text)
                entry = engine.ast()[0]
                print(json.dumps({"file": name, "ast": entry}), flush=True)
            except PolicyError as exc:
                print(json.dumps({"file": name, "error": str(exc)}), flush=True)
    elif request["mode"] == "tests":
        print(json.dumps(_tests_in_child(request)), flush=True)


# ====================================================================== stage 1: bounds and parsing


def _location_line(message: str) -> int:
    """The line number out of `path:line:col: message` (0 when there is none)."""
    parts = message.split(":")
    for i in range(1, len(parts)):
        if parts[i].strip().isdigit():
            return int(parts[i])
    return 0


def parse_overlay(rego: Mapping[str, str], report: LintReport, *, timeout_s: float = PARSE_TIMEOUT_S) -> dict[str, dict[str, Any]]:
    """Bound-check, then parse every file in a child process; returns rel path -> AST entry."""
    safe: list[tuple[str, str]] = []
    for rel, text in rego.items():
        try:
            check_bounds(rel, text)
        except PolicyError as exc:
            report.violations.append(LintViolation(rel, _location_line(str(exc)) or 1, "the linter's bounds",
                                                   f"refused before parsing: {exc}", Trick.BOUNDS))
            continue
        safe.append((rel, text))
    if not safe:
        return {}
    lines, timed_out = _run_child({"mode": "parse", "files": safe}, timeout_s=timeout_s)
    parsed: dict[str, dict[str, Any]] = {}
    started = None
    for item in lines:
        if item.get("started"):
            started = item["file"]
        elif "ast" in item:
            parsed[item["file"]] = item["ast"]
            started = None
        elif "error" in item:
            report.violations.append(LintViolation(item["file"], _location_line(item["error"]), "nothing (the file does not parse)",
                                                   f"does not parse: {item['error']}", Trick.PARSE))
            started = None
    if timed_out or started is not None:
        culprit = started or "(overlay)"
        report.violations.append(LintViolation(culprit, 0, "the linter's bounds",
                                               f"parsing did not finish within {timeout_s:g}s (or exhausted memory); the file is refused",
                                               Trick.PARSE_TIMEOUT))
    return parsed


# ====================================================================== stage 2: the AST checks


def check_ast(rel: str, entry: Mapping[str, Any], upper: UpperContext, report: LintReport) -> None:
    is_test = rel.endswith("_test.rego")
    package = _package_of(entry)
    pkg_ok = _check_package(rel, entry, package, upper, report)
    literal_pkg = tuple(s for s in package if s is not None)
    aliases = _import_aliases(entry)
    for d in iter_rule_defs(entry, literal_pkg):
        if d.head_segments > 1:
            report.violations.append(LintViolation(rel, d.line, _rule_label(d.path, upper),
                f"rule head {'.'.join(d.path[len(literal_pkg):])} reaches into another document; define it in its own package "
                "(a dotted head can make unrelated rules undefined)", Trick.DOTTED_HEAD))
        hit = upper.weakened(d.path)
        if hit:
            first = hit[0]
            report.violations.append(LintViolation(rel, d.line, first.rule_id,
                f"{_KIND_PHRASE.get(d.kind, 'a rule')} for data.{_show_path(d.path)} lands on the upper layer's {first.kind} rule at "
                f"{first.file}:{first.line}; the overlay may not define, shadow or extend another layer's rules",
                Trick.SHADOWS_UPPER))
            continue
        if not pkg_ok or is_test or d.name in OUTPUT_NAMES or d.name.startswith("test_"):
            continue
        for pattern, hfile, hline, hid in upper.hooks:
            if _compatible(pattern, d.path):
                report.violations.append(LintViolation(rel, d.line, hid,
                    f"{hfile}:{hline} reads data.{_show_path(pattern)}; defining data.{_show_path(d.path)} here "
                    f"({d.kind}) would let the overlay answer an upper layer's allow/exception question",
                    Trick.UPPER_HOOK))
                break
    _check_with(rel, entry, aliases, upper, report, is_test=is_test)
    _check_builtins(rel, entry, report)


def _check_package(rel: str, entry: Mapping[str, Any], package: list[str | None], upper: UpperContext, report: LintReport) -> bool:
    line = _span_line(entry.get("ast", {}).get("package")) or 1
    shown = _show_path(package)
    for i, want in enumerate(OVERLAY_ROOT):
        got = package[i] if i < len(package) else None
        if got != want:
            where = f"segment {i + 1} is {_show_segment(got)}, not {want!r}" if got is not None else f"it stops before {want!r}"
            report.violations.append(LintViolation(rel, line, _rule_label(tuple(s for s in package if s), upper),
                f"package {shown} is outside the overlay's root trustacks.overlay ({where}); "
                f"it would write into {_namespace_owner(package)}", Trick.PACKAGE_OUTSIDE_ROOT))
            return False
    if len(package) <= len(OVERLAY_ROOT):
        report.violations.append(LintViolation(rel, line, "the overlay root itself",
            "package trustacks.overlay itself is reserved; use trustacks.overlay.<name>", Trick.PACKAGE_OUTSIDE_ROOT))
        return False
    for seg in package[len(OVERLAY_ROOT):]:
        if seg is None or not seg.isascii() or not seg or seg[0].isdigit() or not set(seg) <= _IDENT_ASCII:
            report.violations.append(LintViolation(rel, line, "package names readers can trust",
                f"package segment {_show_segment(seg or '?')} is not a plain ASCII identifier; "
                "a dotted, spaced or lookalike segment renders like a different package", Trick.PACKAGE_NAME))
            return False
    return True


def _rule_label(path: Sequence[str], upper: UpperContext) -> str:
    hit = upper.weakened(path)
    if hit:
        ids = list(dict.fromkeys(h.rule_id for h in hit))
        return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return _namespace_owner(list(path))


def _check_with(rel: str, entry: Mapping[str, Any], aliases: Mapping[str, list[str | None]], upper: UpperContext,
                report: LintReport, *, is_test: bool) -> None:
    if is_test:
        return  # tests mock input and data by design; test files are never evaluated on proposals
    for mod in iter_with_mods(entry.get("ast", {}).get("rules", [])):
        target = ref_path(mod.get("refr"))
        line = _span_line(mod)
        if target is None:
            continue
        full = _resolve(target, aliases)
        if full[0] == "data" and _compatible(full[1:3], OVERLAY_ROOT) and len(full) >= 3 and None not in full[1:3]:
            continue  # the overlay's own data
        if full[0] == "input":
            weakened = "every upper rule (they all read input)"
            why = "rewrites the input the upper layers decide on"
        elif full[0] == "data":
            path = tuple(s for s in full[1:] if s is not None)
            weakened = _rule_label(path, upper) if path else "all data"
            why = f"rewrites upper data data.{_show_path(full[1:])}"
        else:
            weakened = f"the builtin or function {_show_path(full)}"
            why = "replaces a function or builtin"
        report.violations.append(LintViolation(rel, line, weakened,
            f"`with {_show_path(full)} as ...` {why}; outside tests an overlay may only mock its own data", Trick.WITH_REWRITE))


def _check_builtins(rel: str, entry: Mapping[str, Any], report: LintReport) -> None:
    seen: set[tuple[str, int]] = set()
    rules = entry.get("ast", {}).get("rules", [])
    candidates: list[tuple[str, int]] = []
    for call in iter_nodes(rules, "Call"):
        fcn = ref_path(call.get("fcn"))
        if fcn and None not in fcn:
            candidates.append((".".join(fcn), _span_line(call)))  # type: ignore[arg-type]
    for mod in iter_with_mods(rules):
        value = ref_path(mod.get("as"))
        if value and None not in value:
            candidates.append((".".join(value), _span_line(mod)))  # type: ignore[arg-type]
    for name, line in candidates:
        if (name in FORBIDDEN_BUILTINS or name.startswith(FORBIDDEN_PREFIXES)) and (name, line) not in seen:
            seen.add((name, line))
            report.violations.append(LintViolation(rel, line, "deterministic evaluation (every rule's verdict must be reproducible)",
                f"{name} is non-deterministic or reaches the network; policy may not call it", Trick.FORBIDDEN_BUILTIN))


# ====================================================================== stage 3: parameters and waivers


def _line_of_key(text: str, key: str) -> int:
    needle = json.dumps(key)
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return 1


def looser(name: str, value: Any, upper_value: Any) -> str | None:
    """Why `value` is looser than the upper layers' `upper_value` for parameter `name`, or None."""
    spec = PARAMS[name]
    if spec.merge is Merge.MIN_SEVERITY:
        if SEVERITIES.index(value) > SEVERITIES.index(upper_value):
            return f"fails only at {value}, the upper layers already fail at {upper_value} (severity thresholds may only be lowered)"
    elif spec.merge is Merge.MAX:
        if value < upper_value:
            return f"{value} is fewer than the upper layers' {upper_value} (this minimum may only rise)"
    elif spec.merge is Merge.MIN:
        if value > upper_value:
            return f"{value} is more than the upper layers' {upper_value} (this limit may only fall)"
    elif spec.merge is Merge.INTERSECT:
        extra = sorted(set(value) - set(upper_value))
        if extra:
            return f"allows {', '.join(map(str, extra))}, which the upper layers do not (allow-lists may only shrink)"
    return None  # UNION: entries are added to the upper layers', never removed


def _upper_origin(name: str, upper: UpperContext) -> str:
    for lp in upper.layer_params:
        if name in lp.values:
            return f"parameter {name} ({lp.path or lp.layer})"
    return f"parameter {name}"


def check_params_file(rel: str, content: bytes, upper: UpperContext, report: LintReport, *, nested: str = "") -> None:
    try:
        text = content.decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        report.violations.append(LintViolation(rel, 1, "the overlay's parameters", f"not valid JSON: {exc}", Trick.FILE))
        return
    if nested:
        raw = raw.get(nested) if isinstance(raw, dict) else None
        if raw is None:
            return
    if not isinstance(raw, dict):
        report.violations.append(LintViolation(rel, 1, "the overlay's parameters", "parameters must be a JSON object", Trick.FILE))
        return
    for name, value in raw.items():
        line = _line_of_key(text, name)
        if name not in PARAMS:
            report.violations.append(LintViolation(rel, line, f"parameter {name}",
                f"unknown parameter {name!r} (known: {', '.join(sorted(PARAMS))}); the engine refuses it", Trick.UNKNOWN_PARAMETER))
            continue
        try:
            check_params({name: value}, where=rel)
        except ParamsError as exc:
            report.violations.append(LintViolation(rel, line, f"parameter {name}", str(exc), Trick.UNKNOWN_PARAMETER))
            continue
        if name not in upper.effective:
            continue  # the overlay is the first to constrain it: stricter by definition
        why = looser(name, value, upper.effective[name])
        if why:
            report.violations.append(LintViolation(rel, line, _upper_origin(name, upper), f"{name}: {why}", Trick.LOOSER_PARAMETER))


def check_data_file(rel: str, content: bytes, upper: UpperContext, report: LintReport) -> None:
    """`data.json` is not loaded by the engine; still, it may not aim at upper data or loosen parameters."""
    try:
        text = content.decode("utf-8")
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        report.violations.append(LintViolation(rel, 1, "the overlay's data", f"not valid JSON: {exc}", Trick.FILE))
        return
    if not isinstance(doc, dict):
        return
    where = rel.split("/")[:-1]
    if where[:1] == [ROOT] or ROOT in doc:
        target = where if where[:1] == [ROOT] else [ROOT, *list(doc[ROOT])[:1]] if isinstance(doc[ROOT], dict) else [ROOT]
        report.violations.append(LintViolation(rel, _line_of_key(text, ROOT), _namespace_owner(target),
            f"data.json aims at data.{_show_path(target)}; overlay data may not write another layer's data", Trick.UPPER_DATA))
    if isinstance(doc.get("params"), dict):
        check_params_file(rel, content, upper, report, nested="params")
    loose = {k: v for k, v in doc.items() if k in PARAMS}
    if loose:
        check_params_file(rel, json.dumps(loose, indent=1).encode(), upper, report)
    report.notes.append(f"{rel}: data.json is not loaded by the engine; parameters belong in params.json")


def check_waiver_file(rel: str, content: bytes, upper: UpperContext, report: LintReport) -> None:
    from bot.policy.waivers import WaiverError, is_constitution_rule, read_entries

    try:
        entries = read_entries(content)
    except (WaiverError, UnicodeDecodeError) as exc:
        report.notes.append(f"{rel}: waiver file not readable ({exc}); its waivers will be ignored")
        return
    for line, entry in entries:
        rule = entry.get("rule") if isinstance(entry, Mapping) else None
        if isinstance(rule, str) and is_constitution_rule(rule, constitution_rules=upper.constitution_ids):
            report.violations.append(LintViolation(rel, line, rule,
                f"waives constitution rule {rule}; constitution rules cannot be waived", Trick.CONSTITUTION_WAIVER))


# ====================================================================== stage 4: upper tests with the overlay loaded


def _tests_in_child(request: Mapping[str, Any]) -> dict[str, Any]:  # pragma: no cover - runs in the child
    """Run the upper tests without, then with, the overlay's rules; report each test's outcome."""
    from bot.policy.engine import POLICY_ERROR_ID, PolicyEngine, Source

    upper = [Source(path=p, text=t, layer=layer, pack=pack) for p, t, layer, pack in request["upper"]]
    overlay = [Source(path=p, text=t, layer="overlay") for p, t in request["overlay"]]
    params = [LayerParams(layer=lp["layer"], values=lp["values"], path=lp["path"]) for lp in request["upper_params"]]
    out: dict[str, Any] = {"baseline": {}, "with_overlay": {}, "load_error": "", "files": {}}
    baseline = PolicyEngine.from_sources(upper, layer_params=params, isolate=False)
    for r in baseline.run_tests().results:
        out["baseline"][r.name] = r.passed
        out["files"][r.name] = r.file
    try:
        engine = PolicyEngine.from_sources(upper + overlay, layer_params=params, isolate=False)
    except PolicyError as exc:
        out["load_error"] = str(exc)
        # Still show which upper denials the overlay would remove: compile without the load checks.
        effective = merge_params(params)
        ids = sorted([m.id for m in baseline.rules()] + [POLICY_ERROR_ID])
        docs = [json.dumps({ROOT: {"effective": effective.to_data()}}), json.dumps({ROOT: {"effective": {"rule_ids": ids}}})]
        try:
            base = RegoEngine.build(((s.path, s.text) for s in upper + overlay if not s.is_test), data=docs)
            engine = PolicyEngine(base=base, sources=upper + overlay, metas={}, packages={}, effective=effective,
                                  layer_params=params, revisions={}, data_docs=docs,
                                  rule_names={}, timeout_s=1.0, isolate=False)
        except Exception as exc2:  # noqa: BLE001 - reported; the verdict is already a rejection
            out["compile_error"] = str(exc2)
            return out
    for r in engine.run_tests().results:
        if r.name in out["baseline"]:
            out["with_overlay"][r.name] = [r.passed, r.error]
    return out


def run_upper_tests(
    upper: UpperContext, overlay: Mapping[str, str], *, timeout_s: float = TESTS_TIMEOUT_S
) -> tuple[dict[str, Any] | None, bool]:
    """Run every upper test without and with the overlay's rules (child process); (result, timed_out).

    The upper layers' own parameters are used in both runs. The overlay's parameters are checked
    statically instead (`check_params_file`): a stricter parameter legitimately makes an upper
    "this is allowed" test fail, so only the rules are isolated here, and with them any change in
    an upper test's outcome means the overlay reached into another layer.
    """
    request = {
        "mode": "tests",
        "upper": upper.sources,
        "overlay": [(f"overlay/{rel}", text) for rel, text in overlay.items()],
        "upper_params": [{"layer": lp.layer, "values": dict(lp.values), "path": lp.path} for lp in upper.layer_params],
    }
    lines, timed_out = _run_child(request, timeout_s=timeout_s)
    return (lines[-1] if lines else None), timed_out


def _check_upper_tests(overlay: Mapping[str, str], upper: UpperContext, report: LintReport, *, timeout_s: float) -> None:
    if not overlay:
        return
    result, timed_out = run_upper_tests(upper, overlay, timeout_s=timeout_s)
    first = next(iter(sorted(overlay)), "(overlay)")
    if timed_out or result is None:
        report.violations.append(LintViolation(first, 0, "every upper rule (their tests could not finish)",
            f"upper-layer tests did not finish within {timeout_s:g}s with the overlay loaded", Trick.TESTS_TIMEOUT))
        return
    if result.get("load_error"):
        msg = result["load_error"]
        where = msg.split(":", 1)[0].removeprefix("overlay/") if msg.startswith("overlay/") else first
        report.violations.append(LintViolation(where, _location_line(msg), "the layer boundaries the engine enforces",
                                               f"the engine refuses to load this overlay: {msg}", Trick.ENGINE_REFUSES))
    if result.get("compile_error"):
        report.notes.append(f"upper tests not re-run: the overlay does not compile with the upper layers ({result['compile_error']})")
        return
    for name, passed_before in sorted(result["baseline"].items()):
        now = result["with_overlay"].get(name)
        if now is None:
            continue
        passed_now, error = now
        report.upper_tests.append((name, bool(passed_now)))
        if passed_before and not passed_now:
            package = tuple(name.split(".")[:-1])
            rule_id = upper.package_ids.get(package, result["files"].get(name, name))
            test_file, test_line = upper.tests.get(name, (result["files"].get(name, first), 0))
            report.violations.append(LintViolation(test_file, test_line, rule_id,
                f"with the overlay's rules loaded, upper test {name} fails ({error}): the overlay changed what "
                "an upper rule decides (a denial it checks may no longer fire)", Trick.UPPER_DENIAL_LOST))
    broken_before = [n for n, ok in result["baseline"].items() if not ok]
    if broken_before:
        report.notes.append(f"{len(broken_before)} upper test(s) already fail without the overlay: {', '.join(sorted(broken_before)[:5])}")


# ====================================================================== entry points


_FATAL = frozenset({Trick.BOUNDS, Trick.PARSE, Trick.PARSE_TIMEOUT, Trick.FORBIDDEN_BUILTIN, Trick.FILE})


def lint_overlay(
    overlay_dir: Path,
    *,
    rules_dir: Path | None = None,
    packs: Sequence[str] | None = None,
    upper: UpperContext | None = None,
    run_tests: bool = True,
    parse_timeout_s: float = PARSE_TIMEOUT_S,
    tests_timeout_s: float = TESTS_TIMEOUT_S,
) -> LintReport:
    """Prove the overlay in `overlay_dir` only adds strictness to the layers in `rules_dir`."""
    report = LintReport()
    files = read_overlay(Path(overlay_dir), report)
    return _lint(files, report, rules_dir=rules_dir, packs=packs, upper=upper, run_tests=run_tests,
                 parse_timeout_s=parse_timeout_s, tests_timeout_s=tests_timeout_s)


def lint_overlay_files(
    files: Mapping[str, bytes],
    *,
    rules_dir: Path | None = None,
    packs: Sequence[str] | None = None,
    upper: UpperContext | None = None,
    run_tests: bool = True,
) -> LintReport:
    """The same check on an overlay held in memory (e.g. `VerifiedBundle.layer_files("trustacks/overlay")`)."""
    report = LintReport()
    return _lint(split_overlay(files, report), report, rules_dir=rules_dir, packs=packs, upper=upper, run_tests=run_tests,
                 parse_timeout_s=PARSE_TIMEOUT_S, tests_timeout_s=TESTS_TIMEOUT_S)


def _lint(files: OverlayFiles, report: LintReport, *, rules_dir: Path | None, packs: Sequence[str] | None,
          upper: UpperContext | None, run_tests: bool, parse_timeout_s: float, tests_timeout_s: float) -> LintReport:
    upper = upper or load_upper(rules_dir, packs=packs)
    report.notes.extend(upper.notes)
    parsed = parse_overlay(files.rego, report, timeout_s=parse_timeout_s)
    for rel in sorted(parsed):
        try:
            check_ast(rel, parsed[rel], upper, report)
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            report.violations.append(LintViolation(rel, 0, "nothing (the file cannot be analysed)",
                                                   f"unexpected AST shape: {type(exc).__name__}: {exc}", Trick.PARSE))
    if files.params is not None:
        check_params_file(PARAMS_FILE, files.params, upper, report)
    for rel, content in files.data.items():
        check_data_file(rel, content, upper, report)
    for rel, content in files.waivers.items():
        check_waiver_file(rel, content, upper, report)
    fatal = any(v.code in _FATAL for v in report.violations)
    if run_tests and not fatal and len(parsed) == len(files.rego):
        _check_upper_tests(files.rego, upper, report, timeout_s=tests_timeout_s)
    elif run_tests:
        report.notes.append("upper tests not re-run: some files were refused before they could be loaded safely")
    report.violations = _dedupe(report.violations)
    return report


def _dedupe(violations: Iterable[LintViolation]) -> list[LintViolation]:
    seen: dict[tuple[str, int, str, str], LintViolation] = {}
    for v in violations:
        seen.setdefault((v.file, v.line, v.code.value, v.message), v)
    return list(seen.values())
