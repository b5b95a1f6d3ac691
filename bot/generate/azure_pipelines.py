"""Azure Pipelines (`azure-pipelines.yml`) for one service.

Stage `verify`: build and test in the toolchain's container job, SAST/SCA and secret scanning in
parallel (CodeQL is a repository setting of GitHub Advanced Security for Azure DevOps: a gap, not a step). Stage
`image`: build, scan, SBOM; on the default branch, one `AzureCLI@2` step over a workload-identity-
federation service connection (`addSpnToEnvironment` exposes its short-lived `idToken`) logs in to the
registry, pushes, signs keyless with Cosign and attests the SBOM and SLSA provenance. No stored keys.
Syntax: https://learn.microsoft.com/azure/devops/pipelines/yaml-schema/
"""

from __future__ import annotations

from typing import Any

from bot.generate import plan as planmod
from bot.generate import security, shell
from bot.generate.base import Context, GeneratedFile, Generator, Output, dump_yaml, generated_by
from bot.generate.plan import CIPlan
from bot.generate.security import ToolRun

ARTIFACT = "ci"
TOOL = "azure-pipelines"
POOL = {"vmImage": "ubuntu-24.04"}
DEFAULT_CONNECTION = "trustacks-oidc"


def _step(run: ToolRun) -> dict[str, Any]:
    step: dict[str, Any] = {"script": shell.docker_run(run), "displayName": run.title}
    if run.secrets:
        step["env"] = {name: f"$({name})" for name in run.secrets}
    return step


def _connection(ctx: Context, p: CIPlan) -> str:
    for settings in ((p.registry.settings if p.registry else {}), (ctx.first("ci").settings if ctx.first("ci") else {})):
        if settings.get("service_connection"):
            return str(settings["service_connection"])
    return DEFAULT_CONNECTION


