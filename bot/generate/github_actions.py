"""GitHub Actions workflow (`.github/workflows/trustacks-ci.yml`) for one service.

Jobs: `test` in the toolchain's container, `sast`/`codeql` and `secrets` in parallel, then `image`:
build, scan and SBOM on every run; on the default branch only, OIDC login to the registry with the
cloud's official action (`permissions: id-token: write`, never a stored key), push, Cosign keyless
signature and SBOM attestation, and GitHub's SLSA build provenance (`actions/attest-build-provenance`).
Actions are pinned by release tag. Workflow syntax:
https://docs.github.com/en/actions/writing-workflows/workflow-syntax-for-github-actions
"""

from __future__ import annotations

import re
from typing import Any

from bot.generate import plan as planmod
from bot.generate import security, shell
from bot.generate.base import Context, GeneratedFile, Generator, Output, dump_yaml, generated_by
from bot.generate.plan import CIPlan
from bot.generate.registries import Registry

ARTIFACT = "ci"
TOOL = "github-actions"
RUNNER = "ubuntu-24.04"

ACTIONS = {
    "checkout": "actions/checkout@v4",
    "upload-artifact": "actions/upload-artifact@v4",
    "aws-credentials": "aws-actions/configure-aws-credentials@v4",
    "ecr-login": "aws-actions/amazon-ecr-login@v2",
    "azure-login": "azure/login@v2",
    "gcp-auth": "google-github-actions/auth@v2",
    "docker-login": "docker/login-action@v3",
    "jfrog": "jfrog/setup-jfrog-cli@v4",
    "cosign-installer": "sigstore/cosign-installer@v3.7.0",
    "attest-provenance": "actions/attest-build-provenance@v2",
    "codeql-init": "github/codeql-action/init@v3",
    "codeql-autobuild": "github/codeql-action/autobuild@v3",
    "codeql-analyze": "github/codeql-action/analyze@v3",
}

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def path_for(ctx: Context) -> tuple[str, bool]:
    """(path, root_relative): workflows live at the repository root whatever the service's directory."""
    if ctx.service_dir == ".":
        return ".github/workflows/trustacks-ci.yml", False
    return f".github/workflows/trustacks-ci-{ctx.service.name}.yml", True


def _vars(value: str) -> str:
    """`${NAME}` (a CI variable) as a GitHub expression over configuration variables."""
    return _REF.sub(lambda m: "${{ vars." + m.group(1) + " }}", value)


def _checkout(**extra: Any) -> dict[str, Any]:
    return {"uses": ACTIONS["checkout"], "with": {"persist-credentials": False, **extra}}


def _run_step(run: security.ToolRun) -> dict[str, Any]:
    step: dict[str, Any] = {"name": run.title, "run": shell.docker_run(run)}
    if run.secrets:
        step["env"] = {name: "${{ secrets." + name + " }}" for name in run.secrets}
    return step


def _login_steps(reg: Registry) -> list[dict[str, Any]]:
    s = reg.settings
    if reg.tool == "ecr":
        return [
            {"name": "Configure AWS credentials (OIDC)", "uses": ACTIONS["aws-credentials"],
             "with": {"role-to-assume": _vars(reg.setting("role_arn", "AWS_ROLE_ARN")),
                      "aws-region": _vars(reg.setting("region", "AWS_REGION")),
                      "role-session-name": "trustacks-ci"}},
            {"name": "Log in to Amazon ECR", "uses": ACTIONS["ecr-login"]},
        ]
    if reg.tool == "acr":
        name = s.get("name") or reg.host.split(".", 1)[0]
        return [
            {"name": "Azure login (OIDC workload identity federation)", "uses": ACTIONS["azure-login"],
             "with": {"client-id": _vars(reg.setting("client_id", "AZURE_CLIENT_ID")),
                      "tenant-id": _vars(reg.setting("tenant_id", "AZURE_TENANT_ID")),
                      "subscription-id": _vars(reg.setting("subscription_id", "AZURE_SUBSCRIPTION_ID"))}},
            {"name": "Log in to Azure Container Registry", "run": f"az acr login --name {name}"},
        ]
    if reg.tool == "gar":
        return [
            {"name": "Google Cloud auth (OIDC workload identity federation)", "id": "gcp-auth",
             "uses": ACTIONS["gcp-auth"],
             "with": {"workload_identity_provider": _vars(reg.setting("workload_identity_provider",
                                                                       "GCP_WORKLOAD_IDENTITY_PROVIDER")),
                      "service_account": _vars(reg.setting("service_account", "GCP_SERVICE_ACCOUNT")),
                      "token_format": "access_token"}},
            {"name": "Log in to Artifact Registry", "uses": ACTIONS["docker-login"],
             "with": {"registry": reg.host, "username": "oauth2accesstoken",
                      "password": "${{ steps.gcp-auth.outputs.access_token }}"}},
        ]
    if reg.tool == "ghcr":
        return [{"name": "Log in to GHCR (job token)", "uses": ACTIONS["docker-login"],
                 "with": {"registry": "ghcr.io", "username": "${{ github.actor }}",
                          "password": "${{ secrets.GITHUB_TOKEN }}"}}]
    if reg.tool == "artifactory":
        return [
            {"name": "JFrog OIDC token exchange", "id": "jfrog", "uses": ACTIONS["jfrog"],
             "env": {"JF_URL": f"https://{reg.host}"},
             "with": {"oidc-provider-name": _vars(reg.setting("oidc_provider", "JFROG_OIDC_PROVIDER")),
                      "oidc-audience": reg.audience}},
            {"name": "Log in to Artifactory", "uses": ACTIONS["docker-login"],
             "with": {"registry": reg.host, "username": "${{ steps.jfrog.outputs.oidc-user }}",
                      "password": "${{ steps.jfrog.outputs.oidc-token }}"}},
        ]
    if reg.tool == "quay":
        fetch = ('OIDC_TOKEN="$(curl -fsS -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" '
                 f'"$ACTIONS_ID_TOKEN_REQUEST_URL&audience={reg.audience}" | jq -r .value)"')
        return [{"name": "Log in to Quay (robot account federation)",
                 "run": "\n".join([fetch, "export OIDC_TOKEN", shell.docker_login(reg)])}]
    raise ValueError(f"no GitHub login for {reg.tool}")


