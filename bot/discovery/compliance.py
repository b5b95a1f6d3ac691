"""Compliance evidence detector: Drata, Vanta, Hyperproof.

These platforms collect evidence through agents and integrations; in a repository they appear as agent
installs in Dockerfiles and manifests, API keys wired into pipelines, Terraform providers, or their own
config files. Evidence is thinner than for build tools, so confidence is moderate.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterator

from bot.discovery.base import Collector, Context, Detector, NameRule, Rule, rule, scan, scan_names
from bot.models import Finding

_C = "compliance_evidence"
_WHERE = ("pipeline", "yaml", "dockerfile", "terraform")

RULES: tuple[Rule, ...] = (
    rule(_C, "drata", r"\bdrata[-_]?agent\b|\bDRATA_[A-Z_]+\b|api\.drata\.com|drata/[\w-]+@", kinds=_WHERE,
         keyword="drata", confidence=0.8),
    rule(_C, "vanta", r"\bvanta[-_]?agent\b|\bVANTA_[A-Z_]+\b|api\.vanta\.com|vanta/[\w-]+@|provider\s+\"vanta\"",
         kinds=_WHERE, keyword="vanta", confidence=0.8),
    rule(_C, "hyperproof", r"\bhyperproof\b|\bHYPERPROOF_[A-Z_]+\b", kinds=_WHERE, keyword="hyperproof", confidence=0.75),
)

NAMES = MappingProxyType(
    {
        ".drata.yml": NameRule(_C, "drata", 0.85, "yaml"),
        ".vanta.yml": NameRule(_C, "vanta", 0.85, "yaml"),
    }
)


def detect(ctx: Context) -> Iterator[Finding]:
    c = Collector("compliance")
    scan(ctx, RULES, c)
    scan_names(ctx, NAMES, c, kinds=("tool-config",))
    yield from c.findings()


DETECTOR = Detector(
    name="compliance",
    kinds=frozenset({*_WHERE, "tool-config"}),
    detect=detect,
    categories=(_C,),
)
