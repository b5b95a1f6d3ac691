"""Container registry detector: ECR, ACR, Quay, Harbor, Artifactory, GHCR, Docker Hub, GAR.

The registry is read from image references (Dockerfile `FROM`, `image:` in manifests and compose files,
Helm `repository:`, Kustomize `newName:`, tags pushed by CI), from registry settings in pipelines
(`registry: ghcr.io`, `ECR_REGISTRY: ...`) and from login steps (`aws-actions/amazon-ecr-login`,
`az acr login`). The host goes into the finding's details so the Profile entry can carry it.
Public base images (`FROM python:3.12`, `FROM ghcr.io/vendor/x`) say where a team pulls from, not where
it pushes, so `FROM` counts only for hosts that are private by nature.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

from bot.discovery.base import MAX_EVIDENCE, Collector, Context, Detector, Evidence, Rule, Source, rule, scan
from bot.models import Finding

_ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_PUBLIC_HOSTS = frozenset(
    {"quay.io", "ghcr.io", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com",
     "public.ecr.aws", "gcr.io", "mirror.gcr.io"}
)
_DOCKERHUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})

_KEYWORDS = (".dkr.ecr.", "azurecr.", "pkg.dev", "gcr.io", "quay", "ghcr.io", "docker.io", "docker.com",
             "jfrog", "artifactory", "harbor", "public.ecr.aws")

_REF = re.compile(
    r"(?<![\w.@/-])(?:(?:docker|oci)://)?"
    r"(?P<host>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]+(?::\d{2,5})?)"
    r"(?:/(?P<path>[a-z0-9_${][\w.${}/-]*))?",
    re.IGNORECASE,
)
_REGISTRY_KEY = re.compile(
    r"(?i)^\s*-?\s*['\"]?(?:[A-Za-z0-9_-]*registry[A-Za-z0-9_-]*|login-server|loginServer|registry_host)['\"]?"
    r"\s*[:=]\s*['\"]?(?P<value>[^\s'\"#]+)",
    re.MULTILINE,
)
_IMAGE_KEY = re.compile(r"(?i)^\s*-?\s*(?:image|repository|newName|tags?)\s*:")
_FROM = re.compile(r"(?i)^\s*FROM\s")
_JOB_IMAGE = re.compile(r"(?i)^\s*-?\s*(?:image|name)\s*:")

_ALL = ("dockerfile", "yaml", "jenkinsfile", "pipeline", "terraform")
_PIPE = ("pipeline", "jenkinsfile")

RULES: tuple[Rule, ...] = (
    rule("registry", "ecr", r"aws-actions/amazon-ecr-login", kinds=_PIPE, confidence=0.9),
    rule("registry", "ecr", r"\baws\s+ecr\s+get-login", kinds=_PIPE, keyword="ecr", confidence=0.9),
    rule("registry", "acr", r"azure/docker-login|\baz\s+acr\s+(?:login|build)", kinds=_PIPE, keyword="az", confidence=0.85),
    rule("registry", "artifactory", r"\bjf(?:rog)?\s+(?:rt\s+)?docker[- ]push|jfrog/setup-jfrog-cli",
         kinds=_PIPE, keyword="jf", confidence=0.85),
    rule("registry", "dockerhub", r"\$\{\{\s*secrets\.DOCKER_?HUB_[A-Z_]+\s*\}\}", kinds=_PIPE, keyword="docker",
         confidence=0.8),
    rule("registry", "ecr", r"resource\s+\"aws_ecr_repository\"", kinds=("terraform",), confidence=0.7),
    rule("registry", "acr", r"resource\s+\"azurerm_container_registry\"", kinds=("terraform",), confidence=0.7),
    rule("registry", "gar", r"resource\s+\"google_artifact_registry_repository\"", kinds=("terraform",), confidence=0.7),
    rule("registry", "harbor", r"resource\s+\"harbor_project\"", kinds=("terraform",), confidence=0.7),
)


def registry_tool(host: str) -> str | None:
    """Which catalog registry a host belongs to, or None for hosts we cannot name."""
    host = host.lower().split(":", 1)[0]
    if _ECR_HOST.match(host) or host == "public.ecr.aws":
        return "ecr"
    if host.endswith((".azurecr.io", ".azurecr.cn", ".azurecr.us")):
        return "acr"
    if host.endswith("-docker.pkg.dev") or host == "gcr.io" or host.endswith(".gcr.io"):
        return "gar"
    if host == "quay.io" or host.startswith("quay."):
        return "quay"
    if host == "ghcr.io":
        return "ghcr"
    if host in _DOCKERHUB_HOSTS:
        return "dockerhub"
    if host.endswith(".jfrog.io") or "artifactory" in host:
        return "artifactory"
    if "harbor" in host.split(".")[0] or ".harbor." in host:
        return "harbor"
    return None


@dataclass(frozen=True)
class _Ref:
    tool: str
    host: str
    path: str | None
    evidence: Evidence | None  # None once a tool has enough citations (the host still counts)
    confidence: float
    base_image: bool = False  # a FROM line: its namespace is the base image's, not the team's


def _details(tool: str, host: str, path: str | None) -> dict[str, str]:
    d = {"host": host}
    parts = [p for p in (path or "").split("/") if p and "$" not in p and "{" not in p]
    m = _ECR_HOST.match(host)
    if m:
        d["region"] = m.group(1)
    if tool == "gar" and host.endswith("-docker.pkg.dev"):
        d["location"] = host[: -len("-docker.pkg.dev")]
        if parts:
            d["project"] = parts[0]
        if len(parts) >= 3:
            d["repository"] = parts[1]
    elif len(parts) >= 2:
        d["namespace"] = parts[0]
    return d


def _candidate_lines(src: Source) -> list[tuple[int, str]]:
    """(line number, text) of the lines naming a registry host: the only ones worth a full regex."""
    lower, text = src.lower, src.text
    starts: set[int] = set()
    for k in _KEYWORDS:
        i = lower.find(k)
        while i != -1:
            starts.add(text.rfind("\n", 0, i) + 1)
            i = lower.find(k, i + len(k))
    out = []
    for start in sorted(starts):
        end = text.find("\n", start)
        line_text = text[start : end if end != -1 else len(text)]
        if not line_text.lstrip().startswith(("#", "//")):
            out.append((text.count("\n", 0, start) + 1, line_text))
    return out


def _refs_in(src: Source, owner: str, cited: dict[str, int]) -> Iterator[_Ref]:
    is_pipeline = not src.kinds.isdisjoint(_PIPE)
    is_dockerfile = "dockerfile" in src.kinds
    seen: set[tuple[str, int]] = set()
    for line, line_text in _candidate_lines(src):
        for m in _REF.finditer(line_text):
            host = m.group("host").lower()
            tool = registry_tool(host)
            if tool is None:
                continue
            if line_text[max(0, m.start() - 8) : m.start()].lower().endswith(("http://", "https://")):
                continue
            if (tool, line) in seen:
                continue
            path = m.group("path")
            if not path and not _REGISTRY_KEY.match(line_text) and "login" not in line_text.lower():
                continue  # a bare host in prose is not a reference
            if _FROM.match(line_text):
                if not is_dockerfile or host in _PUBLIC_HOSTS:
                    continue
                confidence = 0.6
            elif is_pipeline:
                confidence = 0.85
            elif _IMAGE_KEY.match(line_text) or _REGISTRY_KEY.match(line_text):
                confidence = 0.8
            else:
                confidence = 0.6
            details = _details(tool, host, path)
            own = bool(owner) and details.get("namespace", "").lower() == owner
            if host in _PUBLIC_HOSTS and not own and is_pipeline and _JOB_IMAGE.match(line_text):
                continue  # a public tool image a CI job runs in, not where the team pushes
            if own:
                confidence = max(confidence, 0.9)
            seen.add((tool, line))
            enough = cited.get(tool, 0) >= MAX_EVIDENCE
            cited[tool] = cited.get(tool, 0) + 1
            yield _Ref(tool, host, path, None if enough else src.evidence(line), confidence, bool(_FROM.match(line_text)))


def detect(ctx: Context) -> Iterator[Finding]:
    """Image references and registry logins, grouped by registry; the most used host wins the details."""
    owner = ctx.repo.split("/", 1)[0].lower()
    c = Collector("registry")
    scan(ctx, RULES, c)
    per_tool: dict[str, list[_Ref]] = defaultdict(list)
    cited: dict[str, int] = {}
    for src in ctx.sources(*_ALL):
        for ref in _refs_in(src, owner, cited):
            per_tool[ref.tool].append(ref)
    for tool, refs in per_tool.items():
        weight: dict[str, float] = defaultdict(float)
        for r in refs:
            weight[r.host] += r.confidence
        first_seen = {r.host: i for i, r in reversed(list(enumerate(refs)))}
        host = max(weight, key=lambda h: (weight[h], -first_seen[h]))
        ranked = sorted((r for r in refs if r.host == host and r.path and not r.base_image), key=lambda r: -r.confidence)
        with_ns = [r for r in ranked if len(_details(tool, host, r.path)) > len(_details(tool, host, None))]
        sample = (with_ns or ranked or [None])[0]
        details = _details(tool, host, sample.path if sample else None)
        others = sorted(h for h in weight if h != host)
        if others:
            details["other_hosts"] = " ".join(others)
        for r in refs:
            c.add("registry", tool, r.evidence, r.confidence, details=details)
    yield from c.findings()


DETECTOR = Detector(
    name="registry",
    kinds=frozenset(_ALL),
    detect=detect,
    categories=("registry",),
)
