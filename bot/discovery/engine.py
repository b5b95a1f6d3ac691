"""Runs every registered detector over one file tree within a time budget: `discover()`.

The tree is listed once; every path is classified once by name (`base.classify`); only files some
detector declared interest in are ever read, each at most once. A detector that fails does not take the
others down: its failure is reported in `skipped`. YAML files cited as evidence are parsed, so a broken
file that still names a tool is reported as `unparseable` alongside the finding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from bot.discovery import ci, compliance, frameworks, gitops, mesh, observability, registry, sbom, scanners, secrets, ticketing
from bot.discovery.base import UNPARSEABLE, Context, Detector, TimeUp, classify, maybe_candidate, sort_findings
from bot.models import Evidence, Finding, Service
from bot.tree import FileTree

#: Every detector, in the order they run. One line per module; tests/discovery/test_registry.py checks it.
DETECTORS: tuple[Detector, ...] = (
    ci.DETECTOR,
    registry.DETECTOR,
    scanners.DETECTOR,
    sbom.DETECTOR,
    gitops.DETECTOR,
    mesh.DETECTOR,
    secrets.DETECTOR,
    observability.DETECTOR,
    ticketing.DETECTOR,
    compliance.DETECTOR,
    frameworks.DETECTOR,
)


@dataclass
class DiscoveryResult:
    """What discovery saw in one repository."""

    repo: str
    findings: list[Finding] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    files_listed: int = 0
    files_read: int = 0
    elapsed: float = 0.0
    complete: bool = True  # False when the time budget ran out


def candidate_paths(paths: Sequence[str], detectors: Sequence[Detector] = DETECTORS) -> dict[str, frozenset[str]]:
    """The files discovery may read (path -> kinds), decided from the paths alone."""
    wanted = frozenset().union(*(d.kinds for d in detectors))
    out: dict[str, frozenset[str]] = {}
    for p in paths:
        if not maybe_candidate(p):
            continue
        kinds = classify(p)
        if kinds and not kinds.isdisjoint(wanted):
            out[p] = kinds
    return out


def discover(
    tree: FileTree,
    *,
    repo: str,
    max_seconds: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
    detectors: Sequence[Detector] = DETECTORS,
) -> DiscoveryResult:
    """Detect the stack of one repository; never raises for what the repository contains."""
    start = time.monotonic()
    paths = tree.paths()
    kinds = candidate_paths(paths, detectors)
    ctx = Context(
        tree=tree, repo=repo, paths=paths, kinds=kinds, deadline=start + max_seconds, progress=progress, total=len(kinds)
    )
    findings: list[Finding] = []
    services: list[Service] = []
    complete = True
    for det in detectors:
        try:
            for item in det.detect(ctx):
                (services if isinstance(item, Service) else findings).append(item)
        except TimeUp:
            complete = False
            break
        except Exception as exc:  # a detector bug must not hide what the others found
            ctx.skipped.append((f"<detector:{det.name}>", f"detector failed: {type(exc).__name__}: {exc}"[:300]))
    if complete:
        try:
            for f in findings:
                for e in f.evidence:
                    if "yaml" in kinds.get(e.path, ()) and "/templates/" not in f"/{e.path}":
                        ctx.yaml(e.path)  # Helm templates are Go templates, not YAML: never judged
        except TimeUp:
            complete = False
    if not complete:
        ctx.skipped.append(("", f"time limit of {max_seconds:g}s reached: results are partial"))
    findings = _merge(findings)
    for fmt, evidence in sorted(ctx.problems.items()):
        ev = tuple(sorted(evidence, key=lambda e: e.path))
        findings.append(Finding(UNPARSEABLE, fmt, ev, 1.0, "parse"))
    if progress is not None:
        progress(len(kinds), len(kinds))
    return DiscoveryResult(
        repo=repo,
        findings=findings,
        services=services,
        skipped=sorted(set(ctx.skipped)),
        files_listed=len(paths),
        files_read=ctx.reads,
        elapsed=time.monotonic() - start,
        complete=complete,
    )


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per (category, tool) even if two detectors saw it."""
    merged: dict[tuple[str, str], Finding] = {}
    for f in findings:
        prev = merged.get(f.key)
        if prev is None:
            merged[f.key] = f
            continue
        ev: dict[tuple[str, int], Evidence] = {(e.path, e.line): e for e in prev.evidence}
        for e in f.evidence:
            ev.setdefault((e.path, e.line), e)
        details = dict(prev.details)
        for k, v in f.details:
            details.setdefault(k, v)
        merged[f.key] = Finding(
            prev.category, prev.tool, tuple(sorted(ev.values(), key=lambda e: (e.path, e.line))),
            max(prev.confidence, f.confidence), prev.detector, tuple(sorted(details.items())),
        )
    return sort_findings(merged.values())
