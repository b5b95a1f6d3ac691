"""Service mesh and ingress detector: Istio, Linkerd, NGINX Ingress, Traefik.

Read from Kubernetes manifests, Helm values and Kustomize overlays: mesh API groups
(`networking.istio.io`, `linkerd.io`, `traefik.io`), injection annotations and labels, and ingress
classes (`ingressClassName: nginx`, `kubernetes.io/ingress.class: traefik`).
"""

from __future__ import annotations

from typing import Iterator

from bot.discovery.base import Collector, Context, Detector, Rule, k8s_documents, rule, scan
from bot.models import Finding

_Y = ("yaml",)

RULES: tuple[Rule, ...] = (
    rule("mesh_ingress", "istio", r"sidecar\.istio\.io/inject|istio-injection:\s*['\"]?enabled", kinds=_Y,
         keyword="istio", confidence=0.9),
    rule("mesh_ingress", "linkerd", r"linkerd\.io/inject:\s*['\"]?(?:enabled|ingress)", kinds=_Y, keyword="linkerd.io",
         confidence=0.9),
    rule("mesh_ingress", "nginx",
         r"(?:ingressClassName|className|kubernetes\.io/ingress\.class)\s*:\s*['\"]?nginx\b|nginx\.ingress\.kubernetes\.io/",
         kinds=_Y, keyword="nginx", confidence=0.85),
    rule("mesh_ingress", "traefik",
         r"(?:ingressClassName|className|kubernetes\.io/ingress\.class)\s*:\s*['\"]?traefik\b|traefik\.ingress\.kubernetes\.io/",
         kinds=_Y, keyword="traefik", confidence=0.85),
)

_API_GROUPS = (
    ("istio.io/", "istio"),
    ("linkerd.io/", "linkerd"),
    ("traefik.io/", "traefik"),
    ("traefik.containo.us/", "traefik"),
)


def detect(ctx: Context) -> Iterator[Finding]:
    c = Collector("mesh")
    scan(ctx, RULES, c)
    for src in ctx.sources("yaml"):
        text = src.text
        if "istio.io/" not in text and "linkerd.io/" not in text and "traefik." not in text:
            continue
        for doc in k8s_documents(src):
            for group, tool in _API_GROUPS:
                if group in doc.api_version:
                    c.add("mesh_ingress", tool, src.evidence(doc.line), 0.95)
    yield from c.findings()


DETECTOR = Detector(
    name="mesh",
    kinds=frozenset({"yaml"}),
    detect=detect,
    categories=("mesh_ingress",),
)
