"""Dockerfile per framework: multi-stage, pinned base tags, non-root, no secrets, hadolint-clean.

The build stage has the SDK; the runtime stage only what the app needs, running as a numeric non-root
user (so Kubernetes `runAsNonRoot` can verify it) with a writable HOME under /tmp, since the chart
mounts the root filesystem read-only. HEALTHCHECK is added where the runtime image can perform it with
what it ships (Python, Node, the JRE image's curl); distroless and ASP.NET runtime images have no client,
and Kubernetes probes (chart) cover them. Skipped when the service already names its own Dockerfile.
Reference: https://docs.docker.com/reference/dockerfile/
"""

from __future__ import annotations

from bot.generate.base import Context, Gap, GeneratedFile, Generator, Output
from bot.generate.toolchains import Toolchain, resolve, unknown_language_message

ARTIFACT = "docker"
UID = "10001"
HEALTH_OPTS = "--interval=30s --timeout=3s --start-period=20s --retries=3"


def _json(args: list[str]) -> str:
    import json

    return json.dumps(args)


def _python(tc: Toolchain, service: str) -> list[str]:
    port = tc.port
    if tc.manifest == "poetry":
        copy = "COPY pyproject.toml poetry.lock ./"
        install = ("pip install --no-cache-dir poetry==1.8.5 \\\n"
                   "    && poetry export --without-hashes --format=requirements.txt --output=requirements.txt \\\n"
                   "    && pip install --no-cache-dir -r requirements.txt")
    elif tc.manifest == "pipenv":
        copy = "COPY Pipfile Pipfile.lock ./"
        install = ("pip install --no-cache-dir pipenv==2024.4.0 \\\n"
                   "    && pipenv requirements > requirements.txt \\\n"
                   "    && pip install --no-cache-dir -r requirements.txt")
    elif tc.manifest == "pyproject":
        copy, install = "COPY . .", "pip install --no-cache-dir ."
    else:
        copy, install = "COPY requirements.txt ./", "pip install --no-cache-dir -r requirements.txt"
    if tc.framework == "fastapi":
        cmd = ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", str(port)]
    else:
        # gunicorn serves the WSGI app: the project's own pin wins, else this one is installed
        install += " \\\n    && { pip show gunicorn > /dev/null 2>&1 || pip install --no-cache-dir gunicorn==23.0.0; }"
        module = "config.wsgi:application" if tc.framework == "django" else "app:app"
        cmd = ["gunicorn", "--bind", f"0.0.0.0:{port}", module]
    check = ["python", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), 2).close()"]
    pipefail = ['SHELL ["/bin/bash", "-o", "pipefail", "-c"]'] if tc.manifest == "pipenv" else []
    return [
        f"FROM {tc.build_image} AS build",
        *pipefail,
        "WORKDIR /app",
        "RUN python -m venv /opt/venv",
        'ENV PATH="/opt/venv/bin:$PATH"',
        copy,
        f"RUN {install}",
        "",
        f"FROM {tc.runtime_image}",
        'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/opt/venv/bin:$PATH" HOME=/tmp',
        "WORKDIR /app",
        "COPY --from=build /opt/venv /opt/venv",
        "COPY . .",
        f"USER {UID}:{UID}",
        f"EXPOSE {port}",
        f"HEALTHCHECK {HEALTH_OPTS} CMD {_json(check)}",
        f"CMD {_json(cmd)}",
    ]


def _java(tc: Toolchain, service: str) -> list[str]:
    port = tc.port
    if tc.manifest == "gradle":
        build, package = ["COPY . ."], "gradle build --no-daemon -x test"
        out = "build"
        jar_dir = "build/libs"
    else:
        build = ["COPY pom.xml ./", "RUN mvn -B -ntp dependency:go-offline", "COPY src ./src"]
        package = "mvn -B -ntp package -DskipTests"
        out = "target"
        jar_dir = "target"
    if tc.framework == "quarkus":
        pick = [f"RUN {package} \\\n    && cp -r {out}/quarkus-app /app"]
        run = ["COPY --from=build /app /app", 'CMD ["java", "-jar", "/app/quarkus-run.jar"]']
    else:
        pick = [f"RUN {package} \\\n    && mkdir -p /app \\\n"
                f"    && find {jar_dir} -maxdepth 1 -name '*.jar' ! -name '*-plain.jar' ! -name '*-sources.jar' "
                "-exec cp {} /app/app.jar \\;"]
        run = ["COPY --from=build /app/app.jar /app/app.jar", 'CMD ["java", "-jar", "/app/app.jar"]']
    health = tc.health.liveness or "/"
    return [
        f"FROM {tc.build_image} AS build",
        "WORKDIR /src",
        *build,
        *pick,
        "",
        f"FROM {tc.runtime_image}",
        'ENV HOME=/tmp JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -Djava.io.tmpdir=/tmp"',
        "WORKDIR /app",
        run[0],
        f"USER {UID}:{UID}",
        f"EXPOSE {port}",
        f"HEALTHCHECK {HEALTH_OPTS} CMD {_json(['curl', '-fsS', '-o', '/dev/null', f'http://127.0.0.1:{port}{health}'])}",
        run[1],
    ]


