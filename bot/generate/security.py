"""The security tools of a pipeline as CI-neutral data: one pinned container image and its arguments each.

Every CI renderer runs the same ToolRun: `docker run` on VM runners (GitHub Actions, Azure Pipelines,
GitLab with docker-in-docker, Jenkins) and a step image on Tekton. Arguments may reference environment
variables as `${NAME}`; the shell (or Kubernetes, on Tekton) expands them. Vendor API tokens
(`secrets`) are read from the CI's secret store by name at run time; cloud credentials never appear here:
registries and signing use OIDC (see registries.py and the renderers).

Images are pinned by tag. The archive the image scanners and Syft read is the `docker save` output
`image.tar` at the repository root; scanning happens before the push.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.generate.base import SEVERITIES, Context, Gap, join_path
from bot.generate.toolchains import Toolchain
from bot.profile import ToolEntry

ARCHIVE = "image.tar"
SBOM_FILE = "sbom.spdx.json"
PROVENANCE_FILE = "provenance.json"

IMAGES = {
    "trivy": "aquasec/trivy:0.58.1",
    "grype": "anchore/grype:v0.86.1",
    "grype-debug": "anchore/grype:v0.86.1-debug",
    "snyk": "snyk/snyk:alpine",
    "clair": "quay.io/projectquay/clair-action:v0.0.11",
    "aqua": "registry.aquasec.com/scanner:2022.4",
    "semgrep": "semgrep/semgrep:1.101.0",
    "sonar": "sonarsource/sonar-scanner-cli:11.1",
    "checkmarx": "checkmarx/ast-cli:2.3.12",
    "trufflehog": "trufflesecurity/trufflehog:3.88.0",
    "gitleaks": "zricethezav/gitleaks:v8.22.1",
    "ggshield": "gitguardian/ggshield:v1.35.0",
    "syft": "anchore/syft:v1.18.1",
    "syft-debug": "anchore/syft:v1.18.1-debug",
    "cosign": "gcr.io/projectsigstore/cosign:v2.4.1",
}

COSIGN_PATH = "/ko-app/cosign"  # the cosign image is built with ko

#: SAST/SCA tools whose CI step sends source code to the vendor's service (TS-DATA-001 needs an opt-in)
SOURCE_EGRESS = {"snyk-code": "Snyk", "checkmarx": "Checkmarx One"}


@dataclass(frozen=True)
class ToolRun:
    """One tool invocation: `image` with `args` (after `command`, when the image's entrypoint is not the tool)."""

    key: str
    title: str
    category: str
    tool: str
    image: str
    args: tuple[str, ...]
    command: tuple[str, ...] = ()
    workdir: str = "."
    secrets: tuple[str, ...] = ()  # vendor API tokens from the CI secret store, exposed as env vars
    env: tuple[tuple[str, str], ...] = ()
    passthrough: tuple[str, ...] = ()  # env vars of the CI job handed to the container (e.g. SIGSTORE_ID_TOKEN)
    registry_auth: bool = False  # needs the docker config written by the registry login
    binary: str = ""  # the tool's name on PATH, for runners that run it from a shell inside the image
    shell_image: str = ""  # a variant of `image` that has a shell (for CI jobs that run scripts in it)
    path: str = ""  # absolute path of the binary in `image` when it is not on PATH (distroless images)

    @property
    def argv(self) -> tuple[str, ...]:
        """The command line inside the image, for shell-based runners (GitLab jobs, native installs)."""
        return (*(self.command or (self.binary,)), *self.args)

    @property
    def name(self) -> str:
        """The tool's command name (what a reader and the policy's CI parser look for)."""
        return (self.command[0] if self.command else self.binary).rsplit("/", 1)[-1]

    @property
    def exec_command(self) -> str:
        """The binary to exec without a shell (Tekton `command`)."""
        return self.path or (self.command[0] if self.command else self.binary)

    @property
    def job_image(self) -> str:
        return self.shell_image or self.image


def _severities_from(threshold: str) -> list[str]:
    return list(SEVERITIES[SEVERITIES.index(threshold):])


# --------------------------------------------------------------------------- image scanning


def _trivy(ctx: Context, *, tool: str = "trivy", title: str = "Scan image (Trivy)") -> ToolRun:
    return ToolRun("scan-image", title, "image_scanning", tool, IMAGES["trivy"],
                   ("image", "--input", ARCHIVE, "--severity", ",".join(_severities_from(ctx.threshold)),
                    "--exit-code", "1", "--no-progress"), binary="trivy")


def image_scan(entry: ToolEntry, ctx: Context) -> tuple[ToolRun | None, ToolRun | None, list[Gap]]:
    """(scan of image.tar before the push, scan of the pushed digest before signing, gaps) for the Profile's scanner.

    Every scanner gets a blocking gate before the push at the severity threshold; registry-side platforms
    (Aqua) also receive the pushed digest for their own policies.
    """
    t = ctx.threshold
    if entry.tool == "trivy":
        return _trivy(ctx), None, []
    if entry.tool == "anchore":
        return ToolRun("scan-image", "Scan image (Grype)", "image_scanning", "anchore", IMAGES["grype"],
                       (f"docker-archive:{ARCHIVE}", "--fail-on", t.lower()), binary="grype",
                       shell_image=IMAGES["grype-debug"], path="/grype"), None, []
    if entry.tool == "snyk-container":
        return ToolRun("scan-image", "Scan image (Snyk Container)", "image_scanning", "snyk-container",
                       IMAGES["snyk"], ("container", "test", f"docker-archive:{ARCHIVE}",
                                        f"--severity-threshold={t.lower()}", "--file=" + join_path(ctx.service_dir, "Dockerfile")),
                       command=("snyk",), secrets=("SNYK_TOKEN",)), None, []
    if entry.tool == "clair":
        # clair-action has no severity filter: it fails on any known vulnerability (stricter than the threshold).
        return ToolRun("scan-image", "Scan image (Clair)", "image_scanning", "clair", IMAGES["clair"],
                       ("report", f"--image-path={ARCHIVE}", "--db-url=https://clair-sqlite-db.s3.amazonaws.com/matcher.zst",
                        "--format=clair", "--return-code=1"), command=("clair-action",)), None, []
    if entry.tool == "aqua":
        # Trivy is Aqua's scanner: it gates the build at the threshold; the Aqua platform then registers the
        # pushed digest and applies its assurance policies before the signature.
        registry = entry.settings.get("registry_name", "")
        args = ["scan", "--host", "${AQUA_HOST}", "--token", "${AQUA_TOKEN}", "--register"]
        if registry:
            args += ["--registry", str(registry)]
        post = ToolRun("scan-pushed", "Register and check the pushed image (Aqua)", "image_scanning", "aqua",
                       IMAGES["aqua"], (*args, "${IMAGE}@${IMAGE_DIGEST}"), command=("scannercli",),
                       secrets=("AQUA_TOKEN",), env=(("AQUA_HOST", str(entry.settings.get("host", "${AQUA_HOST}"))),))
        return _trivy(ctx, tool="aqua", title="Scan image (Trivy, Aqua's scanner)"), post, []
    return None, None, [Gap("image_scanning", f"{entry.ref}: no pipeline step known for image scanner {entry.tool!r}; "
                            "the image is not pushed until a known scanner (trivy, anchore, snyk-container, clair, "
                            "aqua) is named", "ci")]


# --------------------------------------------------------------------------- SAST / SCA


def sast(entry: ToolEntry, ctx: Context, tc: Toolchain) -> tuple[ToolRun | None, list[Gap]]:
    """A SAST/SCA run for tools usable as a container; CodeQL is native to GitHub/Azure (renderers handle it)."""
    t = ctx.threshold
    wd = ctx.service_dir
    if entry.tool == "semgrep":
        config = str(entry.settings.get("config", "p/default"))
        return ToolRun("sast-semgrep", "SAST (Semgrep)", "sast_sca", "semgrep", IMAGES["semgrep"],
                       ("scan", "--config", config, "--error", "--metrics=off", "--severity", "ERROR"),
                       command=("semgrep",), workdir=wd), []
    if entry.tool == "snyk-code":
        return None, []  # two runs (code and open source): see sast_runs()
    if entry.tool == "sonarqube":
        key = str(entry.settings.get("project_key", ctx.service.name))
        host = str(entry.settings.get("host", "${SONAR_HOST_URL}"))
        args = [f"-Dsonar.projectKey={key}", "-Dsonar.qualitygate.wait=true"]
        if tc.language == "java":
            args.append("-Dsonar.java.binaries=.")
        return ToolRun("sast-sonarqube", "SAST (SonarQube quality gate)", "sast_sca", "sonarqube", IMAGES["sonar"],
                       tuple(args), command=("sonar-scanner",), workdir=wd, secrets=("SONAR_TOKEN",),
                       env=(("SONAR_HOST_URL", host),)), []
    if entry.tool == "checkmarx":
        levels = ";".join(f"sast-{s.lower()}=1;sca-{s.lower()}=1" for s in _severities_from(t) if s != "CRITICAL")
        return ToolRun("sast-checkmarx", "SAST and SCA (Checkmarx One)", "sast_sca", "checkmarx", IMAGES["checkmarx"],
                       ("scan", "create", "--project-name", ctx.service.name, "-s", ".", "--branch", ctx.default_branch,
                        "--scan-types", "sast,sca", "--threshold", levels or "sast-critical=1"),
                       workdir=wd, secrets=("CX_CLIENT_SECRET",), binary="cx",
                       env=(("CX_BASE_URI", str(entry.settings.get("host", "${CX_BASE_URI}"))),
                            ("CX_TENANT", str(entry.settings.get("tenant", "${CX_TENANT}"))),
                            ("CX_CLIENT_ID", str(entry.settings.get("client_id", "${CX_CLIENT_ID}"))))), []
    if entry.tool == "codeql":
        return None, []  # native steps, rendered per CI (or a gap where CodeQL has no native integration)
    return None, [Gap("sast_sca", f"{entry.ref}: no pipeline step known for {entry.tool!r}; name semgrep, "
                      "snyk-code, sonarqube, checkmarx or codeql", "ci")]


def _uploads_source(entry: ToolEntry) -> str:
    """The vendor a tool's step would send source code to ('' when it scans in the pipeline)."""
    if entry.tool in SOURCE_EGRESS:
        return SOURCE_EGRESS[entry.tool]
    if entry.tool == "sonarqube" and "sonarcloud.io" in str(entry.settings.get("host", "")):
        return "SonarCloud"
    return ""


def sast_runs(entry: ToolEntry, ctx: Context, tc: Toolchain) -> tuple[list[ToolRun], list[Gap]]:
    """Every run for one SAST/SCA entry (Snyk scans code and dependencies separately).

    A tool that uploads source code to its vendor runs only when the Profile entry opts in with
    `settings.source_egress: true` (the constitution keeps source in the data plane otherwise).
    """
    vendor = _uploads_source(entry)
    if vendor and entry.settings.get("source_egress") is not True:
        return [], [Gap("sast_sca", f"{entry.ref}: {entry.tool} sends source code to {vendor}; the constitution "
                        "(TS-DATA-001) needs an explicit opt-in: set settings.source_egress: true on the entry in a "
                        "reviewed Profile change, or use a self-hosted scanner; no step generated", "ci")]
    if entry.tool == "snyk-code":
        t = ctx.threshold.lower()
        wd = ctx.service_dir
        return [
            ToolRun("sast-snyk-code", "SAST (Snyk Code)", "sast_sca", "snyk-code", IMAGES["snyk"],
                    ("code", "test", f"--severity-threshold={t}"), command=("snyk",), workdir=wd, secrets=("SNYK_TOKEN",)),
            ToolRun("sca-snyk", "SCA (Snyk Open Source)", "sast_sca", "snyk-code", IMAGES["snyk"],
                    ("test", "--all-projects", f"--severity-threshold={t}"), command=("snyk",), workdir=wd,
                    secrets=("SNYK_TOKEN",)),
        ], []
    run, gaps = sast(entry, ctx, tc)
    return ([run] if run else []), gaps


# --------------------------------------------------------------------------- secret scanning


def secret_scan(entry: ToolEntry, ctx: Context) -> tuple[ToolRun | None, list[Gap]]:
    if entry.tool == "trufflehog":
        return ToolRun("secrets-trufflehog", "Secret scan (TruffleHog)", "secret_scanning", "trufflehog",
                       IMAGES["trufflehog"], ("filesystem", ".", "--fail", "--no-update", "--results=verified,unknown"),
                       binary="trufflehog"), []
    if entry.tool == "gitleaks":
        return ToolRun("secrets-gitleaks", "Secret scan (Gitleaks)", "secret_scanning", "gitleaks", IMAGES["gitleaks"],
                       ("dir", ".", "--redact", "--exit-code", "1"), binary="gitleaks"), []
    if entry.tool == "gitguardian":
        return ToolRun("secrets-ggshield", "Secret scan (GitGuardian ggshield)", "secret_scanning", "gitguardian",
                       IMAGES["ggshield"], ("secret", "scan", "path", "--recursive", "--yes", "."),
                       command=("ggshield",), secrets=("GITGUARDIAN_API_KEY",)), []
    if entry.tool == "github-secret-scanning":
        return None, []  # a repository setting (push protection), not a pipeline step
    return None, [Gap("secret_scanning", f"{entry.ref}: no pipeline step known for {entry.tool!r}; name "
                      "gitleaks, trufflehog, gitguardian or github-secret-scanning", "ci")]


# --------------------------------------------------------------------------- SBOM, signing, provenance


def sbom_run() -> ToolRun:
    return ToolRun("sbom", "SBOM (Syft, SPDX)", "sbom_signing", "syft", IMAGES["syft"],
                   (f"docker-archive:{ARCHIVE}", "-o", f"spdx-json={SBOM_FILE}"), binary="syft",
                   shell_image=IMAGES["syft-debug"], path="/syft")


def cosign_flags(ctx: Context) -> tuple[str, ...]:
    """Private Sigstore instances named in the Profile's cosign/sigstore entry settings."""
    flags: list[str] = []
    for entry in ctx.tools("sbom_signing"):
        if entry.tool in ("cosign", "sigstore"):
            for key, flag in (("fulcio_url", "--fulcio-url"), ("rekor_url", "--rekor-url")):
                if entry.settings.get(key):
                    flags.append(f"{flag}={entry.settings[key]}")
            break
    return tuple(flags)


def cosign_runs(ctx: Context, *, identity: tuple[str, ...] = (), passthrough: tuple[str, ...] = (),
                provenance: bool = True) -> list[ToolRun]:
    """Keyless Cosign: sign the pushed digest, attest the SBOM, attest SLSA provenance (when the CI has no native one)."""
    ref = "${IMAGE}@${IMAGE_DIGEST}"
    common = (*cosign_flags(ctx), *identity)
    runs = [
        ToolRun("sign", "Sign image (Cosign keyless)", "sbom_signing", "cosign", IMAGES["cosign"],
                ("sign", "--yes", *common, ref), passthrough=passthrough, registry_auth=True, binary="cosign", path=COSIGN_PATH),
        ToolRun("attest-sbom", "Attest SBOM (Cosign keyless)", "sbom_signing", "cosign", IMAGES["cosign"],
                ("attest", "--yes", *common, "--type", "spdxjson", "--predicate", SBOM_FILE, ref),
                passthrough=passthrough, registry_auth=True, binary="cosign", path=COSIGN_PATH),
    ]
    if provenance:
        runs.append(ToolRun("attest-provenance", "Attest SLSA provenance (in-toto, Cosign keyless)", "sbom_signing",
                            "in-toto", IMAGES["cosign"],
                            ("attest", "--yes", *common, "--type", "slsaprovenance1", "--predicate", PROVENANCE_FILE, ref),
                            passthrough=passthrough, registry_auth=True, binary="cosign", path=COSIGN_PATH))
    return runs


def provenance_script(*, builder_id: str, invocation: str, repo_url: str, ref: str, commit: str,
                      build_type: str) -> str:
    """One shell line writing a SLSA v1 provenance predicate for the pushed image from the CI's own variables."""
    fmt = ('{"buildDefinition":{"buildType":"%s","externalParameters":{"repository":"%s","ref":"%s"},'
           '"resolvedDependencies":[{"uri":"git+%s@%s","digest":{"gitCommit":"%s"}}]},'
           '"runDetails":{"builder":{"id":"%s"},"metadata":{"invocationId":"%s"}}}\\n')
    args = (build_type, repo_url, ref, repo_url, ref, commit, builder_id, invocation)
    return f"printf '{fmt}' " + " ".join(f'"{a}"' for a in args) + f" > {PROVENANCE_FILE}"


#: CI platforms whose OIDC issuer the public Sigstore Fulcio trusts for keyless signing
FULCIO_TRUSTED = {"github-actions", "gitlab-ci"}


def fulcio_gap(ctx: Context, ci_tool: str) -> list[Gap]:
    """Keyless signing from a CI whose token issuer public Fulcio does not trust needs a private Fulcio."""
    if ci_tool in FULCIO_TRUSTED or any(e.settings.get("fulcio_url") for e in ctx.tools("sbom_signing")):
        return []
    return [Gap("sbom_signing", f"{ci_tool} signs keyless with its own OIDC token, whose issuer the public Sigstore "
                "Fulcio does not trust: set settings.fulcio_url (and rekor_url) on the cosign/sigstore entry to a "
                "Sigstore instance that trusts it, or signing fails at run time", "ci")]
