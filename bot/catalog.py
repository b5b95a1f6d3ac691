"""The closed vocabulary of the Environment Profile: categories and the tool ids each may name.

One place defines every category and canonical tool id (DESIGN.md §2), so discovery, the Profile
schema, generators and policy rules all spell a tool the same way. Tools outside this list may still be
*declared* in a Profile (teams run things we do not know yet); discovery only emits ids listed here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

#: category -> {tool id -> display name}
CATEGORIES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "ci": MappingProxyType(
            {
                "github-actions": "GitHub Actions",
                "gitlab-ci": "GitLab CI",
                "azure-pipelines": "Azure Pipelines (Azure DevOps)",
                "tekton": "Tekton",
                "jenkins": "Jenkins",
            }
        ),
        "registry": MappingProxyType(
            {
                "ecr": "Amazon ECR",
                "acr": "Azure Container Registry",
                "quay": "Quay",
                "harbor": "Harbor",
                "artifactory": "JFrog Artifactory",
                "ghcr": "GitHub Container Registry",
                "dockerhub": "Docker Hub",
                "gar": "Google Artifact Registry",
            }
        ),
        "image_scanning": MappingProxyType(
            {
                "clair": "Clair",
                "trivy": "Trivy",
                "snyk-container": "Snyk Container",
                "anchore": "Anchore / Grype",
                "aqua": "Aqua",
            }
        ),
        "sast_sca": MappingProxyType(
            {
                "sonarqube": "SonarQube",
                "snyk-code": "Snyk Code / Open Source",
                "checkmarx": "Checkmarx",
                "semgrep": "Semgrep",
                "codeql": "GitHub Advanced Security (CodeQL)",
            }
        ),
        "secret_scanning": MappingProxyType(
            {
                "trufflehog": "TruffleHog",
                "gitguardian": "GitGuardian",
                "github-secret-scanning": "GitHub secret scanning",
                "gitleaks": "Gitleaks",
            }
        ),
        "sbom_signing": MappingProxyType(
            {
                "syft": "Syft",
                "cosign": "Cosign",
                "sigstore": "Sigstore",
                "in-toto": "in-toto / SLSA provenance",
            }
        ),
        "gitops": MappingProxyType({"argocd": "Argo CD", "flux": "Flux"}),
        "mesh_ingress": MappingProxyType(
            {"istio": "Istio", "linkerd": "Linkerd", "nginx": "NGINX Ingress", "traefik": "Traefik"}
        ),
        "secrets_management": MappingProxyType(
            {
                "vault": "HashiCorp Vault",
                "external-secrets": "External Secrets Operator",
                "sealed-secrets": "Sealed Secrets",
                "aws-secrets-manager": "AWS Secrets Manager",
            }
        ),
        "observability": MappingProxyType(
            {
                "datadog": "Datadog",
                "prometheus": "Prometheus",
                "grafana": "Grafana",
                "new-relic": "New Relic",
                "splunk": "Splunk",
                "dynatrace": "Dynatrace",
            }
        ),
        "ticketing": MappingProxyType(
            {"jira": "Jira", "servicenow": "ServiceNow", "linear": "Linear", "azure-boards": "Azure Boards"}
        ),
        "compliance_evidence": MappingProxyType({"drata": "Drata", "vanta": "Vanta", "hyperproof": "Hyperproof"}),
    }
)

CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)

LANGUAGES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "python": ("fastapi", "django", "flask"),
        "java": ("spring-boot", "quarkus"),
        "go": ("go",),
        "node": ("express", "nestjs"),
        "dotnet": ("aspnet-core",),
    }
)


def display_name(category: str, tool: str) -> str:
    """Human name of a tool id, or the id itself for tools outside the catalog."""
    return CATEGORIES.get(category, {}).get(tool, tool)


def is_known_tool(category: str, tool: str) -> bool:
    return tool in CATEGORIES.get(category, {})
