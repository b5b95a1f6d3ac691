"""Kustomize base and one overlay per environment (`<gitops_path>/<service>/base|overlays/<env>/`).

Chosen when `platform.deploy_with: kustomize`. The base is exactly the objects the Helm chart renders
from the same values (k8s.objects), one file per object; each overlay sets the namespace, the image tag,
the replica count or an HPA, and the environment's host, with `images`, `replicas` and JSON 6902 patches.
Reference: https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/
"""

from __future__ import annotations

from typing import Any

from bot.generate import k8s
from bot.generate.base import Context, GeneratedFile, Generator, Output, dump_yaml, generated_by, join_path

ARTIFACT = "kustomize"
API = "kustomize.config.k8s.io/v1beta1"
FILE_NAMES = {
    "Deployment": "deployment.yaml",
    "Service": "service.yaml",
    "ServiceAccount": "serviceaccount.yaml",
    "NetworkPolicy": "networkpolicy.yaml",
    "Ingress": "ingress.yaml",
    "VirtualService": "virtualservice.yaml",
    "HorizontalPodAutoscaler": "hpa.yaml",
}


def release(ctx: Context) -> k8s.Release:
    return k8s.Release(chart=ctx.service.name, name=ctx.service.name, managed_by="kustomize", helm=False)


def base_dir(ctx: Context) -> str:
    return join_path(ctx.gitops_path, ctx.service.name, "base")


def overlay_dir(ctx: Context, env: str) -> str:
    return join_path(ctx.gitops_path, ctx.service.name, "overlays", env)


def _patch(ops: list[dict[str, Any]]) -> str:
    return dump_yaml(ops).rstrip("\n") + "\n"


def overlay(ctx: Context, wl: k8s.Workload, env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(kustomization, extra objects local to the overlay) for one environment."""
    name = ctx.service.name
    over = k8s.env_overrides(wl, env, ctx)
    kz: dict[str, Any] = {"apiVersion": API, "kind": "Kustomization", "namespace": k8s.namespace(ctx, env),
                          "resources": ["../../base"]}
    extra: list[dict[str, Any]] = []
    kz["images"] = [{"name": wl.values["image"]["repository"], "newTag": k8s.APP_VERSION}]
    patches: list[dict[str, Any]] = []
    if over["autoscaling"]["enabled"]:
        env_values = k8s.merged(wl.values, over)
        hpa = next(o for o in k8s.objects(env_values, release(ctx)) if o["kind"] == "HorizontalPodAutoscaler")
        extra.append(hpa)
        kz["resources"].append(FILE_NAMES["HorizontalPodAutoscaler"])
        patches.append({"target": {"kind": "Deployment", "name": name},
                        "patch": _patch([{"op": "remove", "path": "/spec/replicas"}])})
    else:
        kz["replicas"] = [{"name": name, "count": over["replicaCount"]}]
    if "ingress" in over:
        host = over["ingress"]["host"]
        ops = [{"op": "replace", "path": "/spec/rules/0/host", "value": host}]
        if wl.values["ingress"]["tls"]:
            ops.append({"op": "replace", "path": "/spec/tls/0/hosts/0", "value": host})
        patches.append({"target": {"kind": "Ingress", "name": name}, "patch": _patch(ops)})
    if "virtualService" in over:
        patches.append({"target": {"kind": "VirtualService", "name": name},
                        "patch": _patch([{"op": "replace", "path": "/spec/hosts/0", "value": over["virtualService"]["host"]}])})
    if patches:
        kz["patches"] = patches
    return kz, extra


def render(ctx: Context) -> Output:
    wl = k8s.values(ctx, artifact=ARTIFACT)
    svc = ctx.service.name
    comment = generated_by(ctx.profile, f"Kustomize for {svc}.")
    files: list[GeneratedFile] = []

    def add(path: str, obj: Any, kinds: tuple[str, ...] = ()) -> None:
        files.append(GeneratedFile(path, dump_yaml(obj, comment=comment), ARTIFACT, "platform",
                                   wl.tool_choices(path, kinds=kinds)))

    objs = k8s.objects(wl.values, release(ctx))
    names = []
    for obj in objs:
        fname = FILE_NAMES[obj["kind"]]
        names.append(fname)
        kinds = {"Ingress": ("ingress", "values"), "VirtualService": ("virtualservice",),
                 "Deployment": ("values",)}.get(obj["kind"], ())
        add(join_path(base_dir(ctx), fname), obj, kinds)
    add(join_path(base_dir(ctx), "kustomization.yaml"), {"apiVersion": API, "kind": "Kustomization",
                                                         "resources": names})
    for env in ctx.environments:
        kz, extra = overlay(ctx, wl, env)
        for obj in extra:
            add(join_path(overlay_dir(ctx, env), FILE_NAMES[obj["kind"]]), obj)
        add(join_path(overlay_dir(ctx, env), "kustomization.yaml"), kz)
    return Output(files, wl.gaps)


GENERATOR = Generator(name="kustomize", artifact=ARTIFACT, selects=lambda ctx: ctx.profile.deploy_with == "kustomize",
                      render=render, doc="Kustomize base and overlays")
