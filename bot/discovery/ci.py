"""CI platform detector: GitHub Actions, GitLab CI, Azure Pipelines, Tekton, Jenkins.

A CI platform is known from where its pipeline files live (`.github/workflows/`, `.gitlab-ci.yml`,
`azure-pipelines.yml`, `Jenkinsfile`) or, for Tekton, from `tekton.dev` objects. Pipeline files cited as
evidence are parsed by the engine, so a broken pipeline is reported as `unparseable`.
"""

from __future__ import annotations

import re
from typing import Iterator

from bot.discovery.base import Collector, Context, Detector, k8s_documents
from bot.models import Finding

_GHA_ANCHOR = re.compile(r"^(?:on|\"on\"|'on'|jobs):", re.MULTILINE)
_GITLAB_ANCHOR = re.compile(r"^(?:stages|include|default|workflow|variables|[A-Za-z0-9_.-]+):", re.MULTILINE)
_AZURE_ANCHOR = re.compile(r"^(?:trigger|pr|pool|stages|jobs|steps|extends|resources):", re.MULTILINE)
_AZURE_TASK = re.compile(r"^\s*-\s*task:\s*\S+@\d+", re.MULTILINE)
_JENKINS_ANCHOR = re.compile(r"^\s*(?:pipeline\s*\{|node\s*(?:\(|\{)|@Library\()", re.MULTILINE)
_TEKTON_API = re.compile(r"^(?:triggers\.)?tekton\.dev/")


def detect(ctx: Context) -> Iterator[Finding]:
    """Pipeline files by location; Tekton by object kind."""
    c = Collector("ci")
    for src in ctx.sources("workflow"):
        c.add("ci", "github-actions", src.find_evidence(_GHA_ANCHOR), 0.95)
    for src in ctx.sources("gitlab-ci"):
        c.add("ci", "gitlab-ci", src.find_evidence(_GITLAB_ANCHOR), 0.95)
    for src in ctx.sources("azure-pipelines"):
        by_name = src.path.rsplit("/", 1)[-1].lower().startswith(("azure-pipelines", ".azure-pipelines"))
        if not by_name and not (_AZURE_TASK.search(src.text) or _AZURE_ANCHOR.search(src.text)):
            continue
        c.add("ci", "azure-pipelines", src.find_evidence(_AZURE_ANCHOR), 0.95 if by_name else 0.8)
    for src in ctx.sources("jenkinsfile"):
        c.add("ci", "jenkins", src.find_evidence(_JENKINS_ANCHOR), 0.95)
    for src in ctx.sources("yaml"):
        if "tekton.dev" not in src.text:
            continue
        for doc in k8s_documents(src):
            if _TEKTON_API.match(doc.api_version):
                c.add("ci", "tekton", src.evidence(doc.line), 0.95)
                break
    yield from c.findings()


DETECTOR = Detector(
    name="ci",
    kinds=frozenset({"workflow", "gitlab-ci", "azure-pipelines", "jenkinsfile", "yaml"}),
    detect=detect,
    categories=("ci",),
)