def pipeline(ctx: Context, p: CIPlan) -> dict[str, Any]:
    tc = p.toolchain
    branch = ctx.default_branch
    trigger: dict[str, Any] = {"branches": {"include": [branch]}}
    if ctx.service_dir != ".":
        trigger["paths"] = {"include": [f"{ctx.service_dir}/*"]}
    verify_jobs: list[dict[str, Any]] = [{
        "job": "test",
        "displayName": f"Build and test ({tc.framework}, {tc.language} {tc.version})",
        "pool": POOL,
        "container": tc.build_image,
        "steps": [{"checkout": "self"},
                  {"script": "\n".join(tc.test), "displayName": "Build and test", "workingDirectory": ctx.service_dir}],
    }]
    if p.sast:
        verify_jobs.append({"job": "sast", "displayName": "SAST / SCA", "pool": POOL,
                            "steps": [{"checkout": "self"}, *(_step(r) for r in p.sast)]})
    if p.secrets:
        verify_jobs.append({"job": "secrets", "displayName": "Secret scanning", "pool": POOL,
                            "steps": [{"checkout": "self"}, *(_step(r) for r in p.secrets)]})

    image_steps: list[dict[str, Any]] = [
        {"checkout": "self"},
        {"script": "\n".join([f'docker build --pull -t "$IMAGE:$IMAGE_TAG" -f {p.dockerfile} {p.context_dir}',
                              f'docker save "$IMAGE:$IMAGE_TAG" -o {security.ARCHIVE}']),
         "displayName": "Build image"},
    ]
    if p.scan_pre:
        image_steps.append(_step(p.scan_pre))
    image_steps.append(_step(p.sbom))
    image_steps.append({"task": "PublishPipelineArtifact@1", "displayName": "Keep the SBOM",
                        "inputs": {"targetPath": security.SBOM_FILE, "artifact": f"sbom-{ctx.service.name}"}})
    if p.push and p.registry is not None:
        reg = p.registry
        condition = f"and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/{branch}'))"
        login = ["set -euo pipefail"]
        if reg.tool == "acr":
            login.append(f"az acr login --name {reg.settings.get('name') or reg.host.split('.', 1)[0]}")
        else:
            login += ['export OIDC_TOKEN="$idToken"', shell.docker_login(reg)]
        # the same short-lived federation token signs keyless; handed on as a secret pipeline variable
        login.append('echo "##vso[task.setvariable variable=SIGSTORE_ID_TOKEN;issecret=true]$idToken"')
        image_steps.append({
            "task": "AzureCLI@2",
            "displayName": "Registry login (OIDC workload identity federation)",
            "condition": condition,
            "inputs": {"azureSubscription": _connection(ctx, p), "scriptType": "bash",
                       "scriptLocation": "inlineScript", "addSpnToEnvironment": True,
                       "inlineScript": "\n".join(login)},
        })
        image_steps.append({"script": "\n".join([
            "set -euo pipefail",
            'docker push "$IMAGE:$IMAGE_TAG"',
            "digest=\"$(docker inspect --format='{{index .RepoDigests 0}}' \"$IMAGE:$IMAGE_TAG\" | cut -d@ -f2)\"",
            'echo "##vso[task.setvariable variable=IMAGE_DIGEST]$digest"']),
            "displayName": "Push image", "condition": condition})
        if p.scan_post:
            step = _step(p.scan_post)
            step["condition"] = condition
            image_steps.append(step)
        sign = ["set -euo pipefail", security.provenance_script(
            builder_id="${SYSTEM_COLLECTIONURI}${SYSTEM_TEAMPROJECT}/_build",
            build_type="https://learn.microsoft.com/azure/devops/pipelines/yaml-schema",
            invocation="${SYSTEM_COLLECTIONURI}${SYSTEM_TEAMPROJECT}/_build/results?buildId=${BUILD_BUILDID}",
            repo_url="${BUILD_REPOSITORY_URI}", ref="${BUILD_SOURCEBRANCH}", commit="${BUILD_SOURCEVERSION}")]
        sign += shell.docker_runs(security.cosign_runs(ctx, passthrough=("SIGSTORE_ID_TOKEN",)))
        image_steps.append({"script": "\n".join(sign),
                            "displayName": "Sign image, attest SBOM and SLSA provenance (Cosign keyless)",
                            "condition": condition, "env": {"SIGSTORE_ID_TOKEN": "$(SIGSTORE_ID_TOKEN)"}})
    return {
        "trigger": trigger,
        "pr": {"branches": {"include": [branch]}},
        "variables": {"IMAGE": p.image, "IMAGE_TAG": "$(Build.SourceVersion)"},
        "stages": [
            {"stage": "verify", "displayName": "Test and scan", "jobs": verify_jobs},
            {"stage": "image", "displayName": "Image: build, scan, SBOM, publish", "dependsOn": "verify",
             "jobs": [{"job": "image", "pool": POOL, "steps": image_steps}]},
        ],
    }


def render(ctx: Context) -> Output:
    p, gaps = planmod.build(ctx, ci_tool=TOOL)
    if p is None:
        return Output(gaps=gaps)
    path = "azure-pipelines.yml"
    comment = generated_by(ctx.profile, f"CI for {ctx.service.name}: build, test, scan, SBOM, sign and publish.")
    if p.push:
        comment.append(f"Publishing uses the workload-identity-federation service connection "
                       f"'{_connection(ctx, p)}' (no stored secret).")
        gaps = [*gaps, *security.fulcio_gap(ctx, TOOL)]
    else:
        comment.append("This pipeline does not publish the image: see the TruStacks gap report for what is missing.")
    text = dump_yaml(pipeline(ctx, p), comment=comment)
    return Output([GeneratedFile(path, text, ARTIFACT, "app", p.choices(path))], gaps)


GENERATOR = Generator(name="azure_pipelines", artifact=ARTIFACT, selects=lambda ctx: ctx.ci_tool == TOOL,
                      render=render, doc="Azure Pipelines YAML")
