"""The policy engine: load the Rego layers once, evaluate proposals, fail closed (DESIGN.md §3, §7).

`RegoEngine` is the one small interface around regorus (add_policy, add_data_json, set_input_json,
eval_query_as_json, clone, the AST and coverage); nothing else in the code base imports regorus, so
the engine can be swapped here. `PolicyEngine` owns the layers:

    rules/lib/                  package trustacks.lib.*            helpers, no rules
    rules/constitution/         package trustacks.constitution.*   the non-waivable floor
    rules/packs/<name>/         package trustacks.packs.<name>.*   enabled per org
    <overlay dir>               package trustacks.overlay.*        the customer's additions

Loading reads every file, bounds its size, line count and bracket nesting *before* the parser sees
it (regorus parse time doubles per nesting level), compiles everything once, then checks the parsed
AST: each file's package lies under its layer's root (compared segment by segment), each rule file
declares literal metadata with a unique ID, no layer shadows another's data or defaults. Layer
parameters are merged strictest-wins (`params.py`) and loaded as `data.trustacks.effective`.

Evaluation clones the compiled engine, runs one query that collects every rule's `deny` and `warn`
sets, and turns the result into a `Decision`. Any engine error, malformed result or timeout becomes
a denial by `TS-POLICY-ERROR` ("policy could not be evaluated"), never an allow. By default the
evaluation runs in a child process (`sandbox.py`) so the timeout is a hard bound. The engine keeps
per-file facts by content digest (`facts.FactsCache`, bounded LRU): a proposal evaluated again
after a push re-reads only the files that changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import regorus

from bot.models import Decision, Violation
from bot.policy.params import PARAMS_FILE, Effective, LayerParams, ParamsError, merge_params, read_params
from bot.policy.rules_meta import (
    FileInfo,
    MetadataError,
    RuleMeta,
    iter_file_infos,
    rule_meta,
    severity_rank,
)
from bot.policy.sandbox import CompiledPolicy, ProcessRunner, SandboxError, SandboxTimeout

if TYPE_CHECKING:
    from bot.models import Proposal
    from bot.profile import Profile

ROOT = "trustacks"
EFFECTIVE = (ROOT, "effective")
LAYERS: tuple[str, ...] = ("constitution", "packs", "overlay")
POLICY_ERROR_ID = "TS-POLICY-ERROR"

# Bounds checked before any text reaches the parser (DESIGN.md §7 hazards).
MAX_FILE_BYTES = 128 * 1024
MAX_LINES = 3000
MAX_LINE_COLUMNS = 400
MAX_NESTING = 8
MAX_FILES = 500
MAX_INPUT_BYTES = 8 * 1024 * 1024

_PACK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LOCATION = re.compile(r"-->\s*(?P<loc>[^\s]+:\d+:\d+)")
_ERROR_LINE = re.compile(r"^\s*error:\s*(?P<msg>.+)$", re.M)

POLICY_ERROR_META = RuleMeta(
    id=POLICY_ERROR_ID,
    title="Policy could not be evaluated",
    layer="engine",
    severity="critical",
    description=(
        "The engine failed, timed out or returned a result it could not read. The proposal is denied "
        "because an unevaluated policy must never read as an allow (fail closed)."
    ),
    remediation=(
        "Read the message for the file:line:col of the failing rule; fix or revert the rule or overlay, "
        "then re-run (`trustacks policy test` reproduces rule failures offline)."
    ),
)


class PolicyError(RuntimeError):
    """A policy that cannot be loaded or run; messages carry file:line:col and no Rust backtrace."""


class OverlayRejected(PolicyError):
    """The overlay failed the ratchet linter (it could weaken an upper layer); nothing was loaded."""

    def __init__(self, overlay_dir: Path, report: Any) -> None:
        self.report = report
        super().__init__(f"{overlay_dir}: overlay refused by the ratchet linter (`trustacks policy lint`):\n"
                         + report.format())


def _refuse_loosening_overlay(overlay_dir: Path, *, rules_dir: Path, packs: Sequence[str]) -> None:
    """Run the ratchet linter on the overlay against the layers it sits on; raise if it fails."""
    from bot.policy.lint import LintError, lint_overlay  # the linter imports this module

    try:
        report = lint_overlay(overlay_dir, rules_dir=rules_dir, packs=list(dict.fromkeys(packs)))
    except LintError as exc:
        raise PolicyError(f"cannot lint the overlay {overlay_dir}: {exc}") from None
    if not report.ok:
        raise OverlayRejected(overlay_dir, report)


class UnknownRule(PolicyError, KeyError):
    def __str__(self) -> str:  # KeyError would add quotes
        return str(self.args[0]) if self.args else "unknown rule"


# ====================================================================== the engine interface


def clean_error(exc: BaseException | str) -> str:
    """An engine error as one readable line: `file:line:col: message`, backtrace removed."""
    text = str(exc)
    text = text.split("Stack backtrace:", 1)[0]
    text = re.split(r"\n\s*stack backtrace:", text, maxsplit=1, flags=re.I)[0]
    loc = _LOCATION.search(text)
    err = _ERROR_LINE.search(text)
    if loc and err:
        return f"{loc.group('loc')}: {err.group('msg').strip()}"
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return "; ".join(lines)[:2000] or "engine error without a message"


class RegoEngine:
    """The only code that talks to regorus. Compile with `build`, then `clone` per evaluation."""

    def __init__(self, inner: Any | None = None) -> None:
        self._inner = inner if inner is not None else regorus.Engine()

    @classmethod
    def build(cls, sources: Iterable[tuple[str, str]], *, data: Iterable[str] = ()) -> "RegoEngine":
        engine = cls()
        engine._inner.set_policy_length_config(
            max_col=MAX_LINE_COLUMNS, max_file_bytes=MAX_FILE_BYTES, max_lines=MAX_LINES
        )
        for doc in data:
            engine.add_data_json(doc)
        for path, text in sources:
            engine.add_policy(path, text)
        return engine

    def add_policy(self, path: str, text: str) -> None:
        try:
            self._inner.add_policy(path, text)
        except Exception as exc:  # regorus raises RuntimeError/ValueError with a Rust report
            raise PolicyError(clean_error(exc)) from None

    def add_data_json(self, doc: str) -> None:
        try:
            self._inner.add_data_json(doc)
        except Exception as exc:
            raise PolicyError(f"data document: {clean_error(exc)}") from None

    def set_input_json(self, doc: str) -> None:
        self._inner.set_input_json(doc)

    def query_json(self, query: str) -> str:
        """Raw JSON text of a query's results (sets come back as arrays; see DESIGN.md §7)."""
        return self._inner.eval_query_as_json(query)

    def query(self, query: str) -> list[dict[str, Any]]:
        """The `result` list of a query: empty when the query is undefined."""
        try:
            return json.loads(self._inner.eval_query_as_json(query)).get("result", [])
        except Exception as exc:
            raise PolicyError(clean_error(exc)) from None

    def value(self, query: str) -> tuple[bool, Any]:
        """(defined, value) of a single-expression query."""
        results = self.query(query)
        if not results:
            return False, None
        return True, results[0]["expressions"][0]["value"]

    def clone(self) -> "RegoEngine":
        return RegoEngine(self._inner.clone())

    def ast(self) -> list[dict[str, Any]]:
        return json.loads(self._inner.get_ast_as_json())

    def enable_coverage(self, enable: bool = True) -> None:
        self._inner.set_enable_coverage(enable)

    def coverage(self) -> dict[str, Any]:
        return json.loads(self._inner.get_coverage_report_as_json())


