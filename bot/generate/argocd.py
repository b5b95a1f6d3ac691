"""Argo CD Application (one environment) or ApplicationSet (several) pointing at the platform repo.

Written to `<gitops_path>/<service>/argocd/`. The source is the service's chart (with `values-<env>.yaml`)
or its Kustomize overlay, in the platform repo; each environment gets its own namespace and, optionally,
its own cluster (`settings.server_<env>` on the gitops entry). Sync is automated with prune and
self-heal: a merged pull request is the deployment, and drift is reverted.
API: https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/
"""

from __future__ import annotations

from typing import Any

from bot.generate import k8s
from bot.generate.base import Context, Gap, GeneratedFile, Generator, Output, choice, dump_yaml, generated_by, join_path
from bot.profile import ToolEntry

ARTIFACT = "argocd"
TOOL = "argocd"
API = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"


def repo_url(ctx: Context, entry: ToolEntry) -> tuple[str, list[Gap]]:
    """The platform repo's clone URL: `settings.repo_url`, else the forge inferred from the CI platform."""
    url = entry.settings.get("repo_url")
    if url:
        return str(url), []
    host = "gitlab.com" if ctx.ci_tool == "gitlab-ci" else "github.com"
    guessed = f"https://{host}/{ctx.profile.platform_repo}.git"
    return guessed, [Gap("gitops", f"{entry.ref}: settings.repo_url is not set; the {entry.tool} source assumes "
                         f"{guessed}; set it to the platform repo's clone URL", ARTIFACT)]


def source_path(ctx: Context) -> str:
    if ctx.profile.deploy_with == "kustomize":
        return join_path(ctx.gitops_path, ctx.service.name, "overlays")
    return join_path(ctx.gitops_path, ctx.service.name, "chart")


def server(entry: ToolEntry, env: str) -> str:
    return str(entry.settings.get(f"server_{env}") or entry.settings.get("server") or IN_CLUSTER)


def _source(ctx: Context, url: str, env: str) -> dict[str, Any]:
    src: dict[str, Any] = {"repoURL": url, "targetRevision": "HEAD"}
    if ctx.profile.deploy_with == "kustomize":
        src["path"] = f"{source_path(ctx)}/{env}"
    else:
        src["path"] = source_path(ctx)
        src["helm"] = {"releaseName": ctx.service.name, "valueFiles": ["values.yaml", f"values-{env}.yaml"]}
    return src


def _sync() -> dict[str, Any]:
    return {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["CreateNamespace=true"]}


def application(ctx: Context, entry: ToolEntry, url: str) -> dict[str, Any]:
    env = ctx.environments[0]
    svc = ctx.service.name
    return {
        "apiVersion": API, "kind": "Application",
        "metadata": {"name": svc, "namespace": str(entry.settings.get("namespace", "argocd")),
                     "labels": {"app.kubernetes.io/name": svc, "app.kubernetes.io/managed-by": "trustacks"},
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {"project": str(entry.settings.get("project", "default")), "source": _source(ctx, url, env),
                 "destination": {"server": server(entry, env), "namespace": k8s.namespace(ctx, env)},
                 "syncPolicy": _sync()},
    }


def application_set(ctx: Context, entry: ToolEntry, url: str) -> dict[str, Any]:
    svc = ctx.service.name
    elements = [{"env": env, "namespace": k8s.namespace(ctx, env), "server": server(entry, env)}
                for env in ctx.environments]
    source = _source(ctx, url, "{{.env}}")
    return {
        "apiVersion": API, "kind": "ApplicationSet",
        "metadata": {"name": svc, "namespace": str(entry.settings.get("namespace", "argocd")),
                     "labels": {"app.kubernetes.io/name": svc, "app.kubernetes.io/managed-by": "trustacks"}},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {"name": svc + "-{{.env}}",
                             "labels": {"app.kubernetes.io/name": svc, "app.kubernetes.io/managed-by": "trustacks",
                                        "trustacks.dev/environment": "{{.env}}"},
                             "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
                "spec": {"project": str(entry.settings.get("project", "default")), "source": source,
                         "destination": {"server": "{{.server}}", "namespace": "{{.namespace}}"},
                         "syncPolicy": _sync()},
            },
        },
    }


def render(ctx: Context) -> Output:
    entry = ctx.first("gitops")
    assert entry is not None and entry.tool == TOOL
    url, gaps = repo_url(ctx, entry)
    base = join_path(ctx.gitops_path, ctx.service.name, "argocd")
    if len(ctx.environments) == 1:
        path, obj, what = join_path(base, "application.yaml"), application(ctx, entry, url), "Argo CD Application"
    else:
        path, obj = join_path(base, "applicationset.yaml"), application_set(ctx, entry, url)
        what = f"Argo CD ApplicationSet: one Application per environment ({', '.join(ctx.environments)})"
    text = dump_yaml(obj, comment=generated_by(ctx.profile, f"{what} for {ctx.service.name}."))
    return Output([GeneratedFile(path, text, ARTIFACT, "platform", [choice(entry, path)])], gaps)


def _selects(ctx: Context) -> bool:
    entry = ctx.first("gitops")
    return entry is not None and entry.tool == TOOL


GENERATOR = Generator(name="argocd", artifact=ARTIFACT, selects=_selects, render=render,
                      doc="Argo CD Application / ApplicationSet")
