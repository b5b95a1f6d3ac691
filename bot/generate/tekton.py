"""Tekton Pipeline with its Tasks (`.tekton/pipeline.yaml`) and Pipelines-as-Code PipelineRuns for one service.

Tasks: test (toolchain image), scan (every SAST/SCA and secret scanner as a step), image (BuildKit
rootless to a local archive, scan, Syft SBOM), publish (OIDC login with a projected ServiceAccount
token, `crane push`, results `IMAGE_URL`/`IMAGE_DIGEST` so Tekton Chains records SLSA provenance) and
sign (Cosign keyless with a projected token of audience `sigstore`: signature, SBOM and provenance
attestations). Publish and sign
run only from the push PipelineRun. Non-secret settings come from the ConfigMap `trustacks-ci-settings`,
vendor tokens from the Secret `trustacks-ci-tokens`; no registry password is stored anywhere.
API: https://tekton.dev/docs/pipelines/ (tekton.dev/v1)
"""

from __future__ import annotations

import re
from typing import Any

from bot.generate import plan as planmod
from bot.generate import security, shell
from bot.generate.base import Context, GeneratedFile, Generator, Output, dump_yaml_all, generated_by, join_path
from bot.generate.plan import CIPlan
from bot.generate.registries import password
from bot.generate.security import ToolRun

ARTIFACT = "ci"
TOOL = "tekton"
API = "tekton.dev/v1"
BUILDKIT_IMAGE = "moby/buildkit:v0.18.2-rootless"
CRANE_IMAGE = "gcr.io/go-containerregistry/crane:debug"
BUSYBOX_IMAGE = "busybox:1.37.0"
GIT_CLONE_VERSION = "0.9"
SETTINGS_CONFIGMAP = "trustacks-ci-settings"
TOKENS_SECRET = "trustacks-ci-tokens"
SERVICE_ACCOUNT = "trustacks-ci"
REGISTRY_TOKEN_DIR = "/var/run/secrets/trustacks/registry"
SIGSTORE_TOKEN_DIR = "/var/run/sigstore/cosign"
DOCKER_CONFIG_DIR = "/docker-config"
SOURCE = "$(workspaces.source.path)"

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PARAM_REFS = {"IMAGE": "$(params.image)", "IMAGE_DIGEST": "$(params.digest)", "IMAGE_TAG": "$(params.revision)"}


def _k8s_refs(text: str) -> str:
    """`${NAME}` as Tekton params for the image variables, else as Kubernetes `$(NAME)` env expansion."""
    return _REF.sub(lambda m: PARAM_REFS.get(m.group(1), f"$({m.group(1)})"), text)


