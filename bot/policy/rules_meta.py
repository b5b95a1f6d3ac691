"""What a Rego file declares, read from the engine's parsed AST and never by evaluating it.

Every rule file carries a `metadata := {...}` rule whose value must be a literal object (strings,
numbers, booleans, null, arrays and objects of those). This module turns that literal into a
`RuleMeta`, reads package paths segment by segment (DESIGN.md §7: `get_packages()` renders
`trustacks["overlay.lib"]` and `trustacks.overlay.lib` alike, the AST does not), and lists the rule
names and `test_*` rules each file defines. The bundle loader and the ratchet linter build on these
helpers; they only read JSON produced by `regorus.Engine.get_ast_as_json()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

#: severities in order of strictness (index = rank, higher is stricter)
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
REQUIRED_FIELDS: tuple[str, ...] = ("id", "title", "severity", "description", "remediation")
RULE_ID_RE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Za-z0-9.]+)+$")


class MetadataError(ValueError):
    """A rule file whose metadata or package cannot be read; the message names file:line:col."""


@dataclass(frozen=True)
class Requirement:
    """A tooling capability a rule needs: one Profile category, optionally limited to some tools."""

    category: str
    tools: tuple[str, ...] = ()
    #: what the requirement is for, shown in the gap report ("SBOM generation")
    purpose: str = ""


@dataclass(frozen=True)
class RuleMeta:
    """One rule's identity and documentation, as `rule list` / `rule show` and citations show it."""

    id: str
    title: str
    layer: str  # constitution | packs | overlay
    severity: str
    description: str
    remediation: str
    pack: str | None = None
    package: str = ""
    path: str = ""
    line: int = 0
    controls: tuple[str, ...] = ()
    requires: tuple[Requirement, ...] = ()
    #: "deny" when the rule only denies, "warn" when it only warns, "deny|warn" when it can do both
    effects: str = ""

    @property
    def layer_label(self) -> str:
        """`constitution`, `pack soc2` or `overlay`: how a citation names where a rule comes from."""
        return f"pack {self.pack}" if self.pack else self.layer

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "layer": self.layer,
            "pack": self.pack,
            "severity": self.severity,
            "description": self.description,
            "remediation": self.remediation,
            "controls": list(self.controls),
            "requires": [
                {"category": r.category, "tools": list(r.tools), "purpose": r.purpose} for r in self.requires
            ],
            "package": self.package,
            "path": self.path,
            "line": self.line,
        }


@dataclass(frozen=True)
class FileInfo:
    """The facts about one parsed policy file that the loader checks before it trusts the file."""

    path: str
    package: tuple[str, ...]
    rule_names: tuple[str, ...]
    test_names: tuple[str, ...]
    default_names: tuple[str, ...]
    metadata: dict[str, Any] | None
    metadata_line: int = 0
    #: rule heads whose reference has more than one segment (`a.b contains ...`), with their line
    dotted_heads: tuple[tuple[str, int], ...] = field(default=())


# --------------------------------------------------------------------------- references


def ref_segments(node: dict[str, Any]) -> tuple[str, ...]:
    """The segments of a reference node (`Var`, `RefDot`, `RefBrack` with a string index).

    Raises MetadataError for anything that is not a plain literal reference (e.g. `a[x]`).
    """
    if "Var" in node:
        return (str(node["Var"]["value"]),)
    if "RefDot" in node:
        inner = node["RefDot"]
        fld = inner["field"]
        name = fld[1] if isinstance(fld, list) else fld
        return (*ref_segments(inner["refr"]), str(name))
    if "RefBrack" in node:
        inner = node["RefBrack"]
        index = inner["index"]
        if "String" in index:
            return (*ref_segments(inner["refr"]), str(index["String"]["value"]))
        if "RawString" in index:
            return (*ref_segments(inner["refr"]), str(index["RawString"]["value"]))
        raise MetadataError(f"reference with a non-literal index at line {_line_of(index)}")
    raise MetadataError(f"unsupported reference node {next(iter(node), '?')}")


def _line_of(node: Any) -> int:
    if isinstance(node, dict):
        span = node.get("span")
        if isinstance(span, dict) and "line" in span:
            return int(span["line"])
        for value in node.values():
            line = _line_of(value)
            if line:
                return line
    return 0


# --------------------------------------------------------------------------- literals


def literal_value(node: dict[str, Any]) -> Any:
    """The Python value of a literal AST expression; MetadataError for anything computed."""
    if not isinstance(node, dict) or len(node) != 1:
        raise MetadataError("metadata must be a literal")
    kind, body = next(iter(node.items()))
    if kind in ("String", "RawString", "Number", "Bool"):
        return body["value"]
    if kind == "Null":
        return None
    if kind == "Array":
        return [literal_value(x) for x in body["items"]]
    if kind == "Object":
        out: dict[str, Any] = {}
        for entry in body["fields"]:
            _span, key, value = entry
            k = literal_value(key)
            if not isinstance(k, str):
                raise MetadataError(f"metadata keys must be strings (line {_line_of(key)})")
            out[k] = literal_value(value)
        return out
    raise MetadataError(f"metadata must be a literal, found {kind} at line {_line_of(body)}")


