"""Ticketing detector: Jira, ServiceNow, Linear, Azure Boards.

Teams show their tracker where changes are described: pull/merge request templates asking for an issue
key (`PAY-123`, an `atlassian.net/browse/` link, `AB#123`), commit conventions (`.gitmessage`,
commitlint `issuePrefixes`, CONTRIBUTING), and change-management steps in pipelines (ServiceNow DevOps
change actions and tasks). Jira project keys found become the entry's `project_keys` setting.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterator

from bot.discovery.base import Collector, Context, Detector, Rule, rule, scan
from bot.models import Finding

_T = "ticketing"
_DOCS = ("pr-template", "commit-convention")

RULES: tuple[Rule, ...] = (
    rule(_T, "jira", r"https?://[\w.-]+\.atlassian\.net/(?:browse|jira)/|\bjira\b", kinds=_DOCS, keyword=("jira", "atlassian"),
         confidence=0.85),
    rule(_T, "jira", r"atlassian/gajira|\bjira-(?:issue|ticket)\b|rohit-gohri/jira-ticket|JIRA_BASE_URL",
         kinds=("pipeline",), keyword=("jira",), confidence=0.75),
    rule(_T, "servicenow",
         r"ServiceNow/servicenow-devops-[a-z-]+|ServiceNow-DevOps-[A-Za-z-]+@\d|\bsnDevOps(?:Change|Step|Artifact)\b"
         r"|[\w-]+\.service-now\.com",
         kinds=("pipeline", *_DOCS), keyword=("servicenow", "service-now", "sndevops"), confidence=0.9),
    rule(_T, "linear", r"https?://linear\.app/|\blinear\.app\b", kinds=(*_DOCS, "pipeline"), keyword=("linear.app",),
         confidence=0.8),
    rule(_T, "azure-boards", r"\bAB#|/_workitems/", kinds=(*_DOCS, "pipeline"), keyword=("ab#", "_workitems"),
         confidence=0.85, flags=re.MULTILINE),
)

# Issue keys: `PAY-123`. Words that look like keys but are standards or encodings are not projects.
_KEY = re.compile(r"\b([A-Z][A-Z0-9]{1,9})-(?:\d+\b|[Xx]{2,}\b|#{2,}|N{3,}\b)")
_NOT_KEYS = frozenset(
    {"UTF", "ISO", "SHA", "CVE", "RFC", "TLS", "SSL", "HTTP", "HTTPS", "AES", "RSA", "MD", "PEP", "GHSA", "CWE",
     "OWASP", "COVID", "ES", "ECMA", "IEEE", "IEC", "UUID", "JSR", "KEP", "AB", "LIN", "SOC", "GDPR", "PCI", "CC",
     "PR", "MR", "V", "X", "AWS", "GCP"}
)
_PREFIXES = re.compile(r"issuePrefixes\s*:\s*\[([^\]]*)\]")


def detect(ctx: Context) -> Iterator[Finding]:
    c = Collector(_T)
    scan(ctx, RULES, c)
    keys: Counter[str] = Counter()
    first: dict[str, object] = {}
    for src in ctx.sources(*_DOCS):
        for m in _KEY.finditer(src.text):
            key = m.group(1)
            if key in _NOT_KEYS:
                continue
            keys[key] += 1
            first.setdefault(key, src.evidence_at(m.start()))
        pm = _PREFIXES.search(src.text)
        if pm:
            for prefix in re.findall(r"['\"]([A-Z][A-Z0-9]{1,9})-['\"]", pm.group(1)):
                keys[prefix] += 1
                first.setdefault(prefix, src.evidence_at(pm.start()))
    if keys and not (c.has(_T, "linear") and not c.has(_T, "jira")):
        ordered = sorted(keys, key=lambda k: (-keys[k], k))
        details = {"project_keys": " ".join(ordered)}
        confidence = 0.85 if c.has(_T, "jira") else 0.7
        for key in ordered:
            ev = first[key]
            c.add(_T, "jira", ev, confidence, details=details)  # type: ignore[arg-type]
    yield from c.findings()


DETECTOR = Detector(
    name="ticketing",
    kinds=frozenset({*_DOCS, "pipeline"}),
    detect=detect,
    categories=(_T,),
)
