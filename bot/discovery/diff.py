"""Profile diff: what discovery proposes to change in the Environment Profile, with evidence for each change.

Rules (DESIGN.md §2, issue #3):
- A tool seen now and absent from its category is an addition (`source: discovered`).
- A discovered entry whose cited files or settings changed is a change; line numbers drifting alone are
  not (that would open a Profile PR on every edit), but they are refreshed when the entry changes anyway.
- A discovered entry that no scanned repository shows any more is stale and removed by `apply()`; its
  evidence from repositories not scanned in this run is kept, and keeps the entry alive.
- Declared entries (`source: declared`) are never changed or removed; a declared tool is never re-added.
- Services: matched by (repo, path); discovered fields update, fields discovery cannot see are kept.
  A service of a scanned repo that is no longer seen is removed only if it carries evidence (discovery
  wrote it); hand-written services without evidence are kept, like declared tools.
The Profile is never edited in place: `apply()` returns a new Profile for a reviewed pull request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.catalog import CATEGORY_NAMES, display_name
from bot.discovery.base import UNPARSEABLE
from bot.discovery.engine import DiscoveryResult
from bot.models import Service
from bot.profile import Profile

MIN_CONFIDENCE = 0.5
MAX_PROFILE_EVIDENCE = 10
_NOT_SETTINGS = frozenset({"other_hosts"})
_SERVICE_FIELDS = ("language", "framework", "runtime_version", "port", "dockerfile", "chart")
_CATEGORY_TITLES = {
    "ci": "CI",
    "registry": "Registry",
    "image_scanning": "Image scanning",
    "sast_sca": "SAST/SCA",
    "secret_scanning": "Secret scanning",
    "sbom_signing": "SBOM/signing",
    "gitops": "GitOps",
    "mesh_ingress": "Mesh/ingress",
    "secrets_management": "Secrets management",
    "observability": "Observability",
    "ticketing": "Ticketing",
    "compliance_evidence": "Compliance evidence",
}


@dataclass(frozen=True)
class Cited:
    """One piece of evidence with the repository it was seen in: `owner/repo:path:line`."""

    repo: str
    path: str
    line: int
    snippet: str = ""

    def __str__(self) -> str:
        return f"{self.repo}:{self.path}:{self.line}"


@dataclass(frozen=True)
class ToolDiff:
    """One proposed change to a tooling entry."""

    category: str
    tool: str
    evidence: tuple[Cited, ...] = ()  # what discovery sees now
    settings: tuple[tuple[str, Any], ...] = ()  # the entry's settings after the change
    old_evidence: tuple[str, ...] = ()
    old_settings: tuple[tuple[str, Any], ...] = ()
    confidence: float = 0.0
    kept_evidence: tuple[str, ...] = ()  # citations from repositories not scanned in this run

    @property
    def evidence_strings(self) -> list[str]:
        out = list(dict.fromkeys([*self.kept_evidence, *(str(c) for c in self.evidence)]))
        return out[:MAX_PROFILE_EVIDENCE]


@dataclass(frozen=True)
class ServiceDiff:
    """One proposed change to `services:` ("add", "update" or "stale")."""

    action: str
    name: str
    repo: str
    path: str
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field, old, new)
    evidence: tuple[Cited, ...] = ()


@dataclass
class ProfileDiff:
    platform_repo: str
    scanned_repos: tuple[str, ...] = ()
    additions: list[ToolDiff] = field(default_factory=list)
    changes: list[ToolDiff] = field(default_factory=list)
    stale: list[ToolDiff] = field(default_factory=list)
    services: list[ServiceDiff] = field(default_factory=list)
    low_confidence: list[ToolDiff] = field(default_factory=list)  # seen but not proposed
    unparseable: list[tuple[str, Cited]] = field(default_factory=list)  # (format, where)

    @property
    def is_empty(self) -> bool:
        return not (self.additions or self.changes or self.stale or self.services)

    # ------------------------------------------------------------------ apply

    def apply(self, profile: Profile | None) -> Profile:
        """A new Profile with every change applied (the input is not modified)."""
        new = profile.copy() if profile is not None else Profile.new(self.platform_repo)
        doc = new.doc
        if doc.get("tooling") is None:
            doc["tooling"] = CommentedMap()
        tooling = doc["tooling"]
        for category in CATEGORY_NAMES:
            adds = [d for d in self.additions if d.category == category]
            changes = {d.tool: d for d in self.changes if d.category == category}
            stale = {d.tool for d in self.stale if d.category == category}
            if not (adds or changes or stale):
                continue
            seq = tooling.get(category)
            if seq is None:
                new.set_tools(category, [_entry(d) for d in adds])
                continue
            for i in range(len(seq) - 1, -1, -1):
                entry = seq[i]
                if entry.get("source") != "discovered":
                    continue
                tool = str(entry.get("tool"))
                if tool in stale:
                    del seq[i]
                    stale.discard(tool)
                elif tool in changes:
                    d = changes.pop(tool)
                    entry["evidence"] = CommentedSeq(d.evidence_strings)
                    if d.settings:
                        entry["settings"] = CommentedMap(d.settings)
            present = {str(e.get("tool")) for e in seq}
            for d in adds:
                if d.tool not in present:
                    seq.append(CommentedMap(_entry(d)))
            if not seq:
                new.set_tools(category, [])
        if self.services:
            services = doc.get("services")
            if services is None:
                services = doc["services"] = CommentedSeq()
            for sd in self.services:
                idx = next(
                    (i for i, s in enumerate(services) if s.get("repo") == sd.repo and s.get("path", ".") == sd.path),
                    None,
                )
                if sd.action == "stale" and idx is not None:
                    del services[idx]
                elif sd.action == "update" and idx is not None:
                    for name, _old, value in sd.fields:
                        services[idx][name] = CommentedSeq(value) if isinstance(value, list) else value
                elif sd.action == "add" and idx is None:
                    d: dict[str, Any] = {"name": sd.name, "repo": sd.repo, "path": sd.path}
                    d.update({k: v for k, _o, v in sd.fields if v is not None})
                    services.append(CommentedMap({k: CommentedSeq(v) if isinstance(v, list) else v for k, v in d.items()}))
        new.validate()
        return new

    # ------------------------------------------------------------------ Markdown

    def to_markdown(self) -> str:
        """The PR body section: every change with its evidence (`repo:path:line` and the line itself)."""
        out = ["### Environment Profile changes", ""]
        scanned = ", ".join(f"`{r}`" for r in self.scanned_repos) or "no repository"
        if self.is_empty:
            out.append(f"Discovery scanned {scanned}: the Profile already matches what it sees. No change.")
        else:
            out.append(
                f"Discovery scanned {scanned} and proposes {_n(len(self.additions), 'addition')}, "
                f"{_n(len(self.changes), 'change')}, {_n(len(self.stale), 'stale entry', 'stale entries')} "
                f"and {_n(len(self.services), 'service change')}. Entries marked `source: declared` are never touched."
            )
        if self.additions:
            out += ["", "#### Added"]
            for d in self.additions:
                out.append(f"- **{_title(d.category)}** · {_tool(d)}, confidence {d.confidence:.2f}")
                out += _evidence_lines(d.evidence)
                if d.settings:
                    out.append("  - settings: " + ", ".join(f"{k}={_code(str(v))}" for k, v in d.settings))
        if self.changes:
            out += ["", "#### Changed"]
            for d in self.changes:
                out.append(f"- **{_title(d.category)}** · {_tool(d)}")
                old_s, new_s = dict(d.old_settings), dict(d.settings)
                for k in sorted(set(old_s) | set(new_s)):
                    if old_s.get(k) != new_s.get(k):
                        out.append(f"  - setting {k}: {_code(str(old_s.get(k, '—')))} → {_code(str(new_s.get(k, '—')))}")
                old_files = sorted({_file_of(e) for e in d.old_evidence})
                new_files = sorted({_file_of(e) for e in d.evidence_strings})
                if old_files != new_files:
                    out.append(f"  - was cited from: {', '.join(_code(f) for f in old_files) or '—'}")
                out += _evidence_lines(d.evidence)
        if self.stale:
            out += ["", "#### Stale (removed: no scanned repository shows them any more)"]
            for d in self.stale:
                was = ", ".join(_code(e) for e in d.old_evidence[:5]) or "no evidence recorded"
                out.append(f"- **{_title(d.category)}** · {_tool(d)}; was seen at {was}")
        if self.services:
            out += ["", "#### Services"]
            for sd in self.services:
                where = f"`{sd.repo}` path `{sd.path}`"
                if sd.action == "add":
                    facts = ", ".join(f"{k} {_code(str(n))}" for k, _o, n in sd.fields if n is not None and k != "evidence")
                    out.append(f"- added **{sd.name}** ({where}): {facts}")
                elif sd.action == "update":
                    changes = "; ".join(
                        f"{k}: {_code(str(o))} → {_code(str(n))}" for k, o, n in sd.fields if k != "evidence"
                    ) or "evidence refreshed"
                    out.append(f"- updated **{sd.name}** ({where}): {changes}")
                else:
                    out.append(f"- stale **{sd.name}** ({where}): no longer seen; removed")
                out += _evidence_lines(sd.evidence)
        if self.low_confidence:
            out += ["", f"<details><summary>Seen but not proposed (confidence below {MIN_CONFIDENCE})</summary>", ""]
            for d in self.low_confidence:
                out.append(f"- **{_title(d.category)}** · {_tool(d)}, confidence {d.confidence:.2f}")
                out += _evidence_lines(d.evidence)
            out += ["", "</details>"]
        if self.unparseable:
            out += ["", "#### Files discovery could not parse (fix them or declare what they configure)"]
            for fmt, c in self.unparseable:
                out.append(f"- {fmt.upper()}: {_code(str(c))} {_code(c.snippet) if c.snippet else ''}".rstrip())
        return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- computing the diff


def profile_diff(
    profile: Profile | None,
    results: list[DiscoveryResult],
    *,
    platform_repo: str,
    min_confidence: float = MIN_CONFIDENCE,
) -> ProfileDiff:
    """Compare discovery results (one per repository) with the current Profile."""
    scanned = tuple(dict.fromkeys(r.repo for r in results))
    diff = ProfileDiff(platform_repo=profile.platform_repo if profile is not None else platform_repo,
                       scanned_repos=scanned)
    seen = _aggregate(results)
    for r in results:
        for f in r.findings:
            if f.category == UNPARSEABLE:
                for e in f.evidence:
                    diff.unparseable.append((f.tool, Cited(r.repo, e.path, e.line, e.snippet)))

    for category in CATEGORY_NAMES:
        existing = profile.tools(category) if profile is not None else []
        by_tool = {}
        for e in existing:
            by_tool.setdefault(e.tool, e)
        for (cat, tool), (evidence, settings, confidence) in seen.items():
            if cat != category:
                continue
            settings_t = tuple(sorted(settings.items()))
            if confidence < min_confidence:
                if tool not in by_tool:
                    diff.low_confidence.append(ToolDiff(cat, tool, evidence, settings_t, confidence=confidence))
                continue
            entry = by_tool.get(tool)
            if entry is None:
                diff.additions.append(ToolDiff(cat, tool, evidence, settings_t, confidence=confidence))
                continue
            if entry.source != "discovered":
                continue  # declared: never touched
            kept = tuple(e for e in entry.evidence if _repo_of(e) not in scanned)
            merged = {**entry.settings, **settings}
            proposed = ToolDiff(
                cat, tool, evidence, tuple(sorted(merged.items())), tuple(entry.evidence),
                tuple(sorted(entry.settings.items())), confidence, kept,
            )
            if {_file_of(e) for e in proposed.evidence_strings} != {_file_of(e) for e in entry.evidence} or (
                merged != entry.settings
            ):
                diff.changes.append(proposed)
        for entry in existing:
            if entry.source != "discovered" or (category, entry.tool) in _confident(seen, min_confidence):
                continue
            if entry.tool in {d.tool for d in diff.additions if d.category == category}:
                continue
            kept = tuple(e for e in entry.evidence if _repo_of(e) not in scanned)
            if len(kept) == len(entry.evidence) and entry.evidence:
                continue  # only cited from repositories this run did not scan
            if kept:
                diff.changes.append(
                    ToolDiff(category, entry.tool, (), tuple(sorted(entry.settings.items())), tuple(entry.evidence),
                             tuple(sorted(entry.settings.items())), 0.0, kept)
                )
            else:
                diff.stale.append(ToolDiff(category, entry.tool, (), (), tuple(entry.evidence)))
    diff.services = _service_diffs(profile, results, scanned)
    return diff


def _confident(seen: Mapping[tuple[str, str], Any], min_confidence: float) -> set[tuple[str, str]]:
    return {k for k, (_e, _s, c) in seen.items() if c >= min_confidence}


def _aggregate(results: Iterable[DiscoveryResult]) -> dict[tuple[str, str], tuple[tuple[Cited, ...], dict[str, Any], float]]:
    """(category, tool) -> (evidence across repos, settings, best confidence)."""
    out: dict[tuple[str, str], tuple[list[Cited], dict[str, Any], float]] = {}
    for r in results:
        for f in r.findings:
            if f.category not in CATEGORY_NAMES:
                continue
            ev, settings, conf = out.setdefault(f.key, ([], {}, 0.0))
            ev.extend(Cited(r.repo, e.path, e.line, e.snippet) for e in f.evidence)
            for k, v in f.details:
                if k not in _NOT_SETTINGS:
                    settings.setdefault(k, v)
            out[f.key] = (ev, settings, max(conf, f.confidence))
    return {k: (tuple(ev), s, c) for k, (ev, s, c) in out.items()}


def _service_diffs(profile: Profile | None, results: list[DiscoveryResult], scanned: tuple[str, ...]) -> list[ServiceDiff]:
    existing = profile.services() if profile is not None else []
    taken = {s.name for s in existing}
    matched: set[tuple[str, str]] = set()
    out: list[ServiceDiff] = []
    for r in results:
        for s in r.services:
            cited = tuple(Cited(r.repo, e.path, e.line, e.snippet) for e in s.evidence)
            evidence = [str(c) for c in cited][:MAX_PROFILE_EVIDENCE]
            old = next((o for o in existing if o.repo == s.repo and o.path == s.path), None)
            if old is None:
                name = _unique_name(s, taken)
                taken.add(name)
                fields = tuple((k, None, getattr(s, k)) for k in _SERVICE_FIELDS if getattr(s, k) is not None)
                out.append(ServiceDiff("add", name, s.repo, s.path, (*fields, ("evidence", None, evidence)), cited))
                matched.add((s.repo, s.path))
                continue
            matched.add((old.repo, old.path))
            changed = [
                (k, getattr(old, k), getattr(s, k))
                for k in _SERVICE_FIELDS
                if getattr(s, k) is not None and getattr(s, k) != getattr(old, k)
            ]
            if changed or {f"{c.repo}:{c.path}" for c in cited} != {_file_of(str(e)) for e in old.evidence}:
                changed.append(("evidence", [str(e) for e in old.evidence], evidence))
                out.append(ServiceDiff("update", old.name, old.repo, old.path, tuple(changed), cited))
    for o in existing:
        if o.repo in scanned and (o.repo, o.path) not in matched and o.evidence:
            out.append(ServiceDiff("stale", o.name, o.repo, o.path))
    return out


def _unique_name(s: Service, taken: set[str]) -> str:
    name = s.name
    if name in taken:
        name = re.sub(r"[^a-z0-9-]+", "-", f"{s.repo.rsplit('/', 1)[-1]}-{s.name}".lower()).strip("-")[:53].strip("-")
    base, i = name, 2
    while name in taken:
        name, i = f"{base[:50]}-{i}", i + 1
    return name


def _entry(d: ToolDiff) -> dict[str, Any]:
    entry: dict[str, Any] = {"tool": d.tool, "source": "discovered", "evidence": d.evidence_strings}
    if d.settings:
        entry["settings"] = dict(d.settings)
    return entry


def _repo_of(citation: str) -> str:
    return citation.split(":", 1)[0]


def _file_of(citation: str) -> str:
    """`owner/repo:path:line` -> `owner/repo:path` (line numbers drift; files do not)."""
    head, _, line = citation.rpartition(":")
    return head if head and line.isdigit() else citation


def _title(category: str) -> str:
    return _CATEGORY_TITLES.get(category, category)


def _tool(d: ToolDiff) -> str:
    return f"{display_name(d.category, d.tool)} (`{d.tool}`)"


def _code(text: str) -> str:
    """Inline code that a backtick in repository text cannot break out of."""
    text = text.replace("\n", " ").strip()
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text.replace('``', '` `')} ``"


def _evidence_lines(evidence: Iterable[Cited]) -> list[str]:
    return [f"  - {_code(str(c))} {_code(c.snippet) if c.snippet else ''}".rstrip() for c in evidence]


def _n(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