def _conditional(step: dict[str, Any], condition: str) -> dict[str, Any]:
    """The step with `if:` right after its name, where a reader looks for it."""
    out: dict[str, Any] = {}
    for key, value in step.items():
        out[key] = value
        if key == "name":
            out["if"] = condition
    if "if" not in out:
        out = {"if": condition, **out}
    return out


def _codeql_job(p: CIPlan) -> dict[str, Any]:
    language, mode = p.toolchain.codeql
    steps: list[dict[str, Any]] = [
        _checkout(),
        {"name": "Initialize CodeQL", "uses": ACTIONS["codeql-init"],
         "with": {"languages": language, "build-mode": mode}},
    ]
    if mode == "autobuild":
        steps.append({"name": "Build for CodeQL", "uses": ACTIONS["codeql-autobuild"]})
    steps.append({"name": "Analyze (CodeQL)", "uses": ACTIONS["codeql-analyze"],
                  "with": {"category": f"/language:{language}"}})
    return {"runs-on": RUNNER,
            "permissions": {"contents": "read", "security-events": "write", "actions": "read"},
            "steps": steps}


def workflow(ctx: Context, p: CIPlan) -> dict[str, Any]:
    tc = p.toolchain
    branch = ctx.default_branch
    on_default = f"github.event_name == 'push' && github.ref == 'refs/heads/{branch}'"
    trigger: dict[str, Any] = {"branches": [branch]}
    if ctx.service_dir != ".":
        trigger["paths"] = [f"{ctx.service_dir}/**"]
    wf: dict[str, Any] = {
        "name": f"trustacks-ci ({ctx.service.name})",
        "on": {"push": dict(trigger), "pull_request": dict(trigger)},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "trustacks-ci-${{ github.ref }}-" + ctx.service.name, "cancel-in-progress": True},
        "env": {"IMAGE": p.image, "IMAGE_TAG": "${{ github.sha }}"},
        "jobs": {},
    }
    jobs: dict[str, Any] = wf["jobs"]
    test: dict[str, Any] = {
        "name": f"Build and test ({tc.framework}, {tc.language} {tc.version})",
        "runs-on": RUNNER,
        "container": tc.build_image,
        "steps": [_checkout(), {"name": "Build and test", "working-directory": ctx.service_dir,
                                "run": "\n".join(tc.test)}],
    }
    jobs["test"] = test
    needs = ["test"]
    if p.sast:
        jobs["sast"] = {"name": "SAST / SCA", "runs-on": RUNNER,
                        "steps": [_checkout(), *(_run_step(r) for r in p.sast)]}
        needs.append("sast")
    if p.codeql is not None:
        jobs["codeql"] = _codeql_job(p)
        needs.append("codeql")
    if p.secrets:
        jobs["secrets"] = {"name": "Secret scanning", "runs-on": RUNNER,
                           "steps": [_checkout(), *(_run_step(r) for r in p.secrets)]}
        needs.append("secrets")

    steps: list[dict[str, Any]] = [
        _checkout(),
        {"name": "Build image", "run": "\n".join([
            f'docker build --pull -t "$IMAGE:$IMAGE_TAG" -f {p.dockerfile} {p.context_dir}',
            f'docker save "$IMAGE:$IMAGE_TAG" -o {security.ARCHIVE}'])},
    ]
    if p.scan_pre:
        steps.append(_run_step(p.scan_pre))
    steps.append(_run_step(p.sbom))
    steps.append({"name": "Keep the SBOM", "uses": ACTIONS["upload-artifact"],
                  "with": {"name": f"sbom-{ctx.service.name}", "path": security.SBOM_FILE}})
    image_job: dict[str, Any] = {"name": "Image: build, scan, SBOM, publish", "needs": needs, "runs-on": RUNNER}
    if p.push and p.registry is not None:
        reg = p.registry
        native_provenance = str((ctx.first("ci").settings if ctx.first("ci") else {}).get("provenance", "github")) != "cosign"
        perms = {"contents": "read", "id-token": "write"}
        if native_provenance:
            perms["attestations"] = "write"
        if reg.tool == "ghcr":
            perms["packages"] = "write"
        image_job["permissions"] = perms
        publish: list[dict[str, Any]] = [*_login_steps(reg)]
        publish.append({"name": "Push image", "id": "push", "run": "\n".join([
            'docker push "$IMAGE:$IMAGE_TAG"',
            "digest=\"$(docker inspect --format='{{index .RepoDigests 0}}' \"$IMAGE:$IMAGE_TAG\" | cut -d@ -f2)\"",
            'echo "digest=$digest" >> "$GITHUB_OUTPUT"',
            'echo "IMAGE_DIGEST=$digest" >> "$GITHUB_ENV"'])})
        if p.scan_post:
            publish.append(_run_step(p.scan_post))
        publish.append({"name": "Install Cosign", "uses": ACTIONS["cosign-installer"]})
        for run in security.cosign_runs(ctx, provenance=not native_provenance):
            if run.key == "attest-provenance":
                publish.append({"name": "Provenance predicate", "run": security.provenance_script(
                    builder_id="https://github.com/actions/runner", build_type="https://actions.github.io/buildtypes/workflow/v1",
                    invocation="${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}",
                    repo_url="${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}", ref="${GITHUB_REF}", commit="${GITHUB_SHA}")})
            publish.append({"name": run.title, "run": shell.command_line(run)})
        if native_provenance:
            publish.append({"name": "SLSA build provenance (in-toto, Sigstore)", "uses": ACTIONS["attest-provenance"],
                            "with": {"subject-name": p.image, "subject-digest": "${{ steps.push.outputs.digest }}",
                                     "push-to-registry": True}})
        steps += [_conditional(step, on_default) for step in publish]
    image_job["steps"] = steps
    jobs["image"] = image_job

    used = shell.refs([*_all_strings(wf), *(v for r in p.runs() for _, v in r.env)])
    wanted = [n for n in used if n not in ("PWD", "HOME", "IMAGE", "IMAGE_TAG", "IMAGE_DIGEST", "GITHUB_SERVER_URL",
                                           "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_REF", "GITHUB_SHA")]
    for name in wanted:
        wf["env"][name] = "${{ vars." + name + " }}"
    return wf


