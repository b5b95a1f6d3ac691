"""A Profile that lacks something an artifact needs yields a Gap naming the category, never a broken file."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.generate import generate
from bot.generate.base import GenerationResult
from bot.profile import Profile

from tests.generate import validators
from tests.generate.conftest import load_profile


def _with(name: str, **tools: list[dict[str, Any]] | None) -> Profile:
    """A sample Profile with some categories replaced (None removes the category)."""
    profile = load_profile(name).copy()
    for category, entries in tools.items():
        profile.set_tools(category, entries or [])
    profile.validate()
    return profile


def _gen(profile: Profile, service: str = "pay-api", **kw: Any) -> GenerationResult:
    svc = profile.service(service)
    assert svc is not None
    return generate(profile, svc, **kw)


def _gap(result: GenerationResult, category: str, artifact: str | None = None) -> str:
    found = [g for g in result.gaps if g.category == category and (artifact is None or g.artifact == artifact)]
    assert found, f"no {category} gap in {result.gaps}"
    return found[0].message


def _valid_workflow(result: GenerationResult, tmp_path) -> str:
    gen = result.file(".github/workflows/trustacks-ci.yml")
    assert gen is not None
    path = tmp_path / "wf.yml"
    path.write_text(gen.content)
    assert validators.check_jsonschema("github-actions", [path])[str(path)] == []
    return gen.content


def test_minimal_profile_names_every_missing_category(tmp_path) -> None:
    result = _gen(load_profile("minimal"))
    categories = {g.category for g in result.gaps}
    assert {"sast_sca", "secret_scanning", "image_scanning", "registry", "sbom_signing", "gitops",
            "mesh_ingress"} <= categories
    for gap in result.gaps:
        assert gap.category in gap.message or "tooling." in gap.message or "Profile" in gap.message
    text = _valid_workflow(result, tmp_path)
    # builds, tests and inventories, but publishes nothing unscanned or unsigned
    assert "docker build" in text and "syft" in text
    assert "docker push" not in text and "cosign" not in text and "id-token" not in text


def test_no_image_scanner_means_no_push(tmp_path) -> None:
    result = _gen(_with("github-aws", image_scanning=None))
    assert "never published" in _gap(result, "image_scanning")
    text = _valid_workflow(result, tmp_path)
    assert "docker push" not in text and "cosign sign" not in text


def test_no_registry_means_no_push_and_a_bare_image_name(tmp_path) -> None:
    result = _gen(_with("github-aws", registry=None))
    _gap(result, "registry", "ci")
    assert "bare name" in _gap(result, "registry", "helm")
    assert "docker push" not in _valid_workflow(result, tmp_path)
    values = yaml.safe_load(result.file("apps/pay-api/chart/values.yaml").content)
    assert values["image"]["repository"] == "pay-api"


@pytest.mark.parametrize("tool,why", [("dockerhub", "Docker Hub"), ("harbor", "Harbor")])
def test_registry_without_oidc_federation_is_never_pushed_with_a_static_key(tool: str, why: str, tmp_path) -> None:
    result = _gen(_with("github-aws", registry=[{"tool": tool, "source": "declared",
                                                  "settings": {"host": "registry.acme.example/team"}}]))
    message = _gap(result, "registry", "ci")
    assert why in message and "long-lived credential" in message
    text = _valid_workflow(result, tmp_path)
    assert "docker push" not in text and "docker login" not in text and "password" not in text.lower()


def test_ghcr_outside_github_actions_is_a_gap() -> None:
    result = _gen(_with("gitlab-gcp", registry=[{"tool": "ghcr", "source": "declared"}]))
    assert "GitHub Actions" in _gap(result, "registry", "ci")
    assert "publish" not in yaml.safe_load(result.file(".gitlab-ci.yml").content)


def test_ghcr_on_github_actions_uses_the_job_token(tmp_path) -> None:
    result = _gen(_with("github-aws", registry=[{"tool": "ghcr", "source": "declared"}]))
    text = _valid_workflow(result, tmp_path)
    doc = yaml.safe_load(text)
    assert doc["env"]["IMAGE"] == "ghcr.io/acme/pay-api"
    assert doc["jobs"]["image"]["permissions"]["packages"] == "write"
    assert "secrets.GITHUB_TOKEN" in text and not [g for g in result.gaps if g.category == "registry"]


@pytest.mark.parametrize("tool", ["ecr", "acr", "gar", "artifactory"])
def test_registry_needing_a_host_says_so(tool: str, tmp_path) -> None:
    result = _gen(_with("github-aws", registry=[{"tool": tool, "source": "declared"}]))
    assert "settings.host" in _gap(result, "registry", "ci")
    assert "docker push" not in _valid_workflow(result, tmp_path)


def test_unknown_tools_are_gaps_not_guesses(tmp_path) -> None:
    result = _gen(_with("github-aws", image_scanning=[{"tool": "acme-scan", "source": "declared"}],
                        sast_sca=[{"tool": "acme-sast", "source": "declared"}],
                        secret_scanning=[{"tool": "acme-secrets", "source": "declared"}]))
    for category in ("image_scanning", "sast_sca", "secret_scanning"):
        assert "acme-" in _gap(result, category)
    text = _valid_workflow(result, tmp_path)
    assert "acme-" not in text and "docker push" not in text


def test_codeql_outside_github_actions_is_a_gap() -> None:
    result = _gen(_with("gitlab-gcp", sast_sca=[{"tool": "codeql", "source": "declared"}]))
    assert "CodeQL" in _gap(result, "sast_sca")
    assert "codeql" not in result.file(".gitlab-ci.yml").content.lower()


def test_invalid_severity_threshold_is_reported_and_the_default_applies(tmp_path) -> None:
    result = _gen(_with("github-aws", image_scanning=[{"tool": "trivy", "source": "declared",
                                                        "settings": {"severity_threshold": "whatever"}}]))
    assert "whatever" in _gap(result, "image_scanning")
    assert "--severity HIGH,CRITICAL" in _valid_workflow(result, tmp_path)


def test_no_ci_platform_no_pipeline() -> None:
    result = _gen(_with("github-aws", ci=None))
    assert "no CI platform" in _gap(result, "ci")
    assert not [f for f in result.files if f.artifact == "ci"]


def test_unknown_language_gets_no_build_but_a_clear_gap() -> None:
    profile = load_profile("minimal")
    result = _gen(profile, "mystery")
    messages = [g.message for g in result.gaps if g.category == "services"]
    assert messages and all("services[].language" in m for m in messages)
    assert result.file("Dockerfile") is None and not [f for f in result.files if f.artifact == "ci"]


def test_no_gitops_tool_no_application() -> None:
    result = _gen(_with("github-aws", gitops=None))
    assert "GitOps" in _gap(result, "gitops")
    assert not [f for f in result.files if f.artifact == "argocd"]


def test_asking_for_the_other_deployment_style_is_a_gap() -> None:
    result = _gen(load_profile("github-aws"), only={"kustomize"})
    assert result.files == [] and "deploy_with" in _gap(result, "platform")


def test_ingress_without_a_domain_ships_disabled() -> None:
    result = _gen(_with("github-aws", mesh_ingress=[{"tool": "nginx", "source": "declared"}]))
    assert "settings.domain" in _gap(result, "mesh_ingress")
    values = yaml.safe_load(result.file("apps/pay-api/chart/values.yaml").content)
    assert values["ingress"]["enabled"] is False and values["ingress"]["host"] == ""


def test_signing_from_an_issuer_public_fulcio_does_not_trust_is_a_gap() -> None:
    result = _gen(_with("jenkins-artifactory", sbom_signing=[{"tool": "cosign", "source": "declared"}]))
    assert "fulcio_url" in _gap(result, "sbom_signing")
    trusted = _gen(_with("jenkins-artifactory", sbom_signing=[{"tool": "cosign", "source": "declared", "settings": {
        "fulcio_url": "https://fulcio.acme.example"}}]))
    assert not [g for g in trusted.gaps if g.category == "sbom_signing"]
    assert "--fulcio-url=https://fulcio.acme.example" in trusted.file("Jenkinsfile").content


def test_gaps_are_not_repeated() -> None:
    for name in ("minimal", "github-aws", "tekton-quay"):
        profile = load_profile(name)
        for service in profile.services():
            gaps = generate(profile, service).gaps
            assert len(gaps) == len(set(gaps))


def test_source_upload_needs_the_profiles_opt_in(tmp_path) -> None:
    no = _gen(_with("github-aws", sast_sca=[{"tool": "snyk-code", "source": "declared"}]))
    assert "source_egress" in _gap(no, "sast_sca") and "TS-DATA-001" in _gap(no, "sast_sca")
    assert "snyk code test" not in _valid_workflow(no, tmp_path)
    yes = _gen(_with("github-aws", sast_sca=[{"tool": "snyk-code", "source": "declared",
                                              "settings": {"source_egress": True}}]))
    text = _valid_workflow(yes, tmp_path)
    assert "snyk code test --severity-threshold=high" in text and "snyk test --all-projects" in text
    assert not [g for g in yes.gaps if g.category == "sast_sca"]
    cloud = _gen(_with("github-aws", sast_sca=[{"tool": "sonarqube", "source": "declared",
                                                "settings": {"host": "https://sonarcloud.io"}}]))
    assert "SonarCloud" in _gap(cloud, "sast_sca")
