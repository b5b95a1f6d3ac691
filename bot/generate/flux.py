"""Flux objects when the Profile's GitOps tool is Flux (artifact kind `argocd`, the GitOps slot).

`<gitops_path>/<service>/flux/source.yaml` is a GitRepository for the platform repo; one file per
environment holds a HelmRelease (chart from that repository, `values-<env>.yaml`) or a Kustomization
(the environment's overlay). Each cluster's Flux applies the file of its environment.
APIs: https://fluxcd.io/flux/components/source/gitrepositories/, .../helm/helmreleases/,
.../kustomize/kustomizations/
"""

from __future__ import annotations

from typing import Any

from bot.generate import k8s
from bot.generate.argocd import repo_url, source_path
from bot.generate.base import Context, GeneratedFile, Generator, Output, choice, dump_yaml, generated_by, join_path

ARTIFACT = "argocd"
TOOL = "flux"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"


def git_repository(ctx: Context, url: str, ns: str, branch: str) -> dict[str, Any]:
    return {"apiVersion": SOURCE_API, "kind": "GitRepository",
            "metadata": {"name": ctx.service.name, "namespace": ns},
            "spec": {"interval": "1m", "url": url, "ref": {"branch": branch}}}


def release(ctx: Context, env: str, ns: str) -> dict[str, Any]:
    svc = ctx.service.name
    source_ref = {"kind": "GitRepository", "name": svc, "namespace": ns}
    meta = {"name": f"{svc}-{env}", "namespace": ns}
    if ctx.profile.deploy_with == "kustomize":
        return {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "metadata": meta,
                "spec": {"interval": "5m", "path": f"./{source_path(ctx)}/{env}", "prune": True, "wait": True,
                         "timeout": "5m", "sourceRef": source_ref}}
    chart = source_path(ctx)
    return {"apiVersion": HELM_API, "kind": "HelmRelease", "metadata": meta,
            "spec": {"interval": "5m", "releaseName": svc, "targetNamespace": k8s.namespace(ctx, env),
                     "install": {"createNamespace": True, "remediation": {"retries": 3}},
                     "upgrade": {"remediation": {"retries": 3}},
                     "chart": {"spec": {"chart": f"./{chart}", "reconcileStrategy": "Revision", "sourceRef": source_ref,
                                        "valuesFiles": [f"{chart}/values.yaml", f"{chart}/values-{env}.yaml"]}}}}


def render(ctx: Context) -> Output:
    entry = ctx.first("gitops")
    assert entry is not None and entry.tool == TOOL
    url, gaps = repo_url(ctx, entry)
    ns = str(entry.settings.get("namespace", "flux-system"))
    branch = str(entry.settings.get("branch", "main"))
    base = join_path(ctx.gitops_path, ctx.service.name, "flux")
    comment = generated_by(ctx.profile, f"Flux for {ctx.service.name}.")
    files = []
    path = join_path(base, "source.yaml")
    files.append(GeneratedFile(path, dump_yaml(git_repository(ctx, url, ns, branch), comment=comment), ARTIFACT,
                               "platform", [choice(entry, path)]))
    for env in ctx.environments:
        path = join_path(base, f"{env}.yaml")
        files.append(GeneratedFile(path, dump_yaml(release(ctx, env, ns), comment=comment), ARTIFACT, "platform",
                                   [choice(entry, path)]))
    return Output(files, gaps)


def _selects(ctx: Context) -> bool:
    entry = ctx.first("gitops")
    return entry is not None and entry.tool == TOOL


GENERATOR = Generator(name="flux", artifact=ARTIFACT, selects=_selects, render=render,
                      doc="Flux GitRepository and HelmRelease / Kustomization")