def prepare(engine: RegoEngine, query: str) -> None:
    """Evaluate the query once on the compiled engine itself, before any clone is taken.

    regorus finishes compiling lazily on the first evaluation and keeps the result in the engine, so
    clones of a prepared engine start warm (measured: ~6 ms per evaluation saved). A rule that
    errors on an empty document would error on every proposal, so that is refused here too.
    """
    engine.set_input_json("{}")
    try:
        engine.query_json(query)
    except Exception as exc:  # noqa: BLE001
        raise PolicyError(f"the policy fails on an empty input: {clean_error(exc)}") from None


# ====================================================================== sources and bounds


@dataclass(frozen=True)
class Source:
    """One .rego file: where it came from and which layer it belongs to."""

    path: str  # display path used in errors, e.g. "constitution/pr_required.rego"
    text: str
    layer: str  # lib | constitution | packs | overlay
    pack: str | None = None

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.rego")

    @property
    def layer_key(self) -> str:
        return f"packs/{self.pack}" if self.pack else self.layer

    @property
    def root(self) -> tuple[str, ...]:
        if self.layer == "packs":
            return (ROOT, "packs", str(self.pack))
        return (ROOT, self.layer)


def check_bounds(path: str, text: str) -> None:
    """Refuse a file the parser could choke on: too big, too long, too wide or nested too deep."""
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise PolicyError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES}-byte limit")
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        raise PolicyError(f"{path}: {len(lines)} lines is over the {MAX_LINES}-line limit")
    for n, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_COLUMNS:
            raise PolicyError(f"{path}:{n}:1: line is over {MAX_LINE_COLUMNS} columns")
    depth, where = max_nesting(text)
    if depth > MAX_NESTING:
        raise PolicyError(f"{path}:{where[0]}:{where[1]}: brackets nested {depth} deep (limit {MAX_NESTING})")