# --------------------------------------------------------------------------- files


def _rule_head(rule: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
    """(kind, reference node, assigned value node) of a rule, or None for an unknown shape."""
    if "Default" in rule:
        d = rule["Default"]
        return ("Default", d["refr"], d.get("value"))
    spec = rule.get("Spec")
    if not spec:
        return None
    head = spec["head"]
    kind, body = next(iter(head.items()))
    assign = body.get("assign") if isinstance(body, dict) else None
    value = assign.get("value") if isinstance(assign, dict) else None
    return (kind, body["refr"], value)


def file_info(entry: dict[str, Any]) -> FileInfo:
    """Summarise one element of `get_ast_as_json()` (one parsed file)."""
    path = str(entry["source"]["file"])
    ast = entry["ast"]
    try:
        package = ref_segments(ast["package"]["refr"])
    except MetadataError as exc:
        raise MetadataError(f"{path}: package: {exc}") from None
    rules: list[str] = []
    tests: list[str] = []
    defaults: list[str] = []
    dotted: list[tuple[str, int]] = []
    metadata = None
    metadata_line = 0
    for rule in ast.get("rules", []):
        head = _rule_head(rule)
        if head is None:
            continue
        kind, refr, value = head
        try:
            segs = ref_segments(refr)
        except MetadataError:
            segs = ()
            dotted.append(("<computed>", _line_of(rule)))
        if not segs:
            continue
        name = segs[0]
        if len(segs) > 1:
            dotted.append((".".join(segs), _line_of(rule)))
        if kind == "Default":
            defaults.append(name)
        if name not in rules:
            rules.append(name)
        if name.startswith("test_") and len(segs) == 1 and name not in tests:
            tests.append(name)
        if name == "metadata" and len(segs) == 1 and kind == "Compr":
            if metadata is not None:
                raise MetadataError(f"{path}:{_line_of(rule)}: metadata is defined twice")
            if value is None or rule["Spec"].get("bodies"):
                raise MetadataError(f"{path}:{_line_of(rule)}: metadata must be `metadata := {{...}}` with no body")
            try:
                metadata = literal_value(value)
            except MetadataError as exc:
                raise MetadataError(f"{path}:{_line_of(rule)}: {exc}") from None
            metadata_line = _line_of(rule)
    return FileInfo(
        path=path,
        package=package,
        rule_names=tuple(rules),
        test_names=tuple(tests),
        default_names=tuple(defaults),
        metadata=metadata,
        metadata_line=metadata_line,
        dotted_heads=tuple(dotted),
    )


def iter_file_infos(ast_json: list[dict[str, Any]]) -> Iterator[FileInfo]:
    for entry in ast_json:
        yield file_info(entry)


def rule_meta(info: FileInfo, *, layer: str, pack: str | None) -> RuleMeta:
    """Validate a file's metadata literal and build its RuleMeta."""
    md = info.metadata
    where = f"{info.path}:{info.metadata_line}"
    if not isinstance(md, dict):
        raise MetadataError(f"{info.path}: a rule file needs `metadata := {{...}}` with {', '.join(REQUIRED_FIELDS)}")
    missing = [k for k in REQUIRED_FIELDS if not isinstance(md.get(k), str) or not md.get(k)]
    if missing:
        raise MetadataError(f"{where}: metadata is missing {', '.join(missing)}")
    if not RULE_ID_RE.match(md["id"]):
        raise MetadataError(f"{where}: rule id {md['id']!r} is not like TS-PROC-001")
    if md["severity"] not in SEVERITIES:
        raise MetadataError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    controls = md.get("controls", [])
    if not isinstance(controls, list) or not all(isinstance(c, str) for c in controls):
        raise MetadataError(f"{where}: controls must be a list of strings")
    requires = []
    for req in md.get("requires", []) or []:
        if not isinstance(req, dict) or not isinstance(req.get("category"), str):
            raise MetadataError(f"{where}: each requires entry needs a category")
        tools = req.get("tools", [])
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise MetadataError(f"{where}: requires.tools must be a list of tool ids")
        requires.append(Requirement(category=req["category"], tools=tuple(tools), purpose=str(req.get("purpose", ""))))
    effects = "|".join(e for e in ("deny", "warn") if e in info.rule_names)
    return RuleMeta(
        id=md["id"],
        title=md["title"],
        layer=layer,
        severity=md["severity"],
        description=md["description"],
        remediation=md["remediation"],
        pack=pack,
        package=".".join(info.package),
        path=info.path,
        line=info.metadata_line,
        controls=tuple(controls),
        requires=tuple(requires),
        effects=effects,
    )


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0
