"""Jenkins declarative pipeline (`Jenkinsfile`) for one service.

Build and test run in the toolchain image (`agent { docker { ... } }`); scanners run as pinned containers
on an agent with Docker. Publishing runs on the default branch only and takes its credentials from the
OpenID Connect Provider plugin's ID-token credentials (minted per build, short-lived): one for the
registry's audience, one for Sigstore. Vendor API tokens come from Jenkins credentials by id.
Syntax: https://www.jenkins.io/doc/book/pipeline/syntax/
"""

from __future__ import annotations

from bot.generate import plan as planmod
from bot.generate import security, shell
from bot.generate.base import Context, GeneratedFile, Generator, Output
from bot.generate.plan import CIPlan
from bot.generate.security import ToolRun

ARTIFACT = "ci"
TOOL = "jenkins"
REGISTRY_TOKEN_ID = "trustacks-oidc-registry"
SIGSTORE_TOKEN_ID = "trustacks-oidc-sigstore"


def groovy_str(text: str) -> str:
    """A Groovy single-quoted string literal (no interpolation: the shell expands `${VAR}`)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def groovy_sh(lines: list[str]) -> str:
    """`sh '''...'''` with Groovy escapes, so backslashes and quotes reach the shell unchanged."""
    body = "\n".join(lines).replace("\\", "\\\\").replace("'''", "\\'\\'\\'")
    return "sh '''\n" + body + "\n'''"


def credential_id(secret: str) -> str:
    return secret.lower().replace("_", "-")


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _with_secrets(secrets: tuple[str, ...], body: str) -> str:
    if not secrets:
        return body
    binds = ", ".join(f"string(credentialsId: {groovy_str(credential_id(s))}, variable: {groovy_str(s)})" for s in secrets)
    return f"withCredentials([{binds}]) {{\n{_indent(body, 2)}\n}}"


def _run_stage(run: ToolRun) -> str:
    body = _with_secrets(run.secrets, groovy_sh([shell.docker_run(run)]))
    return f"stage({groovy_str(run.title)}) {{\n  steps {{\n{_indent(body, 4)}\n  }}\n}}"


def jenkinsfile(ctx: Context, p: CIPlan) -> str:
    tc = p.toolchain
    stages: list[str] = []
    test_body = groovy_sh(list(tc.test))
    if ctx.service_dir != ".":
        test_body = f"dir({groovy_str(ctx.service_dir)}) {{\n{_indent(test_body, 2)}\n}}"
    stages.append(
        f"stage({groovy_str(f'Build and test ({tc.framework}, {tc.language} {tc.version})')}) {{\n"
        f"  agent {{\n    docker {{\n      image {groovy_str(tc.build_image)}\n      reuseNode true\n    }}\n  }}\n"
        f"  steps {{\n{_indent(test_body, 4)}\n  }}\n}}"
    )
    scans = [*p.sast, *p.secrets]
    if scans:
        inner = "\n".join(_run_stage(r) for r in scans)
        stages.append(f"stage('Security scans') {{\n  parallel {{\n{_indent(inner, 4)}\n  }}\n}}")
    image_lines = [f'docker build --pull -t "$IMAGE:$IMAGE_TAG" -f {p.dockerfile} {p.context_dir}',
                   f'docker save "$IMAGE:$IMAGE_TAG" -o {security.ARCHIVE}']
    image_body = [groovy_sh(image_lines)]
    if p.scan_pre:
        image_body.append(_with_secrets(p.scan_pre.secrets, groovy_sh([shell.docker_run(p.scan_pre)])))
    image_body.append(groovy_sh([shell.docker_run(p.sbom)]))
    image_body.append(f"archiveArtifacts artifacts: {groovy_str(security.SBOM_FILE)}, fingerprint: true")
    stages.append("stage('Image: build, scan, SBOM') {\n  steps {\n" + _indent("\n".join(image_body), 4) + "\n  }\n}")
    if p.push and p.registry is not None:
        lines = [shell.docker_login(p.registry), 'docker push "$IMAGE:$IMAGE_TAG"',
                 "IMAGE_DIGEST=\"$(docker inspect --format='{{index .RepoDigests 0}}' \"$IMAGE:$IMAGE_TAG\" | cut -d@ -f2)\"",
                 "export IMAGE_DIGEST"]
        secrets: tuple[str, ...] = ()
        if p.scan_post:
            lines.append(shell.docker_run(p.scan_post))
            secrets = p.scan_post.secrets
        lines.append(security.provenance_script(
            builder_id="${JENKINS_URL}", build_type="https://www.jenkins.io/doc/book/pipeline/syntax/",
            invocation="${BUILD_URL}", repo_url="${GIT_URL}", ref="${GIT_BRANCH}", commit="${GIT_COMMIT}"))
        lines += shell.docker_runs(security.cosign_runs(ctx, passthrough=("SIGSTORE_ID_TOKEN",)))
        binds = [f"string(credentialsId: {groovy_str(REGISTRY_TOKEN_ID)}, variable: 'OIDC_TOKEN')",
                 f"string(credentialsId: {groovy_str(SIGSTORE_TOKEN_ID)}, variable: 'SIGSTORE_ID_TOKEN')",
                 *(f"string(credentialsId: {groovy_str(credential_id(s))}, variable: {groovy_str(s)})" for s in secrets)]
        body = "withCredentials([\n" + _indent(",\n".join(binds), 2) + "\n]) {\n" + _indent(groovy_sh(lines), 2) + "\n}"
        stages.append(
            "stage('Publish: push, sign, attest') {\n"
            f"  when {{\n    branch {groovy_str(ctx.default_branch)}\n  }}\n"
            f"  steps {{\n{_indent(body, 4)}\n  }}\n}}"
        )
    head = [
        f"// CI for {ctx.service.name}: build, test, scan, SBOM, sign and publish.",
        f"// Generated by TruStacks from {ctx.profile.path}; edit freely: regeneration keeps your changes",
        "// (read-and-preserve) and proposes updates as a reviewed pull request.",
    ]
    if p.push:
        head.append(f"// Needs the OpenID Connect Provider plugin: ID-token credentials '{REGISTRY_TOKEN_ID}' "
                    f"(audience {p.registry.audience if p.registry else ''}) and '{SIGSTORE_TOKEN_ID}' (audience sigstore).")
    else:
        head.append("// This pipeline does not publish the image: see the TruStacks gap report for what is missing.")
    env = f"IMAGE = {groovy_str(p.image)}\n" + 'IMAGE_TAG = "${env.GIT_COMMIT}"'
    return (
        "\n".join(head) + "\n"
        "pipeline {\n"
        "  agent any\n"
        "  options {\n    disableConcurrentBuilds()\n    timeout(time: 60, unit: 'MINUTES')\n  }\n"
        f"  environment {{\n{_indent(env, 4)}\n  }}\n"
        f"  stages {{\n{_indent(chr(10).join(stages), 4)}\n  }}\n"
        "}\n"
    )


def render(ctx: Context) -> Output:
    p, gaps = planmod.build(ctx, ci_tool=TOOL)
    if p is None:
        return Output(gaps=gaps)
    if p.push:
        gaps = [*gaps, *security.fulcio_gap(ctx, TOOL)]
    path = "Jenkinsfile"
    return Output([GeneratedFile(path, jenkinsfile(ctx, p), ARTIFACT, "app", p.choices(path))], gaps)


GENERATOR = Generator(name="jenkins", artifact=ARTIFACT, selects=lambda ctx: ctx.ci_tool == TOOL, render=render,
                      doc="Jenkins declarative pipeline")