def max_nesting(text: str) -> tuple[int, tuple[int, int]]:
    """Deepest `[`/`{` nesting outside strings and comments, and where it is reached (line, col)."""
    depth = best = 0
    where = (1, 1)
    line, line_start = 1, 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line, line_start = line + 1, i + 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif c == "`":
            j = text.find("`", i + 1)
            end = n if j < 0 else j
            newlines = text.count("\n", i, end)
            if newlines:
                line, line_start = line + newlines, text.rfind("\n", i, end) + 1
            i = end
        elif c in "[{":
            depth += 1
            if depth > best:
                best, where = depth, (line, i - line_start + 1)
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return best, where


def default_rules_dir() -> Path:
    """The shipped rules: `rules/` beside the `bot` package (editable installs, the Docker image)."""
    import bot

    here = Path(bot.__file__).resolve().parent
    for candidate in (here.parent / "rules", here / "rules"):
        if (candidate / "constitution").is_dir():
            return candidate
    raise PolicyError(
        f"cannot find the rules directory next to {here}; pass rules_dir= or install from a checkout"
    )


def available_packs(rules_dir: Path | None = None) -> list[str]:
    base = (rules_dir or default_rules_dir()) / "packs"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and _PACK_NAME.match(p.name))


def _read_dir(directory: Path, *, layer: str, pack: str | None, prefix: str) -> list[Source]:
    out = []
    for f in sorted(directory.rglob("*.rego")):
        if f.is_symlink() or not f.is_file():
            continue
        rel = f.relative_to(directory).as_posix()
        display = f"{prefix}/{rel}"
        if f.stat().st_size > MAX_FILE_BYTES:
            raise PolicyError(f"{display}: over the {MAX_FILE_BYTES}-byte limit")
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"{display}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
        check_bounds(display, text)
        out.append(Source(path=display, text=text, layer=layer, pack=pack))
    return out


def _revision(directory: Path, sources: Sequence[Source]) -> str:
    """The layer's bundle revision (`.manifest`), else a digest of its files."""
    manifest = directory / ".manifest"
    if manifest.is_file():
        try:
            rev = json.loads(manifest.read_text(encoding="utf-8")).get("revision")
            if isinstance(rev, str) and rev:
                return rev
        except (OSError, ValueError):
            pass
    h = hashlib.sha256()
    for s in sorted(sources, key=lambda s: s.path):
        h.update(s.path.encode() + b"\0" + s.text.encode() + b"\0")
    params = directory / PARAMS_FILE
    if params.is_file():
        h.update(params.read_bytes())
    return "sha256:" + h.hexdigest()[:12]


