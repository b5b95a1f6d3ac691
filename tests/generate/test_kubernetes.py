"""Kubernetes output: Helm templates render to exactly k8s.objects() and every object passes kubernetes-validate;
Kustomize overlays build to valid objects; Argo CD and Flux objects point at files that exist."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from bot.generate import helm, k8s

from tests.generate import validators
from tests.generate.conftest import Corpus, pairs
from tests.generate.helm_render import TemplateError, render_chart

HELM_PROFILES = ["azure-acr", "github-aws", "minimal", "tekton-quay"]
KUSTOMIZE_PROFILES = ["gitlab-gcp", "jenkins-artifactory"]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _validate(objs: list[dict[str, Any]]) -> list[str]:
    errors: list[str] = []
    for obj in objs:
        if validators.is_builtin(obj):
            errors += validators.k8s_errors(obj)
        else:
            errors += validators.definition_errors("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", obj["metadata"],
                                                   f"{obj['kind']}.metadata.")
    return errors


def _chart(case) -> tuple[str, dict[str, str], dict[str, Any]]:
    base = f"{case.profile.platform.get('gitops_path', 'apps')}/{case.service.name}/chart"
    templates = {gen.path.rsplit("/", 1)[-1]: gen.content for gen in case.files("helm")
                 if gen.path.startswith(f"{base}/templates/")}
    return base, templates, yaml.safe_load(case.file(f"{base}/Chart.yaml").content)


def _render(case, env: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    base, templates, chart = _chart(case)
    values = yaml.safe_load(case.file(f"{base}/values.yaml").content)
    if env is not None:
        values = k8s.merged(values, yaml.safe_load(case.file(f"{base}/values-{env}.yaml").content))
    rendered = render_chart(templates, values=values, chart=chart, release_name=case.service.name)
    objs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    return objs, values


def _helm_cases() -> list[tuple[str, str, str | None]]:
    out = []
    for profile_name, service in pairs(HELM_PROFILES):
        from tests.generate.conftest import load_profile

        for env in [None, *load_profile(profile_name).environments]:
            out.append((profile_name, service, env))
    return out


@pytest.mark.parametrize("profile_name,service_name,env", _helm_cases())
def test_helm_chart_renders_to_the_expected_valid_objects(corpus: Corpus, profile_name: str, service_name: str,
                                                          env: str | None) -> None:
    case = corpus.case(profile_name, service_name)
    objs, values = _render(case, env)
    expected = k8s.objects(values, k8s.Release(chart=service_name, name=service_name))
    assert sorted(map(_key, objs)) == sorted(map(_key, expected))
    assert {_key(o): o for o in objs} == {_key(o): o for o in expected}
    assert _validate(objs) == []
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "Service", "ServiceAccount", "NetworkPolicy"} <= kinds
    if values["autoscaling"]["enabled"]:
        assert "HorizontalPodAutoscaler" in kinds and "replicas" not in objs[0]["spec"]


def test_a_template_drifting_from_the_values_is_caught(corpus: Corpus) -> None:
    case = corpus.case("github-aws", "pay-api")
    _, templates, chart = _chart(case)
    values = yaml.safe_load(case.file("apps/pay-api/chart/values.yaml").content)
    broken = dict(templates, **{"service.yaml": templates["service.yaml"].replace("targetPort: http", "targetPort: 8080")})
    rendered = render_chart(broken, values=values, chart=chart, release_name="pay-api")
    objs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    expected = k8s.objects(values, k8s.Release(chart="pay-api", name="pay-api"))
    assert {_key(o): o for o in objs} != {_key(o): o for o in expected}
    with pytest.raises(TemplateError):
        render_chart({"x.yaml": "{{ range .Values.x }}{{ end }}"}, values=values, chart=chart, release_name="x")


@pytest.mark.parametrize("profile_name,service_name", pairs(HELM_PROFILES))
def test_workload_is_locked_down(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    objs, _ = _render(case, None)
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["automountServiceAccountToken"] is False
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"/tmp"} <= {m["mountPath"] for m in container["volumeMounts"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["livenessProbe"] and container["readinessProbe"]
    netpol = next(o for o in objs if o["kind"] == "NetworkPolicy")
    assert netpol["spec"]["podSelector"]["matchLabels"] == deploy["spec"]["selector"]["matchLabels"]


def test_ingress_follows_the_profile(corpus: Corpus) -> None:
    nginx, _ = _render(corpus.case("github-aws", "orders"), "staging")
    ingress = next(o for o in nginx if o["kind"] == "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == "orders.staging.apps.acme.example"
    deploy = next(o for o in nginx if o["kind"] == "Deployment")
    assert deploy["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] == \
        "/actuator/health/liveness"
    traefik, _ = _render(corpus.case("azure-acr", "web"), "prod")
    assert next(o for o in traefik if o["kind"] == "Ingress")["spec"]["ingressClassName"] == "traefik"
    linkerd = next(o for o in traefik if o["kind"] == "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert linkerd == {"linkerd.io/inject": "enabled"}
    # Istio named without a gateway: no VirtualService, the gap says why
    tekton = corpus.case("tekton-quay", "web")
    objs, _ = _render(tekton, "prod")
    assert "VirtualService" not in {o["kind"] for o in objs} and "Ingress" not in {o["kind"] for o in objs}
    assert any(g.category == "mesh_ingress" and "gateway" in g.message for g in tekton.result.gaps)


# --------------------------------------------------------------------------- Kustomize


def _pointer(doc: Any, path: str) -> tuple[Any, str | int]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]
    cur = doc
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    last: str | int = int(parts[-1]) if isinstance(cur, list) else parts[-1]
    return cur, last


def kustomize_build(files: dict[str, str], overlay: str) -> list[dict[str, Any]]:
    """The subset of `kustomize build` the generated overlays use: resources, namespace, images, replicas,
    JSON 6902 patches. Unknown fields raise, so the test notices a new feature it does not model."""
    kz = yaml.safe_load(files[f"{overlay}/kustomization.yaml"])
    unknown = set(kz) - {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
    assert not unknown, unknown
    objs: list[dict[str, Any]] = []
    for res in kz.get("resources", []):
        path = f"{overlay}/{res}" if not res.startswith("../") else None
        if path is None:
            parts = overlay.split("/")
            up = res.count("../")
            path = "/".join(parts[: len(parts) - up] + [res.replace("../", "")])
        if f"{path}/kustomization.yaml" in files:
            objs += kustomize_build(files, path)
        else:
            objs.append(yaml.safe_load(files[path]))
    objs = copy.deepcopy(objs)
    if "namespace" in kz:
        for o in objs:
            o["metadata"]["namespace"] = kz["namespace"]
    for img in kz.get("images", []):
        for o in objs:
            for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                name = c["image"].rsplit(":", 1)[0]
                if name == img["name"]:
                    c["image"] = f"{img.get('newName', name)}:{img['newTag']}"
    for rep in kz.get("replicas", []):
        matched = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == rep["name"]]
        assert matched, rep
        for o in matched:
            o["spec"]["replicas"] = rep["count"]
    for patch in kz.get("patches", []):
        target = patch["target"]
        matched = [o for o in objs if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]]
        assert matched, target
        for o in matched:
            for op in yaml.safe_load(patch["patch"]):
                parent, last = _pointer(o, op["path"])
                if op["op"] == "replace":
                    assert (last in parent) if isinstance(parent, dict) else (last < len(parent)), op
                    parent[last] = op["value"]
                elif op["op"] == "remove":
                    del parent[last]
                else:
                    raise AssertionError(f"unmodelled op {op['op']}")
    return objs


@pytest.mark.parametrize("profile_name,service_name", pairs(KUSTOMIZE_PROFILES))
def test_kustomize_base_and_overlays_build_valid_objects(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    root = f"{case.profile.platform.get('gitops_path', 'apps')}/{service_name}"
    files = {gen.path: gen.content for gen in case.files("kustomize")}
    base = kustomize_build(files, f"{root}/base")
    assert _validate(base) == []
    for env in case.profile.environments:
        objs = kustomize_build(files, f"{root}/overlays/{env}")
        assert _validate(objs) == []
        deploy = next(o for o in objs if o["kind"] == "Deployment")
        assert deploy["metadata"]["namespace"] == k8s.namespace(corpus_ctx(case), env)
        assert deploy["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{k8s.APP_VERSION}")
        hpa = [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"]
        if env == "prod":
            assert hpa and "replicas" not in deploy["spec"]
        else:
            assert not hpa and deploy["spec"]["replicas"] == k8s.ENV_SIZES[env]["replicaCount"]
        for ingress in (o for o in objs if o["kind"] == "Ingress"):
            host = ingress["spec"]["rules"][0]["host"]
            assert host == ingress["spec"]["tls"][0]["hosts"][0]
            assert (f".{env}." in host) == (env != "prod")


def corpus_ctx(case):
    from bot.generate.base import Context

    return Context(case.profile, case.service)


def test_kustomize_base_equals_the_helm_objects(corpus: Corpus) -> None:
    """Both deployment styles describe the same workload (labels aside: no Helm labels in Kustomize)."""
    case = corpus.case("jenkins-artifactory", "orders")
    files = {gen.path: gen.content for gen in case.files("kustomize")}
    base = kustomize_build(files, "apps/orders/base")
    wl = k8s.values(corpus_ctx(case), artifact="kustomize")
    assert {_key(o): o for o in base} == {_key(o): o for o in k8s.objects(
        wl.values, k8s.Release(chart="orders", name="orders", managed_by="kustomize", helm=False))}


# --------------------------------------------------------------------------- Argo CD and Flux


def _platform_paths(case) -> set[str]:
    return {gen.path for gen in case.result.files if gen.target == "platform"}


def _fill(template: Any, element: dict[str, str]) -> Any:
    if isinstance(template, str):
        return re.sub(r"\{\{\.(\w+)\}\}", lambda m: element[m.group(1)], template)
    if isinstance(template, dict):
        return {k: _fill(v, element) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, element) for v in template]
    return template


def _check_application_spec(spec: dict[str, Any], paths: set[str]) -> None:
    source = spec["source"]
    assert source["repoURL"].startswith("https://") and source["targetRevision"]
    if "helm" in source:
        for f in source["helm"]["valueFiles"]:
            assert f"{source['path']}/{f}" in paths, f
        assert f"{source['path']}/Chart.yaml" in paths
    else:
        assert f"{source['path']}/kustomization.yaml" in paths
    dest = spec["destination"]
    assert dest["server"].startswith("https://") and DNS_LABEL.match(dest["namespace"])
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


@pytest.mark.parametrize("profile_name,service_name", pairs(["azure-acr", "github-aws", "jenkins-artifactory"]))
def test_argocd_points_at_files_that_exist(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    (gen,) = case.files("argocd")
    obj = yaml.safe_load(gen.content)
    paths = _platform_paths(case)
    assert _validate([obj]) == []
    envs = case.profile.environments
    if len(envs) == 1:
        assert obj["kind"] == "Application" and gen.path.endswith("argocd/application.yaml")
        _check_application_spec(obj["spec"], paths)
    else:
        assert obj["kind"] == "ApplicationSet" and obj["spec"]["goTemplate"] is True
        elements = obj["spec"]["generators"][0]["list"]["elements"]
        assert [e["env"] for e in elements] == envs
        names = set()
        for element in elements:
            app = _fill(obj["spec"]["template"], element)
            names.add(app["metadata"]["name"])
            assert "{{" not in yaml.safe_dump(app)
            _check_application_spec(app["spec"], paths)
        assert len(names) == len(envs)


@pytest.mark.parametrize("profile_name,service_name", pairs(["gitlab-gcp", "tekton-quay"]))
def test_flux_points_at_files_that_exist(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    docs = {gen.path: yaml.safe_load(gen.content) for gen in case.files("argocd")}
    paths = _platform_paths(case)
    assert _validate(list(docs.values())) == []
    (source,) = [d for d in docs.values() if d["kind"] == "GitRepository"]
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1" and source["spec"]["url"].startswith("https://")
    releases = [d for d in docs.values() if d["kind"] in ("HelmRelease", "Kustomization")]
    assert len(releases) == len(case.profile.environments)
    for rel in releases:
        ref = rel["spec"].get("sourceRef") or rel["spec"]["chart"]["spec"]["sourceRef"]
        assert (ref["kind"], ref["name"]) == ("GitRepository", source["metadata"]["name"])
        if rel["kind"] == "Kustomization":
            assert rel["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
            assert f"{rel['spec']['path'].lstrip('./')}/kustomization.yaml" in paths
        else:
            assert rel["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
            chart = rel["spec"]["chart"]["spec"]
            assert f"{chart['chart'].lstrip('./')}/Chart.yaml" in paths
            assert all(f in paths for f in chart["valuesFiles"])
            assert DNS_LABEL.match(rel["spec"]["targetNamespace"])


def test_helm_module_lists_every_template_it_ships() -> None:
    assert set(helm.TEMPLATES) == {"_helpers.tpl", "deployment.yaml", "hpa.yaml", "ingress.yaml", "networkpolicy.yaml",
                                   "service.yaml", "serviceaccount.yaml", "virtualservice.yaml"}
