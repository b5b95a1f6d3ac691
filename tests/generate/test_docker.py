"""Dockerfiles: hadolint-clean at every level, multi-stage, pinned bases, non-root, no secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.generate import generate
from bot.generate.toolchains import resolve
from bot.models import Evidence, Service

from tests.generate import validators
from tests.generate.conftest import Corpus, load_profile, pairs

DOCKER_PAIRS = [p for p in pairs(["github-aws"])]


@pytest.mark.parametrize("profile_name,service_name", DOCKER_PAIRS)
def test_hadolint_reports_nothing(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    path = str(case.paths["Dockerfile"])
    assert path in corpus.hadolint_report, "hadolint did not see the file"
    assert corpus.hadolint_report[path] == []


def test_hadolint_wrapper_reports_findings(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    report = validators.hadolint([bad], config=config)
    codes = " ".join(report[str(bad)])
    assert "DL3007" in codes and "DL3003" in codes


@pytest.mark.parametrize("profile_name,service_name", DOCKER_PAIRS)
def test_dockerfile_is_multistage_pinned_and_non_root(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    text = case.file("Dockerfile").content
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(froms) == 2 and "AS build" in text
    for image in froms:
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest", image
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users
    tc = resolve(case.service)
    assert tc is not None and f"EXPOSE {tc.port}" in text
    assert not re.search(r"(?i)(password|secret|token|api_key)\s*=", text)
    assert not re.search(r"^(ARG|ENV)\s+\S*(SECRET|TOKEN|PASSWORD|KEY)", text, re.M | re.I)
    if tc.language in ("python", "node") or tc.language == "java":
        assert "HEALTHCHECK" in text
    else:
        assert "No HEALTHCHECK" in text  # distroless / ASP.NET runtime: said why, probes cover it


def test_dockerignore_keeps_secrets_and_git_out_of_the_context(corpus: Corpus) -> None:
    case = corpus.case("github-aws", "pay-api")
    ignore = case.file(".dockerignore").content.splitlines()
    for pattern in (".git", "**/.env", "**/*.pem", "**/*.key", "**/node_modules"):
        assert pattern in ignore


def test_the_uid_the_image_runs_as_is_the_uid_the_chart_runs_as(corpus: Corpus) -> None:
    import yaml

    for (profile_name, name), case in corpus.cases.items():
        if "Dockerfile" not in case.paths or case.profile.deploy_with != "helm":
            continue
        user = re.findall(r"^USER (\d+)", case.file("Dockerfile").content, re.M)[-1]
        values = yaml.safe_load(case.file(f"{case.profile.platform.get('gitops_path', 'apps')}/{name}/chart/values.yaml").content)
        assert values["podSecurityContext"]["runAsUser"] == int(user), (profile_name, name)


@pytest.mark.parametrize("evidence,expected", [
    (["requirements.txt:1"], "COPY requirements.txt ./"),
    (["pyproject.toml:1"], "RUN pip install --no-cache-dir ."),
    (["pyproject.toml:1", "poetry.lock:1"], "poetry export"),
    (["Pipfile:1"], "pipenv requirements"),
])
def test_python_dependency_manifest_is_read_from_evidence(tmp_path: Path, evidence: list[str], expected: str) -> None:
    profile = load_profile("minimal")
    service = Service(name="svc", repo="acme/svc", language="python", framework="flask",
                      evidence=[Evidence(e.split(":")[0], 1) for e in evidence])
    text = generate(profile, service, only={"docker"}).file("Dockerfile").content
    assert expected in text
    df = tmp_path / "Dockerfile"
    df.write_text(text)
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    assert validators.hadolint([df], config=config)[str(df)] == []


def test_an_existing_dockerfile_is_not_replaced() -> None:
    profile = load_profile("github-aws")
    service = profile.service("orders")
    assert service is not None
    service.dockerfile = "build/Dockerfile"
    result = generate(profile, service)
    assert result.file("Dockerfile") is None
    ci = result.file(".github/workflows/trustacks-ci.yml")
    assert ci is not None and "-f build/Dockerfile ." in ci.content


def test_every_generated_dockerfile_is_hadolint_clean(corpus: Corpus) -> None:
    report = corpus.hadolint_report
    assert len(report) == sum(1 for c in corpus.cases.values() if "Dockerfile" in c.paths) >= 5 * 9
    assert {path: findings for path, findings in report.items() if findings} == {}