# ====================================================================== tests


@dataclass(frozen=True)
class TestResult:
    """One `test_*` rule: passed when it evaluated to true."""

    name: str  # package.rule
    file: str
    passed: bool
    error: str = ""
    ms: float = 0.0


@dataclass
class TestReport:
    results: list[TestResult] = field(default_factory=list)
    #: file -> (covered lines, not covered lines), policy files only (tests excluded)
    coverage: dict[str, tuple[list[int], list[int]]] | None = None

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return bool(self.results) and self.failed == 0

    def coverage_percent(self) -> float | None:
        if self.coverage is None:
            return None
        covered = sum(len(c) for c, _ in self.coverage.values())
        total = covered + sum(len(n) for _, n in self.coverage.values())
        return 100.0 * covered / total if total else 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "results": [r.__dict__ for r in self.results],
            "coverage_percent": self.coverage_percent(),
        }


# ====================================================================== the policy engine


class PolicyEngine:
    """Compiled layers plus metadata. Thread-safe: evaluations never mutate the compiled engine."""

    def __init__(
        self,
        *,
        base: RegoEngine,
        sources: Sequence[Source],
        metas: Mapping[str, RuleMeta],
        packages: Mapping[str, RuleMeta],
        effective: Effective,
        layer_params: Sequence[LayerParams],
        revisions: Mapping[str, str],
        data_docs: Sequence[str],
        rule_names: Mapping[str, tuple[str, ...]],
        timeout_s: float,
        isolate: bool,
    ) -> None:
        self._base = base
        self.sources = tuple(sources)
        self._metas = dict(metas)
        self._packages = dict(packages)  # package path -> RuleMeta of the rule it holds
        self.effective = effective
        self.layer_params = tuple(layer_params)
        self.revisions: dict[str, str] = dict(revisions)
        self._data_docs = tuple(data_docs)
        self.timeout_s = timeout_s
        self.isolate = isolate
        self._rule_names_by_pkg = dict(rule_names)
        self._query = _collect_query(self._packages, self._rule_names_by_pkg)
        self._runner: ProcessRunner | None = None
        from bot.policy.facts import FactsCache

        #: per-file facts by content digest, reused by every `evaluate` of this engine
        self.facts_cache = FactsCache()
        #: where these rules came from, for operators (set by the loader: a directory, or verified bundles)
        self.provenance = ""

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        *,
        rules_dir: Path | None = None,
        packs: Sequence[str] = (),
        overlay_dir: Path | None = None,
        timeout_s: float = 2.0,
        isolate: bool = True,
        lint_overlay: bool = True,
    ) -> "PolicyEngine":
        """Read, bound-check, compile and verify the layers. Raises PolicyError with file:line:col.

        An overlay is loaded only after the ratchet linter proves it adds strictness (OverlayRejected
        otherwise). `lint_overlay=False` is for tests of what the engine does with rules the linter
        would refuse (fail-closed evaluation); no runtime path passes it.
        `isolate=False` evaluates in this process (no hard time bound; tests and the CLI may use it).
        """
        rules_dir = Path(rules_dir) if rules_dir is not None else default_rules_dir()
        if not (rules_dir / "constitution").is_dir():
            raise PolicyError(f"{rules_dir}: no constitution/ directory")
        known = available_packs(rules_dir)
        for p in packs:
            if p not in known:
                raise PolicyError(f"unknown pack {p!r} (available: {', '.join(known) or 'none'})")
        sources: list[Source] = []
        revisions: dict[str, str] = {}
        layer_params: list[LayerParams] = []
        plan: list[tuple[str, Path, str | None]] = [("lib", rules_dir / "lib", None), ("constitution", rules_dir / "constitution", None)]
        plan += [("packs", rules_dir / "packs" / p, p) for p in dict.fromkeys(packs)]
        if overlay_dir is not None:
            overlay_dir = Path(overlay_dir)
            if not overlay_dir.is_dir():
                raise PolicyError(f"{overlay_dir}: overlay directory not found")
            plan.append(("overlay", overlay_dir, None))
            if lint_overlay:
                _refuse_loosening_overlay(overlay_dir, rules_dir=rules_dir, packs=packs)
        for layer, directory, pack in plan:
            if not directory.is_dir():
                continue
            prefix = f"packs/{pack}" if pack else layer
            found = _read_dir(directory, layer=layer, pack=pack, prefix=prefix)
            sources += found
            key = f"packs/{pack}" if pack else layer
            if layer != "lib":
                revisions[key] = _revision(directory, found)
                try:
                    layer_params.append(read_params(directory / PARAMS_FILE, layer=key))
                except ParamsError as exc:
                    raise PolicyError(str(exc)) from None
        if len(sources) > MAX_FILES:
            raise PolicyError(f"{len(sources)} policy files is over the {MAX_FILES}-file limit")
        if overlay_dir is None and not any(s.layer == "constitution" and not s.is_test for s in sources):
            raise PolicyError(f"{rules_dir}/constitution: no rules")
        engine = cls.from_sources(sources, layer_params=layer_params, revisions=revisions, timeout_s=timeout_s,
                                  isolate=isolate)
        engine.provenance = f"rules directory {rules_dir} (unsigned)"
        return engine

    @classmethod
    def from_sources(
        cls,
        sources: Sequence[Source],
        *,
        layer_params: Sequence[LayerParams] = (),
        revisions: Mapping[str, str] | None = None,
        timeout_s: float = 2.0,
        isolate: bool = True,
    ) -> "PolicyEngine":
        """Compile already-read sources (the bundle loader uses this after verifying signatures)."""
        for s in sources:
            check_bounds(s.path, s.text)
        effective = merge_params(layer_params)
        rule_sources = [s for s in sources if not s.is_test]
        data_docs = [json.dumps({ROOT: {"effective": effective.to_data()}})]
        base = RegoEngine.build(((s.path, s.text) for s in rule_sources), data=data_docs)
        try:
            infos = {i.path: i for i in iter_file_infos(base.ast())}
        except MetadataError as exc:
            raise PolicyError(str(exc)) from None
        metas, packages = _check_layers(rule_sources, infos)
        # data for the rules: the rule IDs that exist (citations must name real rules)
        ids_doc = json.dumps({ROOT: {"effective": {"rule_ids": sorted([*metas, POLICY_ERROR_ID])}}})
        base.add_data_json(ids_doc)
        data_docs.append(ids_doc)
        engine = cls(
            base=base,
            sources=sources,
            metas=metas,
            packages=packages,
            effective=effective,
            layer_params=layer_params,
            revisions=revisions or {},
            data_docs=data_docs,
            rule_names={".".join(i.package): i.rule_names for i in infos.values()},
            timeout_s=timeout_s,
            isolate=isolate,
        )
        prepare(base, engine._query)
        return engine

    # ------------------------------------------------------------------ metadata

    def rules(self, *, layer: str | None = None, pack: str | None = None) -> list[RuleMeta]:
        """Rule metadata, constitution first, then packs, then overlay; each by ID."""
        order = {name: i for i, name in enumerate(LAYERS)}
        out = [
            m
            for m in self._metas.values()
            if (layer is None or m.layer == layer) and (pack is None or m.pack == pack)
        ]
        return sorted(out, key=lambda m: (order.get(m.layer, 9), m.pack or "", m.id))

    def rule(self, rule_id: str) -> RuleMeta:
        if rule_id == POLICY_ERROR_ID:
            return POLICY_ERROR_META
        try:
            return self._metas[rule_id]
        except KeyError:
            raise UnknownRule(f"unknown rule {rule_id!r} (see `trustacks rule list`)") from None

    @property
    def packs(self) -> list[str]:
        return sorted({m.pack for m in self._metas.values() if m.pack})

    @property
    def required_categories(self) -> list[str]:
        return list(self.effective.values.get("required_categories", []))

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        proposal: "Proposal",
        profile: "Profile | None",
        *,
        pr: dict[str, Any] | None = None,
        default_branch: str | None = None,
        protected_branches: Sequence[str] = (),
    ) -> Decision:
        """The verdict on a proposal (facts extracted in Python first). Never raises; fails closed."""
        from bot.policy.facts import build_input

        try:
            doc = build_input(
                proposal, profile, pr=pr, default_branch=default_branch, protected_branches=protected_branches,
                cache=self.facts_cache,
            )
        except Exception as exc:  # noqa: BLE001 - fail closed on any extraction bug
            return self._error_decision(f"facts could not be extracted: {type(exc).__name__}: {exc}")
        return self.evaluate_input(doc)

    def evaluate_input(self, doc: Mapping[str, Any]) -> Decision:
        """The verdict on a raw input document (`policy eval`, MCP). Never raises; fails closed."""
        try:
            text = json.dumps(doc, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            return self._error_decision(f"the input is not a JSON document: {exc}")
        if len(text) > MAX_INPUT_BYTES:
            return self._error_decision(f"the input is {len(text)} bytes, over the {MAX_INPUT_BYTES}-byte limit")
        try:
            raw = self._run(text)
        except SandboxTimeout as exc:
            return self._error_decision(f"timed out: {exc}")
        except (SandboxError, PolicyError) as exc:
            return self._error_decision(str(exc))
        except Exception as exc:  # noqa: BLE001 - engine failures must not escape as an allow
            return self._error_decision(clean_error(exc))
        try:
            return self._decide(raw)
        except Exception as exc:  # noqa: BLE001
            return self._error_decision(f"unreadable result: {type(exc).__name__}: {exc}")

    def _run(self, text: str) -> Any:
        if not self.isolate:
            engine = self._base.clone()
            engine.set_input_json(text)
            try:
                return json.loads(engine.query_json(self._query))
            except Exception as exc:  # noqa: BLE001
                raise PolicyError(clean_error(exc)) from None
        if self._runner is None:
            self._runner = ProcessRunner(
                CompiledPolicy(
                    sources=tuple((s.path, s.text) for s in self.sources if not s.is_test),
                    data=self._data_docs,
                    query=self._query,
                )
            )
        return self._runner.run(text, timeout_s=self.timeout_s)

    def _decide(self, raw: Any) -> Decision:
        results = raw.get("result", []) if isinstance(raw, dict) else None
        if not results:
            raise ValueError("the collection query was undefined")
        collected = results[0]["bindings"]["x"]
        escalate = set(self.effective.values.get("escalate", []))
        deny: dict[tuple[str, str], Violation] = {}
        warn: dict[tuple[str, str], Violation] = {}
        for package, (denials, warnings) in collected.items():
            meta = self._packages[package]
            for effect, items in (("deny", denials), ("warn", warnings)):
                for item in items:
                    v = _violation(meta, item)
                    if effect == "warn" and meta.id in escalate:
                        effect_now = "deny"
                        v = Violation(v.rule, v.layer, v.severity, v.msg, (*v.because, _escalated_by(self, meta.id)))
                    else:
                        effect_now = effect
                    key = (v.rule, v.msg)
                    if effect_now == "deny":
                        deny[key] = v
                        warn.pop(key, None)
                    elif key not in deny:
                        warn[key] = v
        return Decision(
            deny=_sorted(deny.values()),
            warn=_sorted(warn.values()),
            required_tooling=self.required_categories,
            bundle_revisions=dict(self.revisions),
            rules_evaluated=sorted(self._metas),
        )

    def _error_decision(self, message: str) -> Decision:
        return Decision(
            deny=[
                Violation(
                    rule=POLICY_ERROR_ID,
                    layer="engine",
                    severity="critical",
                    msg=f"policy could not be evaluated: {message}",
                    because=("fail closed: an unevaluated policy is a denial",),
                )
            ],
            required_tooling=self.required_categories,
            bundle_revisions=dict(self.revisions),
            rules_evaluated=sorted(self._metas),
        )

    def warm(self) -> None:
        """Start the evaluator process now (service start-up) instead of on the first proposal."""
        if self.isolate:
            self._run(json.dumps({}))

    @property
    def evaluator_pid(self) -> int | None:
        """The evaluator child's process id while it runs (benchmarks read its CPU time)."""
        return self._runner.pid if self._runner is not None else None

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self) -> "PolicyEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tests

    def run_tests(self, *, coverage: bool = False) -> TestReport:
        """Run every `test_*` rule of every loaded layer: one engine clone per test file.

        Files under `lib/` ending in `_test.rego` with no `test_` rules are test support (fixtures)
        and are added to every clone. The report lists each test; coverage is merged over clones.
        """
        report = TestReport(coverage={} if coverage else None)
        support: list[Source] = []
        runnable: list[tuple[Source, FileInfo]] = []
        for s in (s for s in self.sources if s.is_test):
            try:
                probe = RegoEngine()
                probe.add_policy(s.path, s.text)
                info = next(iter_file_infos(probe.ast()))
            except (PolicyError, MetadataError) as exc:
                report.results.append(TestResult(name=s.path, file=s.path, passed=False, error=str(exc)))
                continue
            if s.layer == "lib" and not info.test_names:
                support.append(s)
            elif info.package[: len(s.root)] != s.root:
                report.results.append(TestResult(
                    name=s.path, file=s.path, passed=False,
                    error=f"test package {'.'.join(info.package)} is outside {'.'.join(s.root)}"))
            else:
                runnable.append((s, info))
        base = self._base.clone()
        for s in support:
            base.add_policy(s.path, s.text)
        covered: dict[str, set[int]] = {}
        uncovered: dict[str, set[int]] = {}
        for s, info in runnable:
            engine = base.clone()
            if coverage:
                engine.enable_coverage(True)
            try:
                engine.add_policy(s.path, s.text)
            except PolicyError as exc:
                report.results.append(TestResult(name=s.path, file=s.path, passed=False, error=str(exc)))
                continue
            pkg = ".".join(info.package)
            for name in info.test_names:
                report.results.append(_run_one(engine, pkg, name, s.path))
            if coverage:
                for f in engine.coverage().get("files", []):
                    if f["path"].endswith("_test.rego"):
                        continue
                    covered.setdefault(f["path"], set()).update(f.get("covered", []))
                    uncovered.setdefault(f["path"], set()).update(f.get("not_covered", []))
        if report.coverage is not None:
            for path in sorted(set(covered) | set(uncovered)):
                c = covered.get(path, set())
                report.coverage[path] = (sorted(c), sorted(uncovered.get(path, set()) - c))
        return report

    def compiled(self) -> RegoEngine:
        """A clone of the compiled engine (rules and data, no tests) for the linter and tools."""
        return self._base.clone()


