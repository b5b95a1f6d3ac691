"""The CI-neutral plan of one service's pipeline, built once from the Profile and rendered by each CI module.

Stages, in order: test (build and test in the toolchain image); SAST/SCA and secret scanning with every
tool the Profile names in those categories; image build to a local archive; the image scan with the
Profile's first scanner (failing at the severity threshold) and the SBOM with Syft; then, on the default
branch only, the OIDC registry login, push, Cosign keyless signature, SBOM attestation and SLSA provenance.

Safety rules decided here, not in the renderers: nothing is pushed without an image scanner, a registry
with OIDC federation and a known login; nothing unsigned is published (the push and the signature are
one stage); a missing category is a Gap, never a half-written step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.generate import registries, security
from bot.generate.base import Context, Gap, join_path
from bot.generate.registries import Registry
from bot.generate.security import ToolRun
from bot.generate.toolchains import Toolchain, resolve, unknown_language_message
from bot.models import ToolChoice
from bot.profile import ToolEntry

@dataclass
class CIPlan:
    toolchain: Toolchain
    dockerfile: str  # repo-relative path
    context_dir: str  # repo-relative docker build context
    sast: list[ToolRun] = field(default_factory=list)
    codeql: ToolEntry | None = None
    secrets: list[ToolRun] = field(default_factory=list)
    github_secret_scanning: ToolEntry | None = None
    scan_pre: ToolRun | None = None  # scans image.tar before the push
    scan_post: ToolRun | None = None  # scans the pushed digest before signing
    sbom: ToolRun = field(default_factory=security.sbom_run)
    registry: Registry | None = None
    push: bool = False
    entries: list[tuple[ToolEntry, str]] = field(default_factory=list)  # (entry, tool) decided by the Profile
    gaps: list[Gap] = field(default_factory=list)
    local_image: str = "app"

    @property
    def image(self) -> str:
        """The image repository (no tag): the registry's when one is known, else a local name."""
        return self.registry.image if self.registry and self.registry.host else self.local_image

    def choices(self, path: str) -> list[ToolChoice]:
        return [ToolChoice(e.category, tool, e.ref, path) for e, tool in self.entries]

    def runs(self) -> list[ToolRun]:
        return [*self.sast, *self.secrets, *(r for r in (self.scan_pre, self.scan_post) if r)]


def build(ctx: Context, *, ci_tool: str) -> tuple[CIPlan | None, list[Gap]]:
    """The plan for `ci_tool`, or None (with the gap) when the service cannot be built at all."""
    tc = resolve(ctx.service)
    if tc is None:
        return None, [Gap("services", unknown_language_message(ctx.service), "ci")]
    svc_dir = ctx.service_dir
    dockerfile = ctx.service.dockerfile or join_path(svc_dir, "Dockerfile")
    plan = CIPlan(toolchain=tc, dockerfile=dockerfile, context_dir=svc_dir, local_image=ctx.service.name)
    plan.gaps.extend(ctx.threshold_gaps("ci"))
    ci_entry = ctx.first("ci")
    if ci_entry is not None:
        plan.entries.append((ci_entry, ci_entry.tool))

    # SAST / SCA: every tool named
    sast_entries = ctx.tools("sast_sca")
    if not sast_entries:
        plan.gaps.append(Gap("sast_sca", "the Profile names no SAST/SCA tool: the pipeline has no code or "
                             "dependency scan; add tooling.sast_sca (e.g. semgrep, codeql, snyk-code, sonarqube)", "ci"))
    for entry in sast_entries:
        if entry.tool == "codeql":
            if ci_tool == "github-actions":
                plan.codeql = entry
                plan.entries.append((entry, "codeql"))
            elif ci_tool == "azure-pipelines":
                plan.gaps.append(Gap("sast_sca", f"{entry.ref}: on Azure Pipelines CodeQL comes from GitHub Advanced "
                                     "Security for Azure DevOps: enable its code scanning for the repository (the "
                                     "generated pipeline has no CodeQL step), or name another SAST tool", "ci"))
            else:
                plan.gaps.append(Gap("sast_sca", f"{entry.ref}: CodeQL runs natively only on GitHub Actions; "
                                     f"{ci_tool} gets no CodeQL step: name another SAST tool in the Profile for it",
                                     "ci"))
            continue
        runs, gaps = security.sast_runs(entry, ctx, tc)
        plan.gaps.extend(gaps)
        if runs:
            plan.sast.extend(runs)
            plan.entries.append((entry, entry.tool))

    # secret scanning
    secret_entries = ctx.tools("secret_scanning")
    if not secret_entries:
        plan.gaps.append(Gap("secret_scanning", "the Profile names no secret scanner: the pipeline has no secret "
                             "scan; add tooling.secret_scanning (e.g. gitleaks, trufflehog, gitguardian)", "ci"))
    for entry in secret_entries:
        if entry.tool == "github-secret-scanning":
            plan.github_secret_scanning = entry
            plan.entries.append((entry, entry.tool))
            continue
        run, gaps = security.secret_scan(entry, ctx)
        plan.gaps.extend(gaps)
        if run:
            plan.secrets.append(run)
            plan.entries.append((entry, entry.tool))

    # image scan
    scanner = ctx.first("image_scanning")
    if scanner is None:
        plan.gaps.append(Gap("image_scanning", "the Profile names no image scanner: the pipeline builds the image "
                             "but does not push or sign it (an unscanned image is never published); add "
                             "tooling.image_scanning (e.g. trivy)", "ci"))
    else:
        pre, post, gaps = security.image_scan(scanner, ctx)
        plan.gaps.extend(gaps)
        if pre:
            plan.entries.append((scanner, scanner.tool))
            plan.scan_pre, plan.scan_post = pre, post

    # registry and push
    reg, gaps = registries.resolve(ctx)
    plan.gaps.extend(gaps)
    plan.registry = reg
    if reg is not None:
        plan.entries.append((reg.entry, reg.tool))
    plan.push = bool(reg and reg.can_push(ci_tool) and plan.scan_pre)

    # SBOM / signing: always Syft + Cosign (the constitution requires them); cite the Profile when it names them
    signing = ctx.tools("sbom_signing")
    if not signing:
        plan.gaps.append(Gap("sbom_signing", "the Profile names no SBOM/signing tool; the pipeline uses Syft and "
                             "Cosign keyless as the constitution requires: declare them in tooling.sbom_signing", "ci"))
    for entry in signing:
        if entry.tool == "syft":
            plan.entries.append((entry, "syft"))
        elif entry.tool in ("cosign", "sigstore") and plan.push:
            plan.entries.append((entry, entry.tool))
        elif entry.tool == "in-toto" and plan.push:
            plan.entries.append((entry, "in-toto"))
    return plan, plan.gaps
