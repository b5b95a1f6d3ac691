"""Application detector: one Service per app directory with language, framework, runtime, port, Dockerfile, chart.

An app directory is one holding a language manifest (pyproject/requirements/Pipfile, package.json, go.mod,
pom.xml/build.gradle, *.csproj) whose dependencies name a supported framework (FastAPI, Django, Flask,
Spring Boot, Quarkus, Express, NestJS, ASP.NET Core; any Go module with a main package), or that ships its
own Dockerfile. Monorepos therefore yield one Service per app. Runtime versions come from version pins,
build files and Dockerfile base images; the port from `EXPOSE`, framework config or the entry point.
Nothing is executed: `setup.py` and build scripts are read as text.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from bot.discovery.base import Context, Detector, Evidence, Source, dirname, is_under
from bot.models import Service

_ORDER = ("python", "java", "go", "dotnet", "node")
_MANIFEST_KIND = {
    "python-manifest": "python",
    "node-manifest": "node",
    "go-manifest": "go",
    "java-manifest": "java",
    "dotnet-manifest": "dotnet",
}


@dataclass
class _App:
    """What one directory says about one language."""

    language: str
    framework: str | None = None
    runtime: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    runnable: bool = True  # False for aggregators, libraries, test projects
    runtime_evidence: Evidence | None = None
    port: int | None = None
    port_evidence: Evidence | None = None


# --------------------------------------------------------------------------- helpers


def _dep_line(src: Source, name: str) -> Evidence | None:
    esc = re.escape(name)
    for pat in (
        rf"(?im)^\s*[\"']?{esc}(?![\w-])(?:\s*[\"']?\s*[:=<>~!\[;,]|\s*$|[\"'])",
        rf"(?i)[\"']{esc}(?![\w-])",
        rf"(?i)(?<![\w.-]){esc}(?![\w-])",
    ):
        m = src.first(re.compile(pat))
        if m is not None:
            return src.evidence_at(m.start())
    return None


def _major_minor(text: str | None) -> str | None:
    if not text:
        return None
    m = re.search(r"(\d+)(?:\.(\d+))?", str(text))
    if not m:
        return None
    return f"{m.group(1)}.{m.group(2)}" if m.group(2) is not None else m.group(1)


def _major(text: str | None) -> str | None:
    if not text:
        return None
    m = re.search(r"(\d+)", str(text))
    return m.group(1) if m else None


_PEP508_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- Python

_PY_FRAMEWORKS = (("django", "django"), ("fastapi", "fastapi"), ("flask", "flask"))


def _python(ctx: Context, d: str, paths: list[str]) -> _App | None:
    deps: dict[str, tuple[Source, str]] = {}  # normalized name -> where it is declared (evidence made lazily)
    runtime: tuple[str, Evidence] | None = None
    for path in paths:
        src = ctx.source(path)
        if src is None:
            continue
        name = path.rsplit("/", 1)[-1].lower()
        names: list[str] = []
        if name == "pyproject.toml":
            data = ctx.toml(path) or {}
            project = data.get("project") if isinstance(data.get("project"), dict) else {}
            for spec in project.get("dependencies") or []:
                if isinstance(spec, str) and (m := _PEP508_NAME.match(spec)):
                    names.append(m.group(1))
            for group in (project.get("optional-dependencies") or {}).values():
                for spec in group if isinstance(group, list) else []:
                    if isinstance(spec, str) and (m := _PEP508_NAME.match(spec)):
                        names.append(m.group(1))
            poetry = ((data.get("tool") or {}).get("poetry") or {}) if isinstance(data.get("tool"), dict) else {}
            pdeps = poetry.get("dependencies") if isinstance(poetry, dict) else None
            if isinstance(pdeps, dict):
                names.extend(k for k in pdeps if k != "python")
                if runtime is None and isinstance(pdeps.get("python"), str):
                    v = _major_minor(pdeps["python"])
                    if v:
                        runtime = (v, src.find_evidence(re.compile(r"(?m)^python\s*=")) or src.evidence(1))
            rp = project.get("requires-python")
            if runtime is None and isinstance(rp, str) and _major_minor(rp):
                runtime = (_major_minor(rp), src.find_evidence("requires-python"))  # type: ignore[assignment]
        elif name == "pipfile":
            data = ctx.toml(path) or {}
            for section in ("packages", "dev-packages"):
                if isinstance(data.get(section), dict):
                    names.extend(data[section])
            requires = data.get("requires") if isinstance(data.get("requires"), dict) else {}
            if runtime is None and isinstance(requires.get("python_version"), str):
                runtime = (requires["python_version"], src.find_evidence("python_version"))  # type: ignore[assignment]
        elif name.endswith(".txt"):
            for line in src.text.split("\n"):
                if (m := _PEP508_NAME.match(line)) and not line.lstrip().startswith(("-", "#")):
                    names.append(m.group(1))
        else:  # setup.py / setup.cfg: read as text, never run
            for fw, _ in _PY_FRAMEWORKS:
                if re.search(rf"(?i)[\"'\s]{fw}\s*(?:[<>=~!\[;,\"']|$)", src.text):
                    names.append(fw)
        for n in names:
            deps.setdefault(_norm(n), (src, n))
    app = _App("python")
    manage = f"{d}/manage.py" if d != "." else "manage.py"
    for dep, fw in _PY_FRAMEWORKS:
        if dep in deps:
            app.framework = fw
            ev = _dep_line(*deps[dep])
            if ev is not None:
                app.evidence.append(ev)
            break
    if app.framework is None and manage in ctx.kinds:
        app.framework = "django"
        src = ctx.source(manage)
        if src is not None:
            app.evidence.append(src.find_evidence("DJANGO_SETTINGS_MODULE") or src.evidence(1))  # type: ignore[arg-type]
    if runtime:
        app.runtime, app.runtime_evidence = runtime
    return app


# --------------------------------------------------------------------------- Node


def _node(ctx: Context, d: str, paths: list[str]) -> _App | None:
    path = paths[0]
    data = ctx.json(path)
    src = ctx.source(path)
    if not isinstance(data, dict) or src is None:
        return None
    deps: dict[str, Any] = {}
    for section in ("dependencies", "devDependencies"):
        if isinstance(data.get(section), dict):
            deps.update(data[section])
    app = _App("node")
    for dep, fw in (("@nestjs/core", "nestjs"), ("express", "express")):
        if dep in deps:
            app.framework = fw
            ev = src.find_evidence(f'"{dep}"', default_line=None)
            if ev:
                app.evidence.append(ev)
            break
    engines = data.get("engines")
    if isinstance(engines, dict) and isinstance(engines.get("node"), str) and _major(engines["node"]):
        app.runtime = _major(engines["node"])
        app.runtime_evidence = src.find_evidence('"node"')
    if app.framework is None and "workspaces" in data:
        app.runnable = False
    return app


# --------------------------------------------------------------------------- Go

_GO_DIRECTIVE = re.compile(r"^go\s+(\d+\.\d+)(?:\.\d+)?\s*$", re.MULTILINE)


def _go(ctx: Context, d: str, paths: list[str]) -> _App | None:
    src = ctx.source(paths[0])
    if src is None:
        return None
    app = _App("go", framework="go")
    module = src.find_evidence(re.compile(r"^module\s+\S+", re.MULTILINE))
    if module:
        app.evidence.append(module)
    m = _GO_DIRECTIVE.search(src.text)
    if m:
        app.runtime = m.group(1)
        app.runtime_evidence = src.evidence_at(m.start())
    modules = ctx.memo("go-modules", lambda: {dirname(p) for p in ctx.files("go-manifest")})
    app.runnable = any(
        _nearest(dirname(p), modules) == d
        for p in ctx.files("entrypoint")
        if (p.endswith("/main.go") or p == "main.go") and is_under(p, d)
    )
    return app


def _nearest(directory: str, candidates: set[str]) -> str | None:
    """The closest of `candidates` that is `directory` or one of its parents."""
    cur = directory
    while True:
        if cur in candidates:
            return cur
        if cur == ".":
            return None
        cur = dirname(cur)


# --------------------------------------------------------------------------- Java

_GRADLE_SPRING = re.compile(r"org\.springframework\.boot")
_GRADLE_QUARKUS = re.compile(r"""id\s*\(?\s*["']io\.quarkus["']|io\.quarkus(?:\.platform)?:""")
_GRADLE_JAVA = re.compile(
    r"JavaLanguageVersion\.of\(\s*(\d+)\s*\)|jvmToolchain\(\s*(\d+)\s*\)|sourceCompatibility\s*=\s*"
    r"(?:JavaVersion\.VERSION_(\d+)|['\"]?(\d+))"
)


def _text(el: Any) -> str:
    return (el.text or "").strip() if el is not None else ""


def _java(ctx: Context, d: str, paths: list[str]) -> _App | None:
    app = _App("java")
    for path in sorted(paths, key=lambda p: not p.endswith("pom.xml")):
        src = ctx.source(path)
        if src is None:
            continue
        if path.endswith("pom.xml"):
            root = ctx.xml(path)
            if root is None:
                continue
            if _text(root.find("packaging")) == "pom":
                app.runnable = False
            parent = _text(root.find("parent/artifactId"))
            group_ids = {_text(g) for g in root.iter("groupId")}
            artifact_ids = {_text(a) for a in root.iter("artifactId")}
            if parent == "spring-boot-starter-parent" or "org.springframework.boot" in group_ids:
                app.framework = "spring-boot"
                ev = src.find_evidence(
                    re.compile(r"<artifactId>spring-boot-starter(?:-parent|-web|-webflux)?</artifactId>"), default_line=None
                )
            elif any(g.startswith("io.quarkus") for g in group_ids) or any(a.startswith("quarkus-") for a in artifact_ids):
                app.framework = "quarkus"
                ev = src.find_evidence(re.compile(r"<(?:groupId|artifactId)>(?:io\.)?quarkus"), default_line=None)
            else:
                ev = None
            if ev:
                app.evidence.append(ev)
            props = root.find("properties")
            for key in ("java.version", "maven.compiler.release", "maven.compiler.source", "maven.compiler.target"):
                value = _text(props.find(key)) if props is not None else ""
                if value and _major(value) and app.runtime is None:
                    # Java 8 is still spelled "1.8"
                    app.runtime = "8" if value.startswith("1.8") else _major(value)
                    app.runtime_evidence = src.find_evidence(f"<{key}>")
        else:
            if app.framework is None:
                if (m := src.first(_GRADLE_SPRING)) is not None:
                    app.framework = "spring-boot"
                    app.evidence.append(src.evidence_at(m.start()))
                elif (m := src.first(_GRADLE_QUARKUS)) is not None:
                    app.framework = "quarkus"
                    app.evidence.append(src.evidence_at(m.start()))
            if app.runtime is None and (m := src.first(_GRADLE_JAVA)) is not None:
                app.runtime = next(g for g in m.groups() if g)
                app.runtime_evidence = src.evidence_at(m.start())
    return app


# --------------------------------------------------------------------------- .NET


def _dotnet(ctx: Context, d: str, paths: list[str]) -> _App | None:
    app = _App("dotnet", runnable=False)
    for path in paths:
        src = ctx.source(path)
        root = ctx.xml(path)
        if src is None or root is None:
            continue
        refs = {(r.get("Include") or "") for r in root.iter("PackageReference")}
        is_test = "Microsoft.NET.Test.Sdk" in refs or _text(next(iter(root.iter("IsTestProject")), None)).lower() == "true"
        if (root.get("Sdk") or "").startswith("Microsoft.NET.Sdk.Web") and not is_test:
            app.framework = "aspnet-core"
            app.runnable = True
            app.evidence.append(src.find_evidence("Microsoft.NET.Sdk.Web"))  # type: ignore[arg-type]
        tf = _text(next(iter(root.iter("TargetFramework")), None)) or _text(next(iter(root.iter("TargetFrameworks")), None))
        m = re.search(r"net(?:coreapp)?(\d+\.\d+)", tf)
        if m and app.runtime is None:
            app.runtime = m.group(1)
            app.runtime_evidence = src.find_evidence("<TargetFramework")
        if is_test:
            app.runnable = False
            app.framework = None
    return app


_ANALYZERS = {"python": _python, "node": _node, "go": _go, "java": _java, "dotnet": _dotnet}

# --------------------------------------------------------------------------- Dockerfiles, pins, ports

_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.MULTILINE | re.IGNORECASE)
_FROM_RUNTIME = {
    "python": (re.compile(r"(?:^|/)python:(\d+\.\d+)"), "python"),
    "node": (re.compile(r"(?:^|/)node:(\d+)"), "node"),
    "go": (re.compile(r"(?:^|/)golang:(\d+\.\d+)"), "go"),
    "java": (
        re.compile(r"(?:^|/)(?:eclipse-temurin|openjdk|amazoncorretto|ibm-semeru-runtimes|azul/zulu-openjdk):(\d+)"
                   r"|(?:^|/)maven:[\w.-]*?(?:temurin|jdk|openjdk|corretto)-?(\d+)|(?:^|/)gradle:[\w.-]*?jdk(\d+)"
                   r"|ubi\d*/openjdk-(\d+)"),
        "java",
    ),
    "dotnet": (re.compile(r"dotnet/(?:sdk|aspnet|runtime):(\d+\.\d+)"), "dotnet"),
}
_EXPOSE = re.compile(r"^\s*EXPOSE\s+(\d{2,5})", re.MULTILINE | re.IGNORECASE)
_DOCKER_PORT = re.compile(
    r"(?:--port[=\s\"',]+|--bind[=\s\"',]+[\w.]*:|\s-b[\s\"',]+[\w.]*:|ASPNETCORE_HTTP_PORTS[=\s]+|ASPNETCORE_URLS[=\s]+"
    r"https?://[^:\s]+:|\bPORT[=\s]+)(\d{2,5})\b"
)
_PIN_FILES = {
    "python": (".python-version", "runtime.txt", ".tool-versions"),
    "node": (".nvmrc", ".node-version", ".tool-versions"),
    "java": (".java-version", ".sdkmanrc", ".tool-versions"),
    "go": (".go-version", ".tool-versions"),
    "dotnet": ("global.json",),
}
_TOOL_VERSIONS = {"python": "python", "node": "nodejs", "java": "java", "go": "golang"}


def _pin(ctx: Context, d: str, language: str) -> tuple[str, Evidence] | None:
    """Runtime from a version pin file in the app dir or one of its parents."""
    cur = d
    while True:
        for name in _PIN_FILES[language]:
            path = name if cur == "." else f"{cur}/{name}"
            if path not in ctx.kinds:
                continue
            src = ctx.source(path)
            if src is None:
                continue
            if name == ".tool-versions":
                m = re.search(rf"(?m)^{_TOOL_VERSIONS[language]}\s+(\S+)", src.text)
                raw = m.group(1) if m else None
                pos = m.start() if m else 0
            elif name == ".sdkmanrc":
                m = re.search(r"(?m)^java\s*=\s*(\S+)", src.text)
                raw, pos = (m.group(1), m.start()) if m else (None, 0)
            elif name == "global.json":
                data = ctx.json(path)
                raw = ((data or {}).get("sdk") or {}).get("version") if isinstance(data, dict) else None
                pos = src.text.find('"version"')
            elif name == "runtime.txt":
                m = re.search(r"python-(\d+\.\d+)", src.text)
                raw, pos = (m.group(1), m.start()) if m else (None, 0)
            else:
                raw, pos = src.text.strip().lstrip("v") or None, 0
            if not raw:
                continue
            if language in ("python", "go"):
                version = _major_minor(raw)
            elif language == "dotnet":
                version = ".".join(str(raw).split(".")[:1]) + ".0" if _major(raw) else None
            else:
                version = "8" if str(raw).startswith("1.8") else _major(raw)
            if version:
                return version, src.evidence_at(max(0, pos))
        if cur == ".":
            return None
        cur = dirname(cur)


def _dockerfile_runtime(src: Source, language: str) -> tuple[str, Evidence] | None:
    pattern, _ = _FROM_RUNTIME[language]
    for m in _FROM.finditer(src.text):
        rm = pattern.search(m.group(1))
        if rm:
            return next(g for g in rm.groups() if g), src.evidence_at(m.start())
    return None


def _dockerfile_port(src: Source) -> tuple[int, Evidence] | None:
    for pattern in (_EXPOSE, _DOCKER_PORT):
        m = src.first(pattern)
        if m is not None and 0 < int(m.group(1)) < 65536:
            return int(m.group(1)), src.evidence_at(m.start())
    return None


_CONFIG_PORT = (
    re.compile(r"^\s*(?:server\.port|quarkus\.http\.port)\s*[=:]\s*(\d{2,5})\s*$", re.MULTILINE),
    re.compile(r"\"Url\"\s*:\s*\"https?://[^:\"]+:(\d{2,5})\""),
)
_YAML_SERVER_PORT = re.compile(r"^(?:server|  http):\s*\n(?:\s+.*\n)*?\s+port:\s*(\d{2,5})", re.MULTILINE)
_ENTRY_PORT = (
    re.compile(r"\bport\s*=\s*(\d{2,5})\b"),  # uvicorn.run(app, port=8000), app.run(port=5000)
    re.compile(r"\.listen\(\s*(?:process\.env\.PORT\s*(?:\|\||\?\?)\s*)?(\d{2,5})\b"),
    re.compile(r"\bPORT\s*(?:\|\||\?\?)\s*(\d{2,5})\b"),
    re.compile(r"(?:Listen\w*|Run|Addr:?)\s*\(?\s*\"[^\"]*:(\d{2,5})\""),
    re.compile(r"(?:UseUrls|Urls\.Add)\(\s*\"https?://[^:\"]+:(\d{2,5})\""),
)


def _config_port(ctx: Context, d: str) -> tuple[int, Evidence] | None:
    for kind, patterns in (("app-config", (*_CONFIG_PORT, _YAML_SERVER_PORT)), ("entrypoint", _ENTRY_PORT)):
        for path in ctx.files(kind):
            if not is_under(path, d) or path.rsplit("/", 1)[-1].lower() == "launchsettings.json":
                continue
            src = ctx.source(path)
            if src is None:
                continue
            for pattern in patterns:
                m = src.first(pattern)
                if m is not None:
                    return int(m.group(1)), src.evidence_at(m.start(1))
    return None


# --------------------------------------------------------------------------- assembly


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text).lower()).strip("-")
    return s[:53].strip("-") or "app"


