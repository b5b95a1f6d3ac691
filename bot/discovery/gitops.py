"""GitOps detector: Argo CD (Application, ApplicationSet, AppProject) and Flux (toolkit.fluxcd.io objects).

Objects are found by their top-level `apiVersion`/`kind`; files holding them are parsed so the Argo CD
namespace and project (or the Flux namespace) can be carried into the Profile entry's settings.
CI steps that sync (`argocd app sync`, `flux reconcile`) count as weaker evidence.
"""

from __future__ import annotations

from typing import Any, Iterator

from bot.discovery.base import Collector, Context, Detector, Rule, k8s_documents, rule, scan
from bot.models import Finding

_ARGO_KINDS = frozenset({"Application", "ApplicationSet", "AppProject"})

RULES: tuple[Rule, ...] = (
    rule("gitops", "argocd", r"\bargocd\s+(?:app|login|proj)\b|argoproj-labs/argocd", kinds=("pipeline",),
         keyword="argocd", confidence=0.8),
    rule("gitops", "argocd", r"argocd\.argoproj\.io/", kinds=("yaml",), keyword="argocd.argoproj.io", confidence=0.75),
    rule("gitops", "flux", r"\bflux\s+(?:reconcile|bootstrap|create)\b|fluxcd/flux2/action", kinds=("pipeline",),
         keyword="flux", confidence=0.8),
)


def _meta(docs: list[Any] | None, kind: str) -> dict[str, str]:
    """Namespace (and Argo CD project) of the first parsed object of this kind."""
    for d in docs or []:
        if isinstance(d, dict) and d.get("kind") == kind:
            out: dict[str, str] = {}
            meta = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
            if isinstance(meta.get("namespace"), str):
                out["namespace"] = meta["namespace"]
            spec = d.get("spec") if isinstance(d.get("spec"), dict) else {}
            if kind == "Application" and isinstance(spec.get("project"), str):
                out["project"] = spec["project"]
            return out
    return {}


def detect(ctx: Context) -> Iterator[Finding]:
    c = Collector("gitops")
    scan(ctx, RULES, c)
    for src in ctx.sources("yaml"):
        text = src.text
        if "argoproj.io" not in text and "fluxcd.io" not in text:
            continue
        for doc in k8s_documents(src):
            api = doc.api_version
            if api.startswith("argoproj.io/") and doc.kind in _ARGO_KINDS:
                details = _meta(ctx.yaml(src.path), doc.kind)
                c.add("gitops", "argocd", src.evidence(doc.line), 0.95, details=details)
            elif ".toolkit.fluxcd.io/" in api:
                details = _meta(ctx.yaml(src.path), doc.kind)
                c.add("gitops", "flux", src.evidence(doc.line), 0.95, details=details)
    for path in ctx.files("yaml"):
        if path.endswith("flux-system/gotk-components.yaml") or path.endswith("flux-system/gotk-sync.yaml"):
            src = ctx.source(path)
            if src is not None:
                c.add("gitops", "flux", src.evidence(1), 0.95)
    yield from c.findings()


DETECTOR = Detector(
    name="gitops",
    kinds=frozenset({"yaml", "pipeline"}),
    detect=detect,
    categories=("gitops",),
)
