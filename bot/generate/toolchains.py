"""Language and framework facts the generators share: images, versions, build and test commands, ports, probes.

Data, not logic: one table per language. A service's `runtime_version` picks the image tag when it parses
(e.g. "3.11", "17", "1.22", "20", "net8.0"); otherwise the table's default applies. Which dependency
manifest a service uses (requirements.txt or pyproject, Maven or Gradle, npm, yarn or pnpm) is read from
the paths in the service's discovery evidence, never from the network.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from bot.catalog import LANGUAGES
from bot.models import Service

DEFAULT_VERSIONS = {"python": "3.13", "java": "21", "go": "1.25", "node": "22", "dotnet": "8.0"}
SUPPORTED_JAVA = ("8", "11", "17", "21", "25")

DEFAULT_PORTS = {
    "fastapi": 8000,
    "django": 8000,
    "flask": 5000,
    "spring-boot": 8080,
    "quarkus": 8080,
    "go": 8080,
    "express": 3000,
    "nestjs": 3000,
    "aspnet-core": 8080,
}

#: GitHub CodeQL language id and build mode per language
CODEQL = {
    "python": ("python", "none"),
    "java": ("java-kotlin", "none"),
    "go": ("go", "autobuild"),
    "node": ("javascript-typescript", "none"),
    "dotnet": ("csharp", "none"),
}


@dataclass(frozen=True)
class Health:
    """How Kubernetes probes reach the app: HTTP paths where the framework defines them, else a TCP check."""

    kind: str  # "http" | "tcp"
    liveness: str = ""
    readiness: str = ""


@dataclass(frozen=True)
class Toolchain:
    language: str
    framework: str
    version: str
    port: int
    manifest: str  # requirements | pyproject | poetry | pipenv | maven | gradle | npm | yarn | pnpm | go | dotnet
    build_image: str
    runtime_image: str
    test: tuple[str, ...]  # shell lines run in build_image from the service directory
    health: Health
    project: str = ""  # .NET: the csproj stem (dll name); empty when unknown
    project_path: str = ""  # .NET: the csproj path relative to the service directory

    @property
    def codeql(self) -> tuple[str, str]:
        return CODEQL[self.language]


def _evidence_names(service: Service) -> set[str]:
    names = {posixpath.basename(e.path) for e in service.evidence}
    if service.dockerfile:
        names.add(posixpath.basename(service.dockerfile))
    return names


def _version(language: str, raw: str | None) -> str:
    text = (raw or "").strip().lower()
    default = DEFAULT_VERSIONS[language]
    if language in ("python", "go", "dotnet"):
        m = re.search(r"(\d+)\.(\d+)", text)
        if not m:
            return default
        major, minor = int(m.group(1)), int(m.group(2))
        if language == "python" and (major != 3 or not 8 <= minor <= 14):
            return default
        if language == "go" and (major != 1 or not 20 <= minor <= 30):
            return default
        if language == "dotnet" and not 6 <= major <= 12:
            return default
        return f"{major}.{minor}"
    m = re.search(r"(\d+)(?:\.(\d+))?", text)
    if not m:
        return default
    major = int(m.group(1))
    if language == "java":
        if major == 1 and m.group(2):  # "1.8"
            major = int(m.group(2))
        return str(major) if str(major) in SUPPORTED_JAVA else default
    if language == "node":
        return str(major) if 18 <= major <= 26 else default
    return default


def _python(service: Service, framework: str, version: str, names: set[str]) -> Toolchain:
    if "poetry.lock" in names:
        manifest, install = "poetry", ("pip install --no-cache-dir poetry==1.8.5", "poetry install --no-interaction")
        run = "poetry run "
    elif "Pipfile" in names or "Pipfile.lock" in names:
        manifest, install = "pipenv", ("pip install --no-cache-dir pipenv==2024.4.0", "pipenv install --dev --deploy --system")
        run = ""
    elif "pyproject.toml" in names and "requirements.txt" not in names:
        manifest, install = "pyproject", ("pip install --no-cache-dir '.[test]' pytest",)
        run = ""
    else:
        manifest = "requirements"
        install = (
            "pip install --no-cache-dir -r requirements.txt",
            "if [ -f requirements-dev.txt ]; then pip install --no-cache-dir -r requirements-dev.txt; fi",
        )
        run = ""
    if framework == "django":
        test = (*install, f"{run}python manage.py test")
    else:
        extra = () if manifest in ("poetry", "pyproject") else ("pip install --no-cache-dir pytest",)
        test = (*install, *extra, f"{run}python -m pytest")
    image = f"python:{version}-slim-bookworm"
    return Toolchain("python", framework, version, service.port or DEFAULT_PORTS[framework], manifest,
                     image, image, test, Health("tcp"))


def _java(service: Service, framework: str, version: str, names: set[str]) -> Toolchain:
    gradle = bool({"build.gradle", "build.gradle.kts"} & names) and "pom.xml" not in names
    if gradle:
        gradle_version = "8.14" if int(version) <= 21 else "9.2"
        build_image = f"gradle:{gradle_version}-jdk{version}"
        test: tuple[str, ...] = ("gradle check --no-daemon",)
    else:
        build_image = f"maven:3.9-eclipse-temurin-{version}"
        test = ("mvn -B -ntp verify",)
    health = (Health("http", "/q/health/live", "/q/health/ready") if framework == "quarkus"
              else Health("http", "/actuator/health/liveness", "/actuator/health/readiness"))
    return Toolchain("java", framework, version, service.port or DEFAULT_PORTS[framework],
                     "gradle" if gradle else "maven", build_image, f"eclipse-temurin:{version}-jre-noble", test, health)


def _go(service: Service, framework: str, version: str, names: set[str]) -> Toolchain:
    return Toolchain("go", "go", version, service.port or DEFAULT_PORTS["go"], "go", f"golang:{version}-bookworm",
                     "gcr.io/distroless/static-debian12:nonroot", ("go build ./...", "go vet ./...", "go test ./..."),
                     Health("tcp"))


def _node(service: Service, framework: str, version: str, names: set[str]) -> Toolchain:
    if "pnpm-lock.yaml" in names:
        manifest = "pnpm"
        test: tuple[str, ...] = ("corepack enable", "pnpm install --frozen-lockfile", "pnpm test")
        build = ("pnpm run build",)
    elif "yarn.lock" in names:
        manifest = "yarn"
        test = ("corepack enable", "yarn install --frozen-lockfile", "yarn test")
        build = ("yarn build",)
    else:
        manifest = "npm"
        test = ("npm ci", "npm test --if-present")
        build = ("npm run build",)
    if framework == "nestjs":
        test = (*test[:-1], *build, test[-1])
    image = f"node:{version}-bookworm-slim"
    return Toolchain("node", framework, version, service.port or DEFAULT_PORTS[framework], manifest,
                     image, image, test, Health("tcp"))


def _dotnet(service: Service, framework: str, version: str, names: set[str]) -> Toolchain:
    prefix = "" if service.path in ("", ".") else service.path.strip("/") + "/"
    paths = sorted(e.path for e in service.evidence if e.path.endswith(".csproj"))
    path = next((p for p in paths if not re.search(r"tests?\.csproj$", p, re.I)), "")
    project = posixpath.basename(path)[: -len(".csproj")] if path else ""
    if path.startswith(prefix):
        path = path[len(prefix):]
    test = ("dotnet restore", "dotnet build --no-restore -c Release", "dotnet test --no-build -c Release")
    return Toolchain("dotnet", "aspnet-core", version, service.port or DEFAULT_PORTS["aspnet-core"], "dotnet",
                     f"mcr.microsoft.com/dotnet/sdk:{version}", f"mcr.microsoft.com/dotnet/aspnet:{version}",
                     test, Health("tcp"), project=project, project_path=path)


_BUILDERS = {"python": _python, "java": _java, "go": _go, "node": _node, "dotnet": _dotnet}


def resolve(service: Service) -> Toolchain | None:
    """The service's toolchain, or None when its language is unknown (the caller reports the gap)."""
    language = (service.language or "").strip().lower()
    if language not in _BUILDERS:
        return None
    frameworks = LANGUAGES[language]
    framework = (service.framework or "").strip().lower()
    if framework not in frameworks:
        framework = frameworks[0]
    version = _version(language, service.runtime_version)
    return _BUILDERS[language](service, framework, version, _evidence_names(service))


def unknown_language_message(service: Service) -> str:
    got = service.language or "no language"
    return (f"service {service.name!r} has {got}; set services[].language to one of "
            f"{', '.join(LANGUAGES)} in the Profile so the build, test and Dockerfile can be generated")
