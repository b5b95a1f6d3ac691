"""GitLab CI pipeline (`.gitlab-ci.yml`) for one service.

Every tool runs as its own job in its pinned image (debug variants where the tool image has no shell);
the image is built with Docker-in-Docker and handed to the scan and SBOM jobs as an artifact. Publishing
runs on the default branch only: `id_tokens` mint the registry audience's token and the `sigstore` token
(https://docs.gitlab.com/ci/secrets/id_token_authentication/), the registry login exchanges the first
in a helper container, and Cosign signs keyless with `SIGSTORE_ID_TOKEN`. No stored registry password.
Syntax: https://docs.gitlab.com/ci/yaml/
"""

from __future__ import annotations

from typing import Any

from bot.generate import plan as planmod
from bot.generate import security, shell
from bot.generate.base import Context, Gap, GeneratedFile, Generator, Output, dump_yaml, generated_by
from bot.generate.plan import CIPlan
from bot.generate.security import ToolRun

ARTIFACT = "ci"
TOOL = "gitlab-ci"
DOCKER_IMAGE = "docker:27.4-cli"
DIND_IMAGE = "docker:27.4-dind"
ON_DEFAULT = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"

DIND_VARIABLES = {
    "DOCKER_HOST": "tcp://docker:2376",
    "DOCKER_TLS_CERTDIR": "/certs",
    "DOCKER_TLS_VERIFY": "1",
    "DOCKER_CERT_PATH": "/certs/client",
}


def path_for(ctx: Context) -> tuple[str, bool]:
    if ctx.service_dir == ".":
        return ".gitlab-ci.yml", False
    return f".gitlab/ci/{ctx.service.name}.gitlab-ci.yml", True


def _variables(run: ToolRun) -> dict[str, str]:
    """Job variables for a run's non-secret settings; secrets are masked CI/CD variables already in the env."""
    out = {}
    for name, value in run.env:
        if not shell.is_self_ref(name, value):
            out[name] = value
    return out


def _tool_job(run: ToolRun, *, stage: str, needs: list[str] | None = None, workdir: str = ".") -> dict[str, Any]:
    job: dict[str, Any] = {"stage": stage, "image": {"name": run.job_image, "entrypoint": [""]}}
    if needs is not None:
        job["needs"] = needs
    variables = _variables(run)
    if variables:
        job["variables"] = variables
    script = []
    if run.workdir not in ("", "."):
        script.append(f"cd {run.workdir}")
    script.append(shell.command_line(run))
    job["script"] = script
    return job


