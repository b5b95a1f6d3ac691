"""Shared fixtures: every sample Profile x every service generated once per session, validators run in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest

from bot.generate import GenerationResult, generate
from bot.generate.base import GeneratedFile
from bot.models import Service
from bot.profile import Profile

from tests.generate import validators

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PROFILES_DIR = FIXTURES / "profiles"

#: the sample Profile that exercises each CI platform (every one lists all nine frameworks)
CI_PROFILES = {
    "github-actions": "github-aws",
    "gitlab-ci": "gitlab-gcp",
    "azure-pipelines": "azure-acr",
    "jenkins": "jenkins-artifactory",
    "tekton": "tekton-quay",
}


def load_profile(name: str) -> Profile:
    path = PROFILES_DIR / f"{name}.yaml"
    return Profile.loads(path.read_bytes(), path=str(path.relative_to(FIXTURES.parent)))


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def pairs(names: list[str] | None = None) -> list[tuple[str, str]]:
    """(profile, service) for every service of the given sample Profiles (all by default)."""
    out = []
    for name in names or profile_names():
        out += [(name, s.name) for s in load_profile(name).services()]
    return out


@dataclass
class Case:
    profile_name: str
    profile: Profile
    service: Service
    result: GenerationResult
    root: Path
    paths: dict[str, Path] = field(default_factory=dict)  # generated path -> file on disk

    @property
    def ci_tool(self) -> str | None:
        entry = self.profile.first_tool("ci")
        return entry.tool if entry else None

    def files(self, artifact: str) -> list[GeneratedFile]:
        return [f for f in self.result.files if f.artifact == artifact]

    def file(self, path: str) -> GeneratedFile:
        found = self.result.file(path)
        assert found is not None, f"{path} not generated; got {self.result.paths()}"
        return found


class Corpus:
    """All cases, written to disk, with validator reports computed on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cases: dict[tuple[str, str], Case] = {}
        for name in profile_names():
            profile = load_profile(name)
            for service in profile.services():
                case_root = root / name / service.name
                case = Case(name, profile, service, generate(profile, service), case_root)
                for gen in case.result.files:
                    dest = case_root / gen.target / gen.path
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_text(gen.content, encoding="utf-8")
                    case.paths[gen.path] = dest
                self.cases[(name, service.name)] = case

    def case(self, profile_name: str, service_name: str) -> Case:
        return self.cases[(profile_name, service_name)]

    def ci_files(self, tool: str) -> list[Path]:
        return [c.paths[f.path] for c in self.cases.values() if c.ci_tool == tool for f in c.files("ci")]

    @cached_property
    def schema_reports(self) -> dict[str, list[str]]:
        report: dict[str, list[str]] = {}
        for tool in validators.SCHEMAS:
            report.update(validators.check_jsonschema(tool, self.ci_files(tool)))
        return report

    @cached_property
    def hadolint_report(self) -> dict[str, list[str]]:
        config = self.root / "hadolint-empty.yaml"
        config.write_text("{}\n")
        files = [c.paths["Dockerfile"] for c in self.cases.values() if "Dockerfile" in c.paths]
        return validators.hadolint(files, config=config)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("generated"))
