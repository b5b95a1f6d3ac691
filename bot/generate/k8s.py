"""The Kubernetes workload of one service, as chart values and as rendered objects.

`values(ctx)` is the single description of the workload (the Helm chart's values.yaml); `objects()`
renders the same objects in Python: the Kustomize base is exactly these objects, and the tests check
that the Helm templates render to them too, so the two deployment styles cannot drift apart.

Secure defaults: non-root with a fixed numeric UID, read-only root filesystem with an emptyDir /tmp,
no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, no service-account token,
a NetworkPolicy that admits only the pod's namespace, the ingress controller and the metrics scraper.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from bot.generate.base import Context, Gap
from bot.generate.registries import resolve as resolve_registry
from bot.generate.toolchains import Toolchain, resolve
from bot.models import ToolChoice
from bot.profile import ToolEntry

CHART_VERSION = "0.1.0"
APP_VERSION = "0.1.0"
SERVICE_PORT = 80
INGRESS_TOOLS = ("nginx", "traefik", "istio")
CONTROLLER_NAMESPACES = {"nginx": "ingress-nginx", "traefik": "traefik", "istio": "istio-system"}

#: per-environment overrides; environments not listed get "staging"-like defaults
ENV_SIZES: dict[str, dict[str, Any]] = {
    "dev": {"replicaCount": 1, "autoscaling": {"enabled": False}},
    "staging": {"replicaCount": 2, "autoscaling": {"enabled": False}},
    "prod": {"replicaCount": 3, "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10}},
}


def uid_for(tc: Toolchain | None) -> int:
    """The numeric user the image runs as (see dockerfile.py)."""
    if tc is None:
        return 10001
    return {"go": 65532, "node": 1000}.get(tc.language, 10001)


@dataclass
class Workload:
    values: dict[str, Any]
    choices: list[tuple[ToolEntry, str, str]] = field(default_factory=list)  # (entry, tool, which file kind)
    gaps: list[Gap] = field(default_factory=list)
    ingress_tool: str = ""  # nginx | traefik | istio | ""

    def tool_choices(self, path: str, *, kinds: tuple[str, ...] = ("values",)) -> list[ToolChoice]:
        return [ToolChoice(e.category, tool, e.ref, path) for e, tool, kind in self.choices if kind in kinds]


def _probes(tc: Toolchain | None, port_name: str = "http") -> tuple[dict[str, Any], dict[str, Any]]:
    if tc is not None and tc.health.kind == "http":
        live: dict[str, Any] = {"httpGet": {"path": tc.health.liveness, "port": port_name}}
        ready: dict[str, Any] = {"httpGet": {"path": tc.health.readiness, "port": port_name}}
    else:
        live = {"tcpSocket": {"port": port_name}}
        ready = {"tcpSocket": {"port": port_name}}
    slow = tc is not None and tc.language == "java"
    live.update({"initialDelaySeconds": 30 if slow else 10, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3})
    ready.update({"initialDelaySeconds": 10 if slow else 5, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3})
    return live, ready


def values(ctx: Context, *, artifact: str) -> Workload:
    """The chart values for the service (also the Kustomize base's source)."""
    svc = ctx.service
    tc = resolve(svc)
    port = tc.port if tc else (svc.port or 8080)
    uid = uid_for(tc)
    live, ready = _probes(tc)
    wl = Workload(values={})
    reg, _ = resolve_registry(ctx)
    repository = reg.image if reg is not None and reg.host else svc.name
    if reg is not None and reg.host:
        wl.choices.append((reg.entry, reg.tool, "values"))
    else:
        wl.gaps.append(Gap("registry", f"no registry host in the Profile: the {artifact} image repository is the "
                           f"bare name {svc.name!r}; set tooling.registry[0].settings.host", artifact))
    java = tc is not None and tc.language == "java"
    v: dict[str, Any] = {
        "fullnameOverride": svc.name,
        "image": {"repository": repository, "tag": "", "pullPolicy": "IfNotPresent"},
        "replicaCount": 2,
        "serviceAccount": {"automount": False, "annotations": {}},
        "podAnnotations": {},
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
                               "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "service": {"type": "ClusterIP", "port": SERVICE_PORT},
        "containerPort": port,
        "livenessProbe": live,
        "readinessProbe": ready,
        "resources": {"requests": {"cpu": "250m" if java else "100m", "memory": "512Mi" if java else "128Mi"},
                      "limits": {"memory": "1Gi" if java else "512Mi"}},
        "autoscaling": {"enabled": False, "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80},
        "ingress": {"enabled": False, "className": "", "annotations": {}, "host": "", "tls": True},
        "virtualService": {"enabled": False, "host": "", "gateways": []},
        "networkPolicy": {"enabled": True, "from": [{"podSelector": {}}]},
    }
    mesh = ctx.tools("mesh_ingress")
    if not mesh:
        wl.gaps.append(Gap("mesh_ingress", "the Profile names no ingress controller or mesh: the service is "
                           "reachable inside the cluster only; add tooling.mesh_ingress (nginx, traefik, istio, "
                           "linkerd) with settings.domain", artifact))
    ingress = next((e for e in mesh if e.tool in INGRESS_TOOLS), None)
    for entry in mesh:
        if entry.tool == "istio":
            v["podAnnotations"]["sidecar.istio.io/inject"] = "true"
            wl.choices.append((entry, "istio", "values"))
        elif entry.tool == "linkerd":
            v["podAnnotations"]["linkerd.io/inject"] = "enabled"
            wl.choices.append((entry, "linkerd", "values"))
    if ingress is not None:
        domain = str(ingress.settings.get("domain", "")).strip().strip(".")
        ns = str(ingress.settings.get("namespace", CONTROLLER_NAMESPACES[ingress.tool]))
        if ingress.tool == "istio":
            gateway = str(ingress.settings.get("gateway", ""))
            if gateway and "/" in gateway:
                ns = str(ingress.settings.get("namespace", gateway.split("/", 1)[0]))
            if domain and gateway:
                v["virtualService"] = {"enabled": True, "host": f"{svc.name}.{domain}", "gateways": [gateway]}
                wl.ingress_tool = "istio"
                wl.choices.append((ingress, "istio", "virtualservice"))
            else:
                missing = " and ".join(x for x, ok in (("settings.domain", domain), ("settings.gateway (namespace/name)", gateway)) if not ok)
                wl.gaps.append(Gap("mesh_ingress", f"{ingress.ref}: istio needs {missing} to route to {svc.name}; "
                                   "the VirtualService ships disabled", artifact))
        else:
            if domain:
                annotations = {}
                if ingress.tool == "traefik":
                    annotations["traefik.ingress.kubernetes.io/router.entrypoints"] = "websecure"
                v["ingress"] = {"enabled": True, "className": str(ingress.settings.get("class_name", ingress.tool)),
                                "annotations": annotations, "host": f"{svc.name}.{domain}", "tls": True}
                wl.ingress_tool = ingress.tool
                wl.choices.append((ingress, ingress.tool, "values"))
                wl.choices.append((ingress, ingress.tool, "ingress"))
            else:
                v["ingress"]["className"] = str(ingress.settings.get("class_name", ingress.tool))
                wl.gaps.append(Gap("mesh_ingress", f"{ingress.ref}: settings.domain is not set: the Ingress ships "
                                   f"disabled (a host-less rule would catch every host); set settings.domain", artifact))
        v["networkPolicy"]["from"].append({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}})
    prometheus = ctx.entry("observability", "prometheus")
    if prometheus is not None:
        v["podAnnotations"].update({"prometheus.io/scrape": "true", "prometheus.io/port": str(port)})
        ns = str(prometheus.settings.get("namespace", "monitoring"))
        v["networkPolicy"]["from"].append({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}})
        wl.choices.append((prometheus, "prometheus", "values"))
    wl.values = v
    return wl