_DOCKER_SUBDIRS = ("docker", "src/main/docker")  # the last is Quarkus' layout


def _DOCKERFILE_PREFERENCE(path: str) -> int:
    name = path.rsplit("/", 1)[-1]
    return {"Dockerfile": 0, "Dockerfile.jvm": 1}.get(name, 2)


def _pick_dockerfile(by_dir: dict[str, list[str]], d: str, service_dirs: list[str]) -> str | None:
    """The app's own Dockerfile, or the nearest parent's if no other app shares that parent."""
    cur = d
    while True:
        subdirs = [cur, *(f"{cur}/{sub}" if cur != "." else sub for sub in _DOCKER_SUBDIRS)]
        here = [p for sub in subdirs for p in by_dir.get(sub, ())]
        if here:
            if cur == d or sum(1 for s in service_dirs if is_under(s, cur)) == 1:
                return sorted(here, key=lambda p: (dirname(p) != cur, _DOCKERFILE_PREFERENCE(p), p))[0]
            return None
        if cur == ".":
            return None
        cur = dirname(cur)


def _charts(ctx: Context) -> dict[str, tuple[str, Evidence]]:
    """chart dir -> (chart name, evidence) for every Chart.yaml."""
    out = {}
    for src in ctx.sources("chart"):
        ctx.yaml(src.path)
        m = re.search(r"(?m)^name:\s*['\"]?([\w.-]+)", src.text)
        ev = src.evidence_at(m.start()) if m else src.evidence(1)
        out[dirname(src.path)] = (m.group(1) if m else posixpath.basename(dirname(src.path)), ev)
    return out


