"""Generators: CI, Dockerfile, Helm, Kustomize and Argo CD / Flux files from the Environment Profile (DESIGN.md §1).

The DevOps Engineer of the seed as pure functions: `generate(profile, service)` returns the files one
service needs, each citing the Profile entries that chose its tools, and the gaps the Profile leaves.
Nothing here touches disk or network. One module per artifact, registered in `GENERATORS` below.

How to add a generator: write `bot/generate/<name>.py` with a `GENERATOR = Generator(...)`, add it to
`GENERATORS`, and add a case to `tests/generate/` (the registry test fails until you do).
"""

from __future__ import annotations

from bot.generate import (
    argocd,
    azure_pipelines,
    dockerfile,
    flux,
    github_actions,
    gitlab_ci,
    helm,
    jenkins,
    kustomize,
    tekton,
)
from bot.generate.base import (
    ARTIFACT_KINDS,
    Context,
    Gap,
    GeneratedFile,
    GenerationResult,
    Generator,
)
from bot.models import Service
from bot.profile import Profile

__all__ = ["ARTIFACT_KINDS", "GENERATORS", "Gap", "GeneratedFile", "GenerationResult", "Generator", "generate"]

#: every generator, one line each; order is the order of files in a result
GENERATORS: tuple[Generator, ...] = (
    github_actions.GENERATOR,
    gitlab_ci.GENERATOR,
    azure_pipelines.GENERATOR,
    jenkins.GENERATOR,
    tekton.GENERATOR,
    dockerfile.GENERATOR,
    helm.GENERATOR,
    kustomize.GENERATOR,
    argocd.GENERATOR,
    flux.GENERATOR,
)


def _unselected_gap(artifact: str, ctx: Context) -> Gap:
    """Why no generator of `artifact` applies to this Profile."""
    if artifact == "ci":
        entry = ctx.first("ci")
        if entry is None:
            return Gap("ci", "the Profile names no CI platform: no pipeline generated; add tooling.ci "
                       "(github-actions, gitlab-ci, azure-pipelines, jenkins or tekton)", artifact)
        return Gap("ci", f"{entry.ref}: no generator for CI platform {entry.tool!r}; supported: github-actions, "
                   "gitlab-ci, azure-pipelines, jenkins, tekton", artifact)
    if artifact in ("helm", "kustomize"):
        return Gap("platform", f"platform.deploy_with is {ctx.profile.deploy_with!r}: no {artifact} files generated; "
                   f"set platform.deploy_with: {artifact} to deploy with {artifact}", artifact)
    if artifact == "argocd":
        entry = ctx.first("gitops")
        if entry is None:
            return Gap("gitops", "the Profile names no GitOps tool: no Argo CD Application or Flux objects "
                       "generated; add tooling.gitops (argocd or flux)", artifact)
        return Gap("gitops", f"{entry.ref}: no generator for GitOps tool {entry.tool!r}; supported: argocd, flux",
                   artifact)
    return Gap("services", f"no {artifact} generator applies to service {ctx.service.name!r}", artifact)


def generate(profile: Profile, service: Service, *, only: set[str] | None = None) -> GenerationResult:
    """Every artifact for one service (or only the kinds in `only`), with the Profile's gaps for them."""
    if only is not None:
        unknown = sorted(set(only) - set(ARTIFACT_KINDS))
        if unknown:
            raise ValueError(f"unknown artifact kind(s) {', '.join(unknown)}; choose from {', '.join(ARTIFACT_KINDS)}")
    ctx = Context(profile, service)
    result = GenerationResult()
    wanted = [k for k in ARTIFACT_KINDS if only is None or k in only]
    for artifact in wanted:
        chosen = [g for g in GENERATORS if g.artifact == artifact and g.selects(ctx)]
        if not chosen:
            if only is not None or artifact not in ("helm", "kustomize"):
                result.gaps.append(_unselected_gap(artifact, ctx))
            continue
        for gen in chosen:
            out = gen.render(ctx)
            result.files.extend(out.files)
            for gap in out.gaps:
                if gap not in result.gaps:
                    result.gaps.append(gap)
    return result
