"""Detector behaviour that the fixtures do not pin down: false positives we refuse, parsing corners."""

from __future__ import annotations

import pytest

from bot.discovery import discover
from bot.discovery.base import classify, redact
from bot.discovery.registry import registry_tool
from bot.tree import MemoryTree


def _keys(files, repo="acme/app"):
    return {f.key for f in discover(MemoryTree(files), repo=repo).findings}


@pytest.mark.parametrize(
    "host,tool",
    [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "ecr"),
        ("public.ecr.aws", "ecr"),
        ("acme.azurecr.io", "acr"),
        ("us-docker.pkg.dev", "gar"),
        ("quay.io", "quay"),
        ("ghcr.io", "ghcr"),
        ("docker.io", "dockerhub"),
        ("acme.jfrog.io", "artifactory"),
        ("artifactory.corp.example", "artifactory"),
        ("harbor.corp.example:8443", "harbor"),
        ("registry.corp.example", None),
        ("12345.dkr.ecr.us-east-1.amazonaws.com", None),
    ],
)
def test_registry_hosts(host, tool):
    assert registry_tool(host) == tool


def test_public_base_images_are_not_the_teams_registry():
    files = {"Dockerfile": "FROM python:3.12\nFROM ghcr.io/astral-sh/uv:0.4 AS uv\nFROM quay.io/prometheus/busybox\n"}
    assert not {k for k in _keys(files) if k[0] == "registry"}
    private = {"Dockerfile": "FROM 123456789012.dkr.ecr.eu-west-1.amazonaws.com/base/python:3.12\n"}
    assert ("registry", "ecr") in _keys(private)


def test_public_tool_images_in_ci_jobs_are_not_the_teams_registry_but_own_namespace_is():
    ci = "lint:\n  image: ghcr.io/vendor/linter:1\n  script: [lint]\nbuild:\n  script:\n    - echo\n"
    assert ("registry", "ghcr") not in _keys({".gitlab-ci.yml": ci})
    own = ci.replace("ghcr.io/vendor/linter:1", "ghcr.io/acme/builder:1")
    assert ("registry", "ghcr") in _keys({".gitlab-ci.yml": own})


def test_commented_out_steps_do_not_count():
    wf = "on: push\njobs:\n  a:\n    steps:\n      # - uses: aquasecurity/trivy-action@0.24.0\n      - run: make\n"
    assert ("image_scanning", "trivy") not in _keys({".github/workflows/ci.yml": wf})


def test_keys_that_are_standards_are_not_jira_projects():
    template = "Encoding must be UTF-8, hashes SHA-256, see RFC-7231 and CVE-2024-1234.\n"
    assert ("ticketing", "jira") not in _keys({".github/pull_request_template.md": template})
    template += "Ticket: OPS-17\n"
    found = discover(MemoryTree({".github/pull_request_template.md": template}), repo="acme/app").findings
    [jira] = [f for f in found if f.key == ("ticketing", "jira")]
    assert dict(jira.details) == {"project_keys": "OPS"}
    assert str(jira.evidence[0]) == ".github/pull_request_template.md:2"


def test_evidence_lines_survive_crlf_and_bom():
    wf = "\ufeffname: ci\r\non: push\r\njobs:\r\n  a:\r\n    steps:\r\n      - uses: gitleaks/gitleaks-action@v2\r\n"
    found = discover(MemoryTree({".github/workflows/ci.yml": wf.encode("utf-8")}), repo="acme/app").findings
    gl = next(f for f in found if f.key == ("secret_scanning", "gitleaks"))
    assert (str(gl.evidence[0]), gl.evidence[0].snippet) == (".github/workflows/ci.yml:6", "- uses: gitleaks/gitleaks-action@v2")


def test_snippets_mask_credentials():
    assert redact("password: hunter2") == "password: ***"
    assert redact("docker login -u me -p s3cr3tvalue ghcr.io") == "docker login -u me -p *** ghcr.io"
    assert redact("GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}") == "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"
    assert redact('"@aws-sdk/client-secrets-manager": "^3.598.0"') == '"@aws-sdk/client-secrets-manager": "^3.598.0"'


@pytest.mark.parametrize(
    "path,kind",
    [
        (".github/workflows/ci.yml", "workflow"),
        ("ci/Jenkinsfile", "jenkinsfile"),
        ("services/a/Dockerfile.prod", "dockerfile"),
        ("requirements/base.txt", "python-manifest"),
        ("api/Api.csproj", "dotnet-manifest"),
        (".azuredevops/pull_request_template.md", "pr-template"),
        ("deploy/grafana/dash.json", "dashboard"),
        (".tekton/run.yaml", "tekton-dir"),
    ],
)
def test_classify_by_path(path, kind):
    assert kind in classify(path)


def test_source_files_are_never_candidates():
    assert classify("src/payments/models.py") == frozenset()
    assert classify("web/src/components/Button.tsx") == frozenset()
    assert classify("docs/README.md") == frozenset()


def test_monorepo_yields_one_service_per_app_and_ignores_tooling_packages():
    files = {
        "apps/web/package.json": '{"dependencies": {"@nestjs/core": "10"}}',
        "apps/api/go.mod": "module x\n\ngo 1.22\n",
        "apps/api/cmd/api/main.go": 'package main\nfunc main() { http.ListenAndServe(":8081", nil) }\n',
        "libs/util/go.mod": "module y\n\ngo 1.22\n",  # a library: no main package, no Dockerfile
        "package.json": '{"private": true, "workspaces": ["apps/*"], "devDependencies": {"turbo": "2"}}',
        "apps/billing/Billing.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup>'
        "<TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>",
        "apps/billing.tests/Billing.Tests.csproj": '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup>'
        '<PackageReference Include="Microsoft.NET.Test.Sdk" Version="17" /></ItemGroup></Project>',
    }
    services = discover(MemoryTree(files), repo="acme/mono").services
    got = {(s.path, s.language, s.framework, s.runtime_version, s.port) for s in services}
    assert got == {
        ("apps/api", "go", "go", "1.22", 8081),
        ("apps/billing", "dotnet", "aspnet-core", "8.0", None),
        ("apps/web", "node", "nestjs", None, None),
    }


def test_spring_and_quarkus_from_gradle_and_an_aggregator_pom_is_not_a_service():
    files = {
        "pom.xml": "<project><packaging>pom</packaging><parent><artifactId>spring-boot-starter-parent</artifactId>"
        "</parent><modules><module>svc</module></modules></project>",
        "svc/build.gradle": "plugins { id 'org.springframework.boot' version '3.3.0' }\n"
        "java { sourceCompatibility = JavaVersion.VERSION_17 }\n",
        "q/build.gradle.kts": 'plugins { id("io.quarkus") }\n',
    }
    got = {(s.path, s.framework, s.runtime_version) for s in discover(MemoryTree(files), repo="acme/j").services}
    assert got == {("svc", "spring-boot", "17"), ("q", "quarkus", None)}