def pipeline(ctx: Context, p: CIPlan) -> tuple[dict[str, Any], list[Gap]]:
    tc = p.toolchain
    gaps: list[Gap] = []
    prefix = "" if ctx.service_dir == "." else f"{ctx.service.name}-"
    rules: list[dict[str, Any]] = [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}, {"if": ON_DEFAULT}]
    if ctx.service_dir != ".":
        for rule in rules:
            rule["changes"] = [f"{ctx.service_dir}/**/*"]
    doc: dict[str, Any] = {
        "workflow": {"rules": rules},
        "stages": ["test", "build", "verify", "publish"],
        "variables": {"IMAGE": p.image, "IMAGE_TAG": "$CI_COMMIT_SHA"},
    }
    test_script = ([f"cd {ctx.service_dir}"] if ctx.service_dir != "." else []) + list(tc.test)
    doc[f"{prefix}test"] = {"stage": "test", "image": tc.build_image, "script": test_script}
    for run in [*p.sast, *p.secrets]:
        doc[f"{prefix}{run.key}"] = _tool_job(run, stage="test")
    build = f"{prefix}build-image"
    doc[build] = {
        "stage": "build",
        "image": DOCKER_IMAGE,
        "services": [DIND_IMAGE],
        "variables": dict(DIND_VARIABLES),
        "script": [f'docker build --pull -t "$IMAGE:$IMAGE_TAG" -f {p.dockerfile} {p.context_dir}',
                   f'docker save "$IMAGE:$IMAGE_TAG" -o {security.ARCHIVE}'],
        "artifacts": {"paths": [security.ARCHIVE], "expire_in": "1 day"},
    }
    verify_needs = [build]
    if p.scan_pre:
        doc[f"{prefix}scan-image"] = _tool_job(p.scan_pre, stage="verify", needs=[build])
        verify_needs.append(f"{prefix}scan-image")
    sbom = _tool_job(p.sbom, stage="verify", needs=[build])
    sbom["artifacts"] = {"paths": [security.SBOM_FILE], "expire_in": "30 days"}
    doc[f"{prefix}sbom"] = sbom
    verify_needs.append(f"{prefix}sbom")

    if p.push and p.registry is not None:
        reg = p.registry
        publish_vars = dict(DIND_VARIABLES)
        script = [f"docker load -i {security.ARCHIVE}", shell.docker_login(reg, token_var="REGISTRY_ID_TOKEN"),
                  'docker push "$IMAGE:$IMAGE_TAG"',
                  "IMAGE_DIGEST=\"$(docker inspect --format='{{index .RepoDigests 0}}' \"$IMAGE:$IMAGE_TAG\" | cut -d@ -f2)\"",
                  "export IMAGE_DIGEST"]
        if p.scan_post:
            script.extend(shell.docker_run(p.scan_post, mount=False).split("\n"))
            publish_vars.update(_variables(p.scan_post))
        script.append(security.provenance_script(
            builder_id="${CI_SERVER_URL}/${CI_PROJECT_PATH}/-/runners/${CI_RUNNER_ID}",
            build_type="https://gitlab.com/gitlab-org/gitlab-runner/-/blob/main/PROVENANCE.md",
            invocation="${CI_JOB_URL}", repo_url="${CI_PROJECT_URL}", ref="${CI_COMMIT_REF_NAME}", commit="${CI_COMMIT_SHA}"))
        for run in security.cosign_runs(ctx):
            script.append(shell.command_line(run))
        doc[f"{prefix}publish"] = {
            "stage": "publish",
            "image": DOCKER_IMAGE,
            "services": [DIND_IMAGE],
            "needs": [*verify_needs, f"{prefix}test", *(f"{prefix}{r.key}" for r in [*p.sast, *p.secrets])],
            "rules": [{"if": ON_DEFAULT}],
            "variables": publish_vars,
            "id_tokens": {"REGISTRY_ID_TOKEN": {"aud": reg.audience}, "SIGSTORE_ID_TOKEN": {"aud": "sigstore"}},
            "before_script": ["apk add --no-cache cosign"],
            "script": script,
        }
    if ctx.service_dir != ".":
        path, _ = path_for(ctx)
        gaps.append(Gap("ci", f"service {ctx.service.name!r} lives in {ctx.service_dir}/: include its pipeline from "
                        f"the root .gitlab-ci.yml (`include: [{{local: {path}}}]`)", ARTIFACT))
    return doc, gaps


def render(ctx: Context) -> Output:
    p, gaps = planmod.build(ctx, ci_tool=TOOL)
    if p is None:
        return Output(gaps=gaps)
    path, root_relative = path_for(ctx)
    doc, more = pipeline(ctx, p)
    comment = generated_by(ctx.profile, f"CI for {ctx.service.name}: build, test, scan, SBOM, sign and publish.")
    if not p.push:
        comment.append("This pipeline does not publish the image: see the TruStacks gap report for what is missing.")
    text = dump_yaml(doc, comment=comment)
    return Output([GeneratedFile(path, text, ARTIFACT, "app", p.choices(path), root_relative=root_relative)],
                  [*gaps, *more])


GENERATOR = Generator(name="gitlab_ci", artifact=ARTIFACT, selects=lambda ctx: ctx.ci_tool == TOOL, render=render,
                      doc="GitLab CI pipeline")
