"""The generator registry: every generator module is registered once, and every artifact kind has one."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bot.generate as generate_pkg
from bot.generate import ARTIFACT_KINDS, GENERATORS, generate
from bot.generate.base import Generator

from tests.generate.conftest import load_profile

#: modules of bot/generate that are not generators (shared code and the CLI)
SUPPORT = {"base", "cli", "k8s", "plan", "registries", "security", "shell", "toolchains"}
EXPECTED = {"github_actions", "gitlab_ci", "azure_pipelines", "jenkins", "tekton", "dockerfile", "helm", "kustomize",
            "argocd", "flux"}


def _modules() -> set[str]:
    return {m.name for m in pkgutil.iter_modules(generate_pkg.__path__)}


def test_every_generator_module_is_registered_exactly_once() -> None:
    modules = _modules() - SUPPORT
    assert modules == EXPECTED
    registered = [g.name for g in GENERATORS]
    assert sorted(registered) == sorted(set(registered)) == sorted(modules)
    for name in modules:
        module = importlib.import_module(f"bot.generate.{name}")
        assert isinstance(module.GENERATOR, Generator)
        assert module.GENERATOR in GENERATORS, f"bot/generate/{name}.py is not in GENERATORS"
        assert module.GENERATOR.name == name and module.__doc__


def test_support_modules_are_not_generators() -> None:
    for name in SUPPORT:
        module = importlib.import_module(f"bot.generate.{name}")
        assert not hasattr(module, "GENERATOR") and module.__doc__


def test_every_artifact_kind_has_a_generator() -> None:
    assert ARTIFACT_KINDS == ("ci", "docker", "helm", "kustomize", "argocd")
    assert {g.artifact for g in GENERATORS} == set(ARTIFACT_KINDS)
    ci = {g.name for g in GENERATORS if g.artifact == "ci"}
    assert ci == {"github_actions", "gitlab_ci", "azure_pipelines", "jenkins", "tekton"}
    assert {g.name for g in GENERATORS if g.artifact == "argocd"} == {"argocd", "flux"}


@pytest.mark.parametrize("profile_name,expected", [
    ("github-aws", "github_actions"), ("gitlab-gcp", "gitlab_ci"), ("azure-acr", "azure_pipelines"),
    ("jenkins-artifactory", "jenkins"), ("tekton-quay", "tekton"),
])
def test_exactly_one_ci_generator_selects_each_profile(profile_name: str, expected: str) -> None:
    from bot.generate.base import Context

    profile = load_profile(profile_name)
    ctx = Context(profile, profile.services()[0])
    assert [g.name for g in GENERATORS if g.artifact == "ci" and g.selects(ctx)] == [expected]


def test_only_filters_kinds_and_rejects_unknown_ones() -> None:
    profile = load_profile("github-aws")
    service = profile.service("web")
    assert service is not None
    result = generate(profile, service, only={"docker", "argocd"})
    assert {f.artifact for f in result.files} == {"docker", "argocd"}
    with pytest.raises(ValueError, match="unknown artifact kind"):
        generate(profile, service, only={"terraform"})


def test_generation_is_deterministic_and_pure(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    profile = load_profile("tekton-quay")
    service = profile.service("ledger")
    assert service is not None
    before = profile.dumps()
    first = generate(profile, service)
    second = generate(profile, service)
    assert [(f.path, f.content) for f in first.files] == [(f.path, f.content) for f in second.files]
    assert profile.dumps() == before  # the Profile is never mutated
    assert list(tmp_path.iterdir()) == []  # nothing written
