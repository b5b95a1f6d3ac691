"""SBOM and signing detector: Syft, Cosign, Sigstore, in-toto / SLSA provenance.

These tools run in release pipelines: actions (`anchore/sbom-action`, `sigstore/cosign-installer`,
`slsa-framework/slsa-github-generator`), CLI calls (`syft`, `cosign sign`), GoReleaser `sboms:`/`signs:`
sections, and a committed `cosign.pub` verification key.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterator

from bot.discovery.base import Collector, Context, Detector, NameRule, Rule, rule, scan, scan_names
from bot.models import Finding

_PIPE = ("pipeline",)

RULES: tuple[Rule, ...] = (
    rule("sbom_signing", "syft", r"anchore/sbom-action|\bsyft[ \t]+(?:packages[ \t]+|scan[ \t]+)?[\w.:/${}\"'-]+", kinds=_PIPE,
         keyword=("syft", "sbom-action"), confidence=0.9),
    rule("sbom_signing", "syft", r"^sboms:", kinds=_PIPE, keyword="sboms", confidence=0.8),
    rule("sbom_signing", "cosign",
         r"sigstore/cosign-installer|\bcosign\s+(?:sign|attest|verify|sign-blob|generate-key-pair)\b",
         kinds=_PIPE, keyword="cosign", confidence=0.95),
    rule("sbom_signing", "sigstore",
         r"sigstore/gh-action-sigstore-python|\bsigstore\s+sign\b|\bgitsign\b|actions/attest(?:-build-provenance|-sbom)?@",
         kinds=_PIPE, keyword=("sigstore", "gitsign", "actions/attest"), confidence=0.85),
    rule("sbom_signing", "in-toto",
         r"slsa-framework/slsa-github-generator|\bin-toto-run\b|\bwitness\s+run\b|actions/attest-build-provenance"
         r"|^\s*provenance:\s*(?:true|mode=max)",
         kinds=_PIPE, keyword=("slsa", "in-toto", "witness", "attest-build-provenance", "provenance"), confidence=0.85),
)

NAMES = MappingProxyType({"cosign.pub": NameRule("sbom_signing", "cosign", 0.85)})


def detect(ctx: Context) -> Iterator[Finding]:
    c = Collector("sbom")
    scan(ctx, RULES, c)
    scan_names(ctx, NAMES, c, kinds=("tool-config",))
    yield from c.findings()


DETECTOR = Detector(
    name="sbom",
    kinds=frozenset({"pipeline", "tool-config"}),
    detect=detect,
    categories=("sbom_signing",),
)