def _env(values: tuple[tuple[str, str], ...], *, secrets: tuple[str, ...] = (),
         args: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Container env: referenced settings from the ConfigMap first (so `$(NAME)` expands), then values, then secrets."""
    env: list[dict[str, Any]] = []
    declared: set[str] = set()
    referenced = [n for n in shell.refs([*(v for _, v in values), *args]) if n not in PARAM_REFS]
    for name in referenced:
        env.append({"name": name, "valueFrom": {"configMapKeyRef": {"name": SETTINGS_CONFIGMAP, "key": name,
                                                                    "optional": True}}})
        declared.add(name)
    for name, value in values:
        if shell.is_self_ref(name, value) or name in declared:
            continue
        env.append({"name": name, "value": _k8s_refs(value)})
    for name in secrets:
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": TOKENS_SECRET, "key": name}}})
    return env


def _run_step(run: ToolRun, *, extra_env: tuple[tuple[str, str], ...] = (),
              mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {"name": run.key, "image": run.image,
                            "workingDir": SOURCE if run.workdir in ("", ".") else f"{SOURCE}/{run.workdir}"}
    step["command"] = [run.exec_command]
    step["args"] = [_k8s_refs(a) for a in (*run.command[1:], *run.args)]
    env = _env((*run.env, *extra_env), secrets=run.secrets, args=run.args)
    if env:
        step["env"] = env
    if mounts:
        step["volumeMounts"] = mounts
    return step


def _task(name: str, steps: list[dict[str, Any]], *, params: list[str] = (), results: list[str] = (),
          volumes: list[dict[str, Any]] = (), description: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if description:
        spec["description"] = description
    if params:
        spec["params"] = [{"name": p, "type": "string"} for p in params]
    if results:
        spec["results"] = [{"name": r, "type": "string"} for r in results]
    spec["workspaces"] = [{"name": "source"}]
    if volumes:
        spec["volumes"] = list(volumes)
    spec["steps"] = steps
    return {"apiVersion": API, "kind": "Task", "metadata": {"name": name}, "spec": spec}


def _token_volume(name: str, audience: str) -> dict[str, Any]:
    return {"name": name, "projected": {"sources": [{"serviceAccountToken": {
        "audience": audience, "expirationSeconds": 600, "path": "oidc-token"}}]}}


def _login_step(ctx: Context, p: CIPlan) -> dict[str, Any]:
    reg = p.registry
    assert reg is not None
    pw = password(reg)
    script = shell.docker_config_script(reg, token_file=f"{REGISTRY_TOKEN_DIR}/oidc-token", config_dir=DOCKER_CONFIG_DIR)
    step: dict[str, Any] = {"name": "registry-login", "image": pw.image, "script": "#!/bin/sh\n" + script}
    env = _env(pw.env, args=(pw.script, pw.username))
    if env:
        step["env"] = env
    step["volumeMounts"] = [{"name": "registry-token", "mountPath": REGISTRY_TOKEN_DIR, "readOnly": True},
                            {"name": "docker-config", "mountPath": DOCKER_CONFIG_DIR}]
    return step


def tasks(ctx: Context, p: CIPlan) -> dict[str, dict[str, Any]]:
    """Task name -> Task object."""
    svc = ctx.service.name
    tc = p.toolchain
    out: dict[str, dict[str, Any]] = {}
    out[f"{svc}-test"] = _task(f"{svc}-test", [{
        "name": "build-and-test", "image": tc.build_image,
        "workingDir": SOURCE if ctx.service_dir == "." else f"{SOURCE}/{ctx.service_dir}",
        "script": "#!/bin/sh\nset -eu\n" + "\n".join(tc.test),
    }], description=f"Build and test ({tc.framework}, {tc.language} {tc.version})")
    scans = [*p.sast, *p.secrets]
    if scans:
        out[f"{svc}-scan"] = _task(f"{svc}-scan", [_run_step(r) for r in scans], description="SAST/SCA and secret scanning")
    dockerfile_dir, _, dockerfile_name = p.dockerfile.rpartition("/")
    build = {
        "name": "build", "image": BUILDKIT_IMAGE, "workingDir": SOURCE,
        "env": [{"name": "BUILDKITD_FLAGS", "value": "--oci-worker-no-process-sandbox"}],
        "command": ["buildctl-daemonless.sh"],
        "args": ["build", "--frontend", "dockerfile.v0", "--local", f"context={p.context_dir}",
                 "--local", f"dockerfile={dockerfile_dir or '.'}", "--opt", f"filename={dockerfile_name}",
                 "--output", f"type=docker,name=$(params.image):$(params.revision),dest={security.ARCHIVE}"],
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "seccompProfile": {"type": "Unconfined"},
                            "appArmorProfile": {"type": "Unconfined"}},
    }
    image_steps = [build]
    if p.scan_pre:
        image_steps.append(_run_step(p.scan_pre))
    image_steps.append(_run_step(p.sbom))
    out[f"{svc}-image"] = _task(f"{svc}-image", image_steps, params=["image", "revision"],
                                description="Build the image to a local archive, scan it, write the SBOM")
    if p.push and p.registry is not None:
        reg = p.registry
        docker_env = (("DOCKER_CONFIG", DOCKER_CONFIG_DIR),)
        cfg_mount = {"name": "docker-config", "mountPath": DOCKER_CONFIG_DIR}
        push = {
            "name": "push", "image": CRANE_IMAGE, "workingDir": SOURCE,
            "env": [{"name": "DOCKER_CONFIG", "value": DOCKER_CONFIG_DIR}],
            "script": "\n".join([
                "#!/busybox/sh", "set -eu",
                f'crane push {security.ARCHIVE} "$(params.image):$(params.revision)" --image-refs /tmp/image-refs',
                "cut -d@ -f2 /tmp/image-refs | tr -d '\\n' > \"$(results.IMAGE_DIGEST.path)\"",
                "printf '%s' \"$(params.image)\" > \"$(results.IMAGE_URL.path)\""]),
            "volumeMounts": [cfg_mount],
        }
        volumes = [_token_volume("registry-token", reg.audience), {"name": "docker-config", "emptyDir": {}}]
        out[f"{svc}-publish"] = _task(
            f"{svc}-publish", [_login_step(ctx, p), push], params=["image", "revision"],
            results=["IMAGE_URL", "IMAGE_DIGEST"], volumes=volumes,
            description="Push the scanned image; Tekton Chains reads IMAGE_URL/IMAGE_DIGEST for SLSA provenance")
        sign_steps = [_login_step(ctx, p)]
        if p.scan_post:
            sign_steps.append(_run_step(p.scan_post, extra_env=docker_env, mounts=[cfg_mount]))
        sign_steps.append({"name": "provenance-predicate", "image": BUSYBOX_IMAGE, "workingDir": SOURCE,
                           "script": "#!/bin/sh\nset -eu\n" + security.provenance_script(
                               builder_id="https://tekton.dev/chains/v2", build_type="https://tekton.dev/docs/pipelines/",
                               invocation="$(context.taskRun.namespace)/$(context.taskRun.name)",
                               repo_url="$(params.repo-url)", ref="$(params.revision)", commit="$(params.revision)")})
        identity = ("--identity-token", f"{SIGSTORE_TOKEN_DIR}/oidc-token")  # cosign reads a path here
        sig_mounts = [cfg_mount, {"name": "sigstore-token", "mountPath": SIGSTORE_TOKEN_DIR, "readOnly": True}]
        for run in security.cosign_runs(ctx, identity=identity):
            sign_steps.append(_run_step(run, extra_env=docker_env, mounts=sig_mounts))
        out[f"{svc}-sign"] = _task(
            f"{svc}-sign", sign_steps, params=["image", "digest", "repo-url", "revision"],
            volumes=[*volumes, _token_volume("sigstore-token", "sigstore")],
            description="Sign the pushed digest, attest its SBOM and SLSA provenance with Cosign keyless")
    return out


def pipeline(ctx: Context, p: CIPlan, names: list[str]) -> dict[str, Any]:
    svc = ctx.service.name
    ws = [{"name": "source", "workspace": "source"}]
    image_params = [{"name": "image", "value": "$(params.image)"}, {"name": "revision", "value": "$(params.revision)"}]
    pipeline_tasks: list[dict[str, Any]] = [{
        "name": "fetch-source",
        "taskRef": {"resolver": "hub", "params": [
            {"name": "kind", "value": "task"}, {"name": "name", "value": "git-clone"},
            {"name": "version", "value": GIT_CLONE_VERSION}]},
        "params": [{"name": "url", "value": "$(params.repo-url)"}, {"name": "revision", "value": "$(params.revision)"}],
        "workspaces": [{"name": "output", "workspace": "source"}],
    }, {"name": "test", "runAfter": ["fetch-source"], "taskRef": {"name": f"{svc}-test"}, "workspaces": ws}]
    after = ["test"]
    if f"{svc}-scan" in names:
        pipeline_tasks.append({"name": "scan", "runAfter": ["fetch-source"], "taskRef": {"name": f"{svc}-scan"},
                               "workspaces": ws})
        after.append("scan")
    pipeline_tasks.append({"name": "image", "runAfter": after, "taskRef": {"name": f"{svc}-image"},
                           "params": image_params, "workspaces": ws})
    when = [{"input": "$(params.publish)", "operator": "in", "values": ["true"]}]
    if f"{svc}-publish" in names:
        pipeline_tasks.append({"name": "publish", "runAfter": ["image"], "when": when,
                               "taskRef": {"name": f"{svc}-publish"}, "params": image_params, "workspaces": ws})
        pipeline_tasks.append({"name": "sign", "runAfter": ["publish"], "when": when,
                               "taskRef": {"name": f"{svc}-sign"},
                               "params": [{"name": "image", "value": "$(params.image)"},
                                          {"name": "digest", "value": "$(tasks.publish.results.IMAGE_DIGEST)"},
                                          {"name": "repo-url", "value": "$(params.repo-url)"},
                                          {"name": "revision", "value": "$(params.revision)"}],
                               "workspaces": ws})
    return {
        "apiVersion": API, "kind": "Pipeline", "metadata": {"name": f"{svc}-ci"},
        "spec": {
            "params": [{"name": "repo-url", "type": "string"}, {"name": "revision", "type": "string"},
                       {"name": "image", "type": "string", "default": p.image},
                       {"name": "publish", "type": "string", "default": "false"}],
            "workspaces": [{"name": "source"}],
            "tasks": pipeline_tasks,
        },
    }


def pipeline_run(ctx: Context, *, event: str) -> dict[str, Any]:
    svc = ctx.service.name
    annotations = {
        "pipelinesascode.tekton.dev/on-event": f"[{event}]",
        "pipelinesascode.tekton.dev/on-target-branch": f"[{ctx.default_branch}]",
        "pipelinesascode.tekton.dev/max-keep-runs": "5",
    }
    if ctx.service_dir != ".":
        annotations["pipelinesascode.tekton.dev/on-path-change"] = f"[{ctx.service_dir}/**]"
    return {
        "apiVersion": API, "kind": "PipelineRun",
        "metadata": {"name": f"{svc}-on-{event.replace('_', '-')}", "annotations": annotations},
        "spec": {
            "pipelineRef": {"name": f"{svc}-ci"},
            "params": [{"name": "repo-url", "value": "{{ repo_url }}"}, {"name": "revision", "value": "{{ revision }}"},
                       {"name": "publish", "value": "true" if event == "push" else "false"}],
            "taskRunTemplate": {"serviceAccountName": SERVICE_ACCOUNT,
                                "podTemplate": {"securityContext": {"fsGroup": 65532}}},
            "workspaces": [{"name": "source", "volumeClaimTemplate": {"spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}}],
        },
    }


def render(ctx: Context) -> Output:
    p, gaps = planmod.build(ctx, ci_tool=TOOL)
    if p is None:
        return Output(gaps=gaps)
    if p.push:
        gaps = [*gaps, *security.fulcio_gap(ctx, TOOL)]
    root_relative = ctx.service_dir != "."
    base = ".tekton" if not root_relative else f".tekton/{ctx.service.name}"
    comment = generated_by(ctx.profile, f"Tekton CI for {ctx.service.name}: build, test, scan, SBOM, sign and publish.")
    task_objs = tasks(ctx, p)
    files: list[GeneratedFile] = []

    def add(path: str, objs: list[dict[str, Any]], what: str) -> None:
        text = dump_yaml_all(objs, comment=[*comment[:1], what, *comment[1:]])
        files.append(GeneratedFile(path, text, ARTIFACT, "app", p.choices(path), root_relative=root_relative))

    # the Pipeline and its Tasks in one file: one place to read (and for the policy to check) the whole release
    objs = [pipeline(ctx, p, list(task_objs)), *task_objs.values()]
    add(join_path(base, "pipeline.yaml"), objs, "Pipeline (fetch, test, scan, image, publish, sign) and its Tasks.")
    add(join_path(base, "pipelinerun-push.yaml"), [pipeline_run(ctx, event="push")],
        "Pipelines-as-Code: runs on pushes to the default branch and publishes.")
    add(join_path(base, "pipelinerun-pull-request.yaml"), [pipeline_run(ctx, event="pull_request")],
        "Pipelines-as-Code: runs on pull requests; never publishes.")
    return Output(files, gaps)


GENERATOR = Generator(name="tekton", artifact=ARTIFACT, selects=lambda ctx: ctx.ci_tool == TOOL, render=render,
                      doc="Tekton Pipeline, Tasks and Pipelines-as-Code runs")