# ====================================================================== load-time checks


def _check_layers(sources: Sequence[Source], infos: Mapping[str, FileInfo]) -> tuple[dict[str, RuleMeta], dict[str, RuleMeta]]:
    metas: dict[str, RuleMeta] = {}
    packages: dict[str, RuleMeta] = {}
    seen_pkgs: dict[str, str] = {}
    defaults: dict[tuple[str, str], str] = {}
    for s in sources:
        info = infos.get(s.path)
        if info is None:
            raise PolicyError(f"{s.path}: the engine did not report this file")
        pkg = info.package
        root = s.root
        if pkg[: len(root)] != root or len(pkg) <= len(root):
            raise PolicyError(
                f"{s.path}:1:1: package {'.'.join(pkg)} is outside this layer's root {'.'.join(root)} "
                "(each layer's rules live only under its own root)"
            )
        if pkg[: len(EFFECTIVE)] == EFFECTIVE:
            raise PolicyError(f"{s.path}:1:1: {'.'.join(EFFECTIVE)} is reserved for the engine's data")
        for name, line in info.dotted_heads:
            raise PolicyError(f"{s.path}:{line}:1: rule head {name} reaches into another document; define it in its own package")
        dotted = ".".join(pkg)
        if dotted in seen_pkgs:
            raise PolicyError(f"{s.path}:1:1: package {dotted} is already defined by {seen_pkgs[dotted]} (one package per file)")
        seen_pkgs[dotted] = s.path
        for name in info.default_names:
            key = (dotted, name)
            if key in defaults or info.default_names.count(name) > 1:
                raise PolicyError(f"{s.path}: two `default {name}` rules in {dotted}")
            defaults[key] = s.path
        if s.layer == "lib":
            if info.metadata is not None:
                raise PolicyError(f"{s.path}: lib files hold helpers, not rules (remove metadata)")
            if {"deny", "warn"} & set(info.rule_names):
                raise PolicyError(f"{s.path}: lib files may not define deny or warn")
            continue
        try:
            meta = rule_meta(info, layer=s.layer, pack=s.pack)
        except MetadataError as exc:
            raise PolicyError(str(exc)) from None
        if not ({"deny", "warn"} & set(info.rule_names)):
            raise PolicyError(f"{s.path}: rule {meta.id} defines neither deny nor warn")
        if meta.id in metas or meta.id == POLICY_ERROR_ID:
            other = metas[meta.id].path if meta.id in metas else "the engine"
            raise PolicyError(f"{s.path}:{meta.line}: rule id {meta.id} is already used by {other}")
        metas[meta.id] = meta
        packages[dotted] = meta
    return metas, packages