def _go(tc: Toolchain, service: str) -> list[str]:
    return [
        f"FROM {tc.build_image} AS build",
        "WORKDIR /src",
        "COPY go.mod go.sum* ./",
        "RUN go mod download",
        "COPY . .",
        "RUN CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\" -o /out/server .",
        "",
        f"FROM {tc.runtime_image}",
        "COPY --from=build /out/server /server",
        "USER 65532:65532",
        f"EXPOSE {tc.port}",
        "# No HEALTHCHECK: the distroless image has no shell or HTTP client; Kubernetes probes check the port.",
        'ENTRYPOINT ["/server"]',
    ]


def _node(tc: Toolchain, service: str) -> list[str]:
    if tc.manifest == "pnpm":
        lock, ci, prune = "pnpm-lock.yaml", "corepack enable && pnpm install --frozen-lockfile", "pnpm prune --prod"
        build = "pnpm run build"
    elif tc.manifest == "yarn":
        lock, ci, prune = "yarn.lock", "corepack enable && yarn install --frozen-lockfile", "yarn install --production --frozen-lockfile"
        build = "yarn build"
    else:
        lock, ci, prune, build = "package-lock.json", "npm ci", "npm prune --omit=dev", "npm run build"
    steps = [f"COPY package.json {lock} ./", f"RUN {ci}", "COPY . ."]
    if tc.framework == "nestjs":
        steps.append(f"RUN {build} \\\n    && {prune}")
        cmd = ["node", "dist/main.js"]
    else:
        steps.append(f"RUN {prune}")
        cmd = ["node", "."]
    check = ["node", "-e", f"require('net').connect({tc.port}, '127.0.0.1')"
             ".on('connect', () => process.exit(0)).on('error', () => process.exit(1))"]
    return [
        f"FROM {tc.build_image} AS build",
        "WORKDIR /app",
        *steps,
        "",
        f"FROM {tc.runtime_image}",
        "ENV NODE_ENV=production HOME=/tmp",
        "WORKDIR /app",
        "COPY --from=build /app /app",
        "USER 1000:1000",
        f"EXPOSE {tc.port}",
        f"HEALTHCHECK {HEALTH_OPTS} CMD {_json(check)}",
        f"CMD {_json(cmd)}",
    ]


def _dotnet(tc: Toolchain, service: str) -> list[str]:
    dll = f"{tc.project}.dll" if tc.project else "app.dll"
    publish = f"dotnet publish {tc.project_path} -c Release -o /out --no-restore" if tc.project_path else (
        "dotnet publish -c Release -o /out --no-restore -p:AssemblyName=app")
    return [
        f"FROM {tc.build_image} AS build",
        "WORKDIR /src",
        "COPY . .",
        f"RUN dotnet restore \\\n    && {publish}",
        "",
        f"FROM {tc.runtime_image}",
        f"ENV ASPNETCORE_HTTP_PORTS={tc.port} HOME=/tmp DOTNET_EnableDiagnostics=0",
        "WORKDIR /app",
        "COPY --from=build /out .",
        f"USER {UID}:{UID}",
        f"EXPOSE {tc.port}",
        "# No HEALTHCHECK: the ASP.NET runtime image ships no HTTP client; Kubernetes probes check the port.",
        f"ENTRYPOINT {_json(['dotnet', dll])}",
    ]


_RENDERERS = {"python": _python, "java": _java, "go": _go, "node": _node, "dotnet": _dotnet}


def dockerfile(tc: Toolchain, service: str) -> str:
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# {service}: {tc.framework} on {tc.language} {tc.version}, multi-stage, non-root, no secrets.",
        "# Generated by TruStacks; edit freely: regeneration keeps your changes (read-and-preserve).",
        *_RENDERERS[tc.language](tc, service),
    ]
    return "\n".join(lines) + "\n"


DOCKERIGNORE = """\
# Keep the build context small and free of secrets and local state.
.git
.github
.gitlab
.tekton
**/.env
**/.env.*
**/*.pem
**/*.key
**/*.p12
**/id_rsa*
**/.npmrc
**/.pypirc
**/node_modules
**/__pycache__
**/.venv
**/target
**/bin
**/obj
image.tar
sbom.spdx.json
provenance.json
"""


def render(ctx: Context) -> Output:
    if ctx.service.dockerfile:
        return Output()  # the team's own Dockerfile is used as is (the CI builds it)
    tc = resolve(ctx.service)
    if tc is None:
        return Output(gaps=[Gap("services", unknown_language_message(ctx.service), ARTIFACT)])
    return Output([GeneratedFile("Dockerfile", dockerfile(tc, ctx.service.name), ARTIFACT, "app", []),
                   GeneratedFile(".dockerignore", DOCKERIGNORE, ARTIFACT, "app", [])])


GENERATOR = Generator(name="dockerfile", artifact=ARTIFACT, selects=lambda ctx: True, render=render,
                      doc="Dockerfile per framework")