def _pick_chart(name: str, d: str, charts: dict[str, tuple[str, Evidence]], service_dirs: list[str]) -> str | None:
    own = sorted(c for c in charts if d != "." and is_under(c, d))
    if own:
        return own[0]
    if d == ".":
        others = [s for s in service_dirs if s != "."]
        own = sorted(c for c in charts if not any(is_under(c, s) for s in others))
        if own:
            return own[0]
    named = sorted(c for c, (n, _) in charts.items() if n == name)
    if named:
        return named[0]
    if len(service_dirs) == 1:
        free = sorted(charts)
        return free[0] if len(free) == 1 else None
    return None


def detect(ctx: Context) -> Iterator[Service]:
    """One Service per app directory."""
    by_dir: dict[str, dict[str, list[str]]] = {}
    for kind, language in _MANIFEST_KIND.items():
        for path in ctx.files(kind):
            d = dirname(path)
            if kind == "python-manifest" and d.endswith("requirements") and path.endswith(".txt"):
                d = dirname(d)
            by_dir.setdefault(d, {}).setdefault(language, []).append(path)

    dockerfiles_by_dir: dict[str, list[str]] = {}
    for p in ctx.files("dockerfile"):
        dockerfiles_by_dir.setdefault(dirname(p), []).append(p)
    dockerfile_dirs = set(dockerfiles_by_dir)
    apps: dict[str, _App] = {}
    for d in sorted(by_dir):
        found = []
        for language in _ORDER:
            paths = by_dir[d].get(language)
            if not paths:
                continue
            app = _ANALYZERS[language](ctx, d, sorted(paths))
            if app is not None:
                found.append(app)
        with_fw = [a for a in found if a.framework and a.runnable]
        if with_fw:
            apps[d] = with_fw[0]
        else:
            candidates = [a for a in found if a.runnable and (a.language != "node" or len(found) == 1)]
            if candidates and (d in dockerfile_dirs or f"{d}/docker" in dockerfile_dirs):
                apps[d] = candidates[0]

    service_dirs = sorted(apps)
    charts = _charts(ctx) if apps else {}
    names: set[str] = set()
    repo_name = ctx.repo.rsplit("/", 1)[-1]
    for d in service_dirs:
        app = apps[d]
        name = _slug(repo_name if d == "." else posixpath.basename(d))
        if name in names:
            name = _slug(d.replace("/", "-"))
        base, i = name, 2
        while name in names:
            name, i = f"{base[:50]}-{i}", i + 1
        names.add(name)
        evidence = list(app.evidence)
        dockerfile = _pick_dockerfile(dockerfiles_by_dir, d, service_dirs)
        docker_src = ctx.source(dockerfile) if dockerfile else None
        pinned = _pin(ctx, d, app.language)
        from_docker = _dockerfile_runtime(docker_src, app.language) if docker_src else None
        declared = (app.runtime, app.runtime_evidence) if app.runtime else None
        # Interpreted runtimes run what the pin or the image says; compiled ones build for what the build file says.
        order = (pinned, from_docker, declared) if app.language in ("python", "node") else (declared, pinned, from_docker)
        runtime, runtime_ev = next((r for r in order if r is not None), (None, None))
        if runtime_ev is not None:
            evidence.append(runtime_ev)
        port = _dockerfile_port(docker_src) if docker_src else None
        if port is None:
            port = _config_port(ctx, d)
        if docker_src is not None:
            m = docker_src.first(_FROM)
            evidence.append(docker_src.evidence_at(m.start()) if m else docker_src.evidence(1))
        if port is not None:
            evidence.append(port[1])
        chart = _pick_chart(name, d, charts, service_dirs)
        if chart is not None:
            evidence.append(charts[chart][1])
        seen: set[tuple[str, int]] = set()
        unique = []
        for e in evidence:
            if (e.path, e.line) not in seen:
                seen.add((e.path, e.line))
                unique.append(e)
        yield Service(
            name=name,
            repo=ctx.repo,
            path=d,
            language=app.language,
            framework=app.framework,
            runtime_version=runtime,
            port=port[0] if port else None,
            dockerfile=dockerfile,
            chart=chart,
            evidence=sorted(unique, key=lambda e: (e.path, e.line)),
        )


DETECTOR = Detector(
    name="frameworks",
    kinds=frozenset(
        {*_MANIFEST_KIND, "dockerfile", "runtime-pin", "app-config", "entrypoint", "chart"}
    ),
    detect=detect,
    categories=(),
)