def _collect_query(packages: Mapping[str, RuleMeta], rule_names: Mapping[str, tuple[str, ...]]) -> str:
    """One query returning {package: [deny, warn]} for every rule package."""
    parts = []
    for pkg in sorted(packages):
        names = rule_names.get(pkg, ())
        deny = f"data.{pkg}.deny" if "deny" in names else "set()"
        warn = f"data.{pkg}.warn" if "warn" in names else "set()"
        parts.append(f'"{pkg}": [{deny}, {warn}]')
    # one entry per line: the engine's line-width limit applies to queries too
    return "x := {\n" + ",\n".join(parts) + "\n}"


def _run_one(engine: RegoEngine, package: str, name: str, path: str) -> TestResult:
    t0 = time.perf_counter()
    error = ""
    try:
        defined, value = engine.value(f"data.{package}.{name}")
        passed = defined and value is True
        if not defined:
            error = "undefined: a condition in the test body is false"
        elif not passed:
            error = f"evaluated to {json.dumps(value)[:200]}"
    except PolicyError as exc:
        passed, error = False, str(exc)
    return TestResult(name=f"{package}.{name}", file=path, passed=passed, error=error, ms=(time.perf_counter() - t0) * 1000)


def _violation(meta: RuleMeta, item: Any) -> Violation:
    """A rule's emitted object as a Violation; the rule ID and layer always come from metadata."""
    if isinstance(item, dict):
        msg = item.get("msg")
        because = item.get("because", [])
        severity = item.get("severity", meta.severity)
    else:
        msg, because, severity = None, [], meta.severity
    if not isinstance(msg, str) or not msg:
        msg = f"{meta.title} (the rule emitted {json.dumps(item)[:200]})"
    if not isinstance(because, list):
        because = [because]
    if severity_rank(str(severity)) < severity_rank(meta.severity):
        severity = meta.severity  # a rule may raise its severity for one finding, never lower it
    layer = f"packs/{meta.pack}" if meta.pack else meta.layer
    return Violation(rule=meta.id, layer=layer, severity=str(severity), msg=msg, because=tuple(str(b) for b in because))


def _escalated_by(engine: PolicyEngine, rule_id: str) -> str:
    layers = [lp.layer for lp in engine.layer_params if rule_id in lp.values.get("escalate", [])]
    return f"escalated from warn to deny by {', '.join(layers) or 'a lower layer'}"


def _sorted(items: Iterable[Violation]) -> list[Violation]:
    return sorted(items, key=lambda v: (-severity_rank(v.severity), v.rule, v.msg))