def _all_strings(node: Any) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, str):
            out.append(cur)
        elif isinstance(cur, dict):
            stack.extend(cur.values())
        elif isinstance(cur, (list, tuple)):
            stack.extend(cur)
    return out


def _comment(ctx: Context, p: CIPlan) -> list[str]:
    lines = generated_by(ctx.profile, f"CI for {ctx.service.name}: build, test, scan, SBOM, sign and publish.")
    if p.github_secret_scanning is not None:
        lines.append("Secret scanning: GitHub secret scanning with push protection (repository setting), "
                     f"per {p.github_secret_scanning.ref}.")
    if not p.push:
        lines.append("This pipeline does not publish the image: see the TruStacks gap report for what is missing.")
    return lines


def render(ctx: Context) -> Output:
    p, gaps = planmod.build(ctx, ci_tool=TOOL)
    if p is None:
        return Output(gaps=gaps)
    path, root_relative = path_for(ctx)
    # `on` is a string key in YAML 1.2 and to GitHub; the emitter quotes it for YAML 1.1 readers only
    text = dump_yaml(workflow(ctx, p), comment=_comment(ctx, p)).replace("\n'on':\n", "\non:\n", 1)
    return Output([GeneratedFile(path, text, ARTIFACT, "app", p.choices(path), root_relative=root_relative)], gaps)


GENERATOR = Generator(name="github_actions", artifact=ARTIFACT, selects=lambda ctx: ctx.ci_tool == TOOL, render=render,
                      doc="GitHub Actions workflow")
