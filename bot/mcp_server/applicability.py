"""Which rules apply to a change touching given paths, and why (`rules_for_change`).

The rules do not declare the paths they apply to (their metadata has no such field, see
rules/README.md), so the mapping is derived from two things the code base already has, instead of
a hand-kept list per rule:

1. **What each rule reads.** Every loaded rule file is parsed by the policy engine (`RegoEngine`,
   regorus) and its AST is walked for references to `input.*`, following imported library rules
   (`util.pushing_ci` -> `input.facts.ci`). So TS-CRED-001 reads `input.facts.secrets` and
   TS-SUPPLY-001 reads `input.facts.ci` through `trustacks.lib.util.pushing_ci`. This is static: a
   rule is never evaluated to find out.
2. **What each file kind feeds.** `bot/policy/facts.py` builds `input.facts` from a change's files;
   `FILE_KINDS` below says which fact keys a file at a path can produce, deciding the kind with the
   same predicates `facts.py` uses (the CI parsers' `claims`, `is_dockerfile`, `credential_kind`,
   `auto_merge_config`, the config-file suffixes). When the path exists in the repository its
   current content is used; otherwise content-dependent predicates are asked about a probe text
   that satisfies their content conditions ("could a file at this path be one?").
   `tests/mcp/test_applicability.py` checks the table against `facts.file_facts_for` on real files.

A rule applies to a path when it reads a fact key the path's kinds feed. One relation is not a
fact key: a Dockerfile is a *build input*, built and pushed by a CI pipeline, so the rules that
judge pipelines which build or push (`trustacks.lib.util.building_ci` / `pushing_ci`) apply to it
as well, "via the pipeline that builds it". Rules that read only the proposal or PR (branches,
citations, approvals) apply to every change; rules that read only the Profile judge the Profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from bot.policy.ci import parsers
from bot.policy.engine import RegoEngine, Source
from bot.policy.facts import _is_config, auto_merge_config, credential_kind, file_facts_for, is_dockerfile
from bot.policy.rules_meta import MetadataError, RuleMeta, ref_segments
from bot.profile import PROFILE_PATH

#: the lib rules that select CI files which build / push artifacts (rules/lib/util.rego)
BUILD_HELPERS = ("trustacks.lib.util.building_ci", "trustacks.lib.util.pushing_ci")
#: fact keys `facts.build_input` derives from the Profile file of a change, not from `file_facts_for`
PROFILE_FACTS = ("profile_changed", "profile_files")

# Probe texts for content-dependent predicates: each satisfies the content half of the predicate,
# so only the path decides ("could a file at this path be one?").
CREDENTIAL_PROBE = (
    'aws_secret_access_key = x\n"type": "service_account", "private_key": "x"\n_authToken=x\n'
    '"auths": {"r": {"auth": "x"}}\npassword = x\n-----BEGIN PRIVATE KEY-----\n'
)
AUTO_MERGE_PROBE = '{"automerge": true}\n  merge:\n'

SCOPE_FILES = "files"  # the rule judges facts these files produce
SCOPE_BUILD = "build"  # the rule judges the pipeline that builds this file
SCOPE_CHANGE = "every_change"  # the rule judges the proposal or PR itself
SCOPE_PROFILE = "profile"  # the rule judges the Profile


# ====================================================================== what each rule reads


@dataclass(frozen=True)
class RuleReads:
    """The input paths a rule file reads (`("facts", "ci")`), the library rules it goes through, and
    the members of library values it names (`trustacks.lib.util.params.vuln_fail_at`)."""

    rule: str
    inputs: frozenset[tuple[str, ...]]
    helpers: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()

    @property
    def fact_keys(self) -> frozenset[str]:
        return frozenset(p[1] for p in self.inputs if len(p) > 1 and p[0] == "facts")

    @property
    def roots(self) -> frozenset[str]:
        return frozenset(p[0] for p in self.inputs if p)

    def members_of(self, helper: str) -> list[str]:
        return sorted(m[len(helper) + 1:] for m in self.members if m.startswith(helper + "."))

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": sorted("input." + ".".join(p) for p in self.inputs), "helpers": sorted(self.helpers)}


@dataclass
class _Reads:
    inputs: set[tuple[str, ...]] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)

    def merge(self, other: "_Reads") -> None:
        self.inputs |= other.inputs
        self.helpers |= other.helpers
        self.members |= other.members


def rule_reads(sources: Sequence[Source], metas: Iterable[RuleMeta]) -> dict[str, RuleReads]:
    """Rule ID -> what the rule reads, from the ASTs of the loaded (non-test) policy files."""
    rule_sources = [s for s in sources if not s.is_test]
    engine = RegoEngine.build((s.path, s.text) for s in rule_sources)
    texts = {s.path: s.text.encode("utf-8") for s in rule_sources}
    index = _Index()
    for entry in engine.ast():
        index.add(entry, texts.get(str(entry["source"]["file"]), b""))
    out: dict[str, RuleReads] = {}
    for meta in metas:
        pkg = tuple(meta.package.split(".")) if meta.package else ()
        acc = _Reads()
        for name in index.rule_names(pkg):
            if name != "metadata":
                acc.merge(index.reads(pkg, name))
        out[meta.id] = RuleReads(rule=meta.id, inputs=frozenset(acc.inputs), helpers=frozenset(acc.helpers),
                                 members=frozenset(acc.members))
    return out


@dataclass
class _File:
    package: tuple[str, ...]
    aliases: dict[str, tuple[str, ...]]  # import alias -> full reference ("data", ...) or ("input", ...)


@dataclass
class _Index:
    """Rules by (package, name) with the file context each was written in."""

    rules: dict[tuple[tuple[str, ...], str], list[tuple[_File, dict[str, Any]]]] = field(default_factory=dict)
    _memo: dict[tuple[tuple[str, ...], str], _Reads] = field(default_factory=dict)

    def add(self, entry: dict[str, Any], source: bytes) -> None:
        ast = entry["ast"]
        try:
            package = ref_segments(ast["package"]["refr"])
        except MetadataError:
            return
        ctx = _File(package=package, aliases={})
        for imp in ast.get("imports", []):
            try:
                ref = ref_segments(imp["refr"])
            except MetadataError:
                continue
            alias = ref[-1]
            span = imp.get("as")
            if isinstance(span, dict) and "start" in span:
                alias = source[span["start"]:span["end"]].decode("utf-8", "replace") or alias
            if ref[0] in ("data", "input"):
                ctx.aliases[alias] = ref
        for rule in ast.get("rules", []):
            name = _rule_name(rule)
            if name:
                self.rules.setdefault((package, name), []).append((ctx, rule))

    def rule_names(self, package: tuple[str, ...]) -> list[str]:
        return sorted({name for (pkg, name) in self.rules if pkg == package})

    def reads(self, package: tuple[str, ...], name: str) -> _Reads:
        key = (package, name)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = _Reads()  # a cycle reads nothing more
        acc = _Reads()
        for ctx, rule in self.rules.get(key, []):
            for chain in _chains(rule):
                if chain != (name,):  # (name,) alone is the rule's own head
                    self._resolve(ctx, chain, acc, own=key)
        self._memo[key] = acc
        return acc

    def _resolve(self, ctx: _File, chain: tuple[str, ...], acc: _Reads, *, own: tuple) -> None:
        root = chain[0]
        if root in ctx.aliases:
            chain = ctx.aliases[root] + chain[1:]
            root = chain[0]
        if root == "input":
            if len(chain) > 1:
                acc.inputs.add(chain[1:3])
            return
        if root == "data":
            path = chain[1:]
            for cut in range(len(path) - 1, 0, -1):
                pkg, name = tuple(path[:cut]), path[cut]
                if (pkg, name) in self.rules:
                    if pkg != ctx.package:
                        helper = ".".join((*pkg, name))
                        acc.helpers.add(helper)
                        if cut + 1 < len(path):
                            acc.members.add(f"{helper}.{path[cut + 1]}")
                    acc.merge(self.reads(pkg, name))
                    return
            return
        if (ctx.package, root) in self.rules and (ctx.package, root) != own:
            acc.merge(self.reads(ctx.package, root))


def _rule_name(rule: dict[str, Any]) -> str | None:
    if "Default" in rule:
        refr = rule["Default"]["refr"]
    elif "Spec" in rule:
        head = rule["Spec"]["head"]
        refr = next(iter(head.values()))["refr"]
    else:
        return None
    try:
        return ref_segments(refr)[0]
    except (MetadataError, KeyError, IndexError):
        return None


def _chains(node: Any) -> Iterator[tuple[str, ...]]:
    """Every maximal literal reference chain in an AST node (`input.facts.ci`, `util.pushing_ci`)."""
    if isinstance(node, list):
        for item in node:
            yield from _chains(item)
        return
    if not isinstance(node, dict):
        return
    if _is_ref(node):
        segs, rest, _cut = _chain(node)
        yield tuple(segs)
        for sub in rest:
            yield from _chains(sub)
        return
    for key, value in node.items():
        if key != "span":
            yield from _chains(value)


def _chain(node: dict[str, Any]) -> tuple[list[str], list[Any], bool]:
    """(literal segments from the root, sub-expressions to walk separately, whether a computed index cut it)."""
    kind, body = next(iter(node.items()))
    if kind == "Var":
        return [str(body["value"])], [], False
    inner = body["refr"]
    segs, rest, cut = _chain(inner) if _is_ref(inner) else ([], [inner], True)
    if kind == "RefDot":
        fld = body["field"]
        name = fld[1] if isinstance(fld, list) else fld
        return (segs if cut else [*segs, str(name)]), rest, cut
    index = body["index"]
    lit = next((index[k]["value"] for k in ("String", "RawString") if k in index), None)
    if lit is not None and not cut:
        return [*segs, str(lit)], rest, cut
    return segs, [*rest, index], True


def _is_ref(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("Var", "RefDot", "RefBrack")


# ====================================================================== what each file kind feeds


@dataclass(frozen=True)
class FileKind:
    """One kind of file and the `input.facts` keys `facts.py` fills from it."""

    name: str
    description: str
    matches: Callable[[str, str | None], bool]  # (path, current text or None)
    feeds: tuple[str, ...]
    build_input: bool = False


def _ci_systems(path: str, text: str | None) -> list[str]:
    return [p.system for p in parsers() if p.claims(path, text or "")]


def _is_yaml(path: str) -> bool:
    return path.lower().endswith((".yml", ".yaml"))


#: Every file kind, in the order they are reported. One line each; tests check them against facts.py.
FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("text", "every text file is scanned for secrets", lambda p, t: True, ("secrets",)),
    FileKind("ci", "a CI pipeline (parsed into steps: builds, pushes, scans, signing, cloud auth)",
             lambda p, t: bool(_ci_systems(p, t)), ("ci", "images", "auto_merge")),
    FileKind("dockerfile", "a container build file (base images); built into an image by CI",
             lambda p, t: is_dockerfile(p), ("images",), build_input=True),
    FileKind("yaml", "YAML: Kubernetes manifests, Helm values and templates, Kustomize, compose",
             lambda p, t: _is_yaml(p) and not _ci_systems(p, t) and p != PROFILE_PATH,
             ("k8s", "images", "credential_files")),
    FileKind("config", "a configuration file (plain-HTTP endpoints are checked)",
             lambda p, t: _is_config(p), ("insecure_urls",)),
    FileKind("credentials", "a credential file (key store, private key, registry or package auth)",
             lambda p, t: credential_kind(p, t if t is not None else CREDENTIAL_PROBE) is not None,
             ("credential_files",)),
    FileKind("auto_merge", "a bot configuration that can merge without a human (Renovate, Mergify, Kodiak)",
             lambda p, t: auto_merge_config(p, t if t is not None else AUTO_MERGE_PROBE) is not None,
             ("auto_merge",)),
    FileKind("profile", "the Environment Profile", lambda p, t: p == PROFILE_PATH, PROFILE_FACTS),
)


def file_fact_keys() -> frozenset[str]:
    """The fact keys files produce: what `facts.file_facts_for` returns, plus the Profile-file facts."""
    return frozenset(file_facts_for([])) | frozenset(PROFILE_FACTS)


@dataclass(frozen=True)
class PathInfo:
    path: str
    kinds: tuple[str, ...]
    feeds: tuple[str, ...]
    build_input: bool
    exists: bool
    ci_systems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "exists": self.exists, "kinds": list(self.kinds), "feeds": list(self.feeds),
                "build_input": self.build_input, "ci_systems": list(self.ci_systems)}


def classify_path(path: str, text: str | None = None) -> PathInfo:
    """The kinds of a file at `path` (its current text when it exists) and the fact keys it feeds."""
    kinds = [k for k in FILE_KINDS if k.matches(path, text)]
    feeds = list(dict.fromkeys(f for k in kinds for f in k.feeds))
    return PathInfo(
        path=path,
        kinds=tuple(k.name for k in kinds),
        feeds=tuple(feeds),
        build_input=any(k.build_input for k in kinds),
        exists=text is not None,
        ci_systems=tuple(_ci_systems(path, text)),
    )


# ====================================================================== rules x paths


@dataclass
class Applicable:
    """One rule that applies to the change, with the reasons."""

    meta: RuleMeta
    scope: str
    paths: list[str] = field(default_factory=list)
    because: list[str] = field(default_factory=list)


def applicable_rules(
    infos: Sequence[PathInfo], metas: Sequence[RuleMeta], reads: Mapping[str, RuleReads]
) -> tuple[list[Applicable], list[Applicable], list[Applicable]]:
    """(rules judging these files or their build, rules judging every change, rules judging the Profile)."""
    file_keys = file_fact_keys()
    by_files: list[Applicable] = []
    every: list[Applicable] = []
    profile: list[Applicable] = []
    for meta in metas:
        r = reads.get(meta.id)
        if r is None:
            continue
        wanted = r.fact_keys & file_keys
        hit: Applicable | None = None
        for info in infos:
            shared = sorted(wanted & set(info.feeds))
            if shared:
                hit = hit or Applicable(meta, SCOPE_FILES)
                hit.paths.append(info.path)
                hit.because.append(
                    f"{info.path} ({', '.join(k for k in info.kinds if k != 'text') or 'text'}) feeds "
                    f"{', '.join('input.facts.' + k for k in shared)}, which this rule reads")
            elif info.build_input and r.helpers & set(BUILD_HELPERS):
                hit = hit or Applicable(meta, SCOPE_BUILD)
                hit.paths.append(info.path)
                via = ", ".join(sorted(h.rsplit(".", 1)[-1] for h in r.helpers & set(BUILD_HELPERS)))
                hit.because.append(
                    f"{info.path} is built into an artifact by CI; this rule judges the pipeline that builds or "
                    f"pushes it ({via})")
        if hit is not None:
            by_files.append(hit)
            continue
        change_reads = sorted("input." + ".".join(p) for p in r.inputs if _is_change_read(p, file_keys))
        if wanted and not change_reads:
            continue  # the rule judges kinds of files this change does not touch
        if "profile" in r.roots and not change_reads:
            profile.append(Applicable(meta, SCOPE_PROFILE, because=["judges the Environment Profile (input.profile)"]))
        else:
            every.append(Applicable(meta, SCOPE_CHANGE, because=[
                "judges the change itself: reads " + (", ".join(change_reads) or "no file facts")]))
    return by_files, every, profile


def _is_change_read(p: tuple[str, ...], file_keys: frozenset[str]) -> bool:
    """An input the proposal or PR provides (not the Profile, not file facts; `proposal.kind` only selects)."""
    if p[:1] == ("facts",):
        return len(p) > 1 and p[1] not in file_keys
    return p[:1] in (("proposal",), ("pr",)) and p != ("proposal", "kind")