def env_overrides(wl: Workload, env: str, ctx: Context) -> dict[str, Any]:
    """The values an environment changes (values-<env>.yaml, Kustomize overlay patches)."""
    size = copy.deepcopy(ENV_SIZES.get(env, ENV_SIZES["staging"]))
    out: dict[str, Any] = {"replicaCount": size["replicaCount"], "autoscaling": size["autoscaling"]}
    base = wl.values
    for key in ("ingress", "virtualService"):
        section = base[key]
        if section.get("enabled") and section.get("host"):
            host = section["host"]
            if env != "prod":
                name, _, domain = host.partition(".")
                host = f"{name}.{env}.{domain}"
            out[key] = {"host": host}
    return out


def merged(values: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge key by key, everything else replaces."""
    out = copy.deepcopy(values)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------- rendered objects


@dataclass(frozen=True)
class Release:
    """What the Helm templates read besides values: chart and release metadata."""

    chart: str
    name: str
    version: str = CHART_VERSION
    app_version: str = APP_VERSION
    managed_by: str = "Helm"
    helm: bool = True


def selector_labels(rel: Release) -> dict[str, str]:
    return {"app.kubernetes.io/name": rel.chart, "app.kubernetes.io/instance": rel.name}


def labels(rel: Release) -> dict[str, str]:
    out = {**selector_labels(rel), "app.kubernetes.io/version": rel.app_version,
           "app.kubernetes.io/managed-by": rel.managed_by}
    if rel.helm:
        out["helm.sh/chart"] = f"{rel.chart}-{rel.version}"
    return out


def _meta(name: str, rel: Release, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels(rel)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def fullname(v: dict[str, Any], rel: Release) -> str:
    return (v.get("fullnameOverride") or rel.chart)[:63].rstrip("-")


def objects(v: dict[str, Any], rel: Release) -> list[dict[str, Any]]:
    """The rendered objects, in the order the chart's template files are named."""
    name = fullname(v, rel)
    out: list[dict[str, Any]] = []
    spec: dict[str, Any] = {}
    if not v["autoscaling"]["enabled"]:
        spec["replicas"] = v["replicaCount"]
    template_meta: dict[str, Any] = {}
    if v["podAnnotations"]:
        template_meta["annotations"] = dict(v["podAnnotations"])
    template_meta["labels"] = selector_labels(rel)
    tag = v["image"]["tag"] or rel.app_version
    spec.update({
        "selector": {"matchLabels": selector_labels(rel)},
        "template": {
            "metadata": template_meta,
            "spec": {
                "serviceAccountName": name,
                "automountServiceAccountToken": v["serviceAccount"]["automount"],
                "securityContext": copy.deepcopy(v["podSecurityContext"]),
                "containers": [{
                    "name": rel.chart,
                    "image": f"{v['image']['repository']}:{tag}",
                    "imagePullPolicy": v["image"]["pullPolicy"],
                    "ports": [{"name": "http", "containerPort": v["containerPort"], "protocol": "TCP"}],
                    "livenessProbe": copy.deepcopy(v["livenessProbe"]),
                    "readinessProbe": copy.deepcopy(v["readinessProbe"]),
                    "resources": copy.deepcopy(v["resources"]),
                    "securityContext": copy.deepcopy(v["securityContext"]),
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    })
    out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, rel), "spec": spec})
    if v["autoscaling"]["enabled"]:
        a = v["autoscaling"]
        out.append({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta(name, rel),
                    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                             "minReplicas": a["minReplicas"], "maxReplicas": a["maxReplicas"],
                             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                 "type": "Utilization", "averageUtilization": a["targetCPUUtilizationPercentage"]}}}]}})
    if v["ingress"]["enabled"]:
        i = v["ingress"]
        ingress_spec: dict[str, Any] = {"ingressClassName": i["className"]}
        if i["tls"]:
            ingress_spec["tls"] = [{"hosts": [i["host"]], "secretName": f"{name}-tls"}]
        ingress_spec["rules"] = [{"host": i["host"], "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": name, "port": {"name": "http"}}}}]}}]
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": _meta(name, rel, i["annotations"]), "spec": ingress_spec})
    if v["networkPolicy"]["enabled"]:
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(name, rel),
                    "spec": {"podSelector": {"matchLabels": selector_labels(rel)}, "policyTypes": ["Ingress"],
                             "ingress": [{"from": copy.deepcopy(v["networkPolicy"]["from"]),
                                          "ports": [{"port": "http", "protocol": "TCP"}]}]}})
    out.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, rel),
                "spec": {"type": v["service"]["type"], "selector": selector_labels(rel),
                         "ports": [{"name": "http", "port": v["service"]["port"], "targetPort": "http",
                                    "protocol": "TCP"}]}})
    sa_meta = _meta(name, rel, v["serviceAccount"]["annotations"])
    out.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": sa_meta,
                "automountServiceAccountToken": v["serviceAccount"]["automount"]})
    if v["virtualService"]["enabled"]:
        vs = v["virtualService"]
        out.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": _meta(name, rel),
                    "spec": {"hosts": [vs["host"]], "gateways": list(vs["gateways"]),
                             "http": [{"route": [{"destination": {"host": name,
                                                                  "port": {"number": v["service"]["port"]}}}]}]}})
    return out


def namespace(ctx: Context, env: str) -> str:
    """The namespace an environment deploys to: `<platform.namespace or service>-<env>` (no suffix for one env)."""
    base = str(ctx.platform.get("namespace") or ctx.service.name)
    return base if len(ctx.environments) == 1 else f"{base}-{env}"[:63].rstrip("-")
