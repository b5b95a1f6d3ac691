"""Shell text shared by the CI renderers: a ToolRun as `docker run`, as a plain command line, and registry logins.

On VM runners (GitHub Actions, Azure Pipelines, Jenkins agents with Docker) each tool runs from its
pinned image with the workspace mounted at /src. Values that reference CI variables (`${NAME}`) stay
references, expanded by the runner's shell at run time; secrets are passed by name (`-e NAME`), so their
values never appear in the file or in a process's arguments.
"""

from __future__ import annotations

import re
from typing import Iterable

from bot.generate.base import sh_quote
from bot.generate.registries import Password, Registry, password
from bot.generate.security import ToolRun

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def refs(texts: Iterable[str]) -> list[str]:
    """`${NAME}` references in some text, in first-seen order."""
    seen: dict[str, None] = {}
    for text in texts:
        for m in _REF.finditer(text):
            seen.setdefault(m.group(1), None)
    return list(seen)


def is_self_ref(name: str, value: str) -> bool:
    return value == "${" + name + "}"


def env_flags(run: ToolRun) -> list[str]:
    flags = []
    for name, value in run.env:
        flags.append(f"-e {name}" if is_self_ref(name, value) else f"-e {sh_quote(f'{name}={value}')}")
    for name in (*run.secrets, *run.passthrough):
        flags.append(f"-e {name}")
    return flags


def docker_run(run: ToolRun, *, mount: bool = True) -> str:
    """A shell function running the tool's pinned image, then the tool's own command line.

    `trivy() { docker run ... aquasec/trivy:TAG "$@"; }` followed by `trivy image ...` reads like the
    tool's documentation, and keeps the command visible to the policy's CI parser.
    """
    parts = ["docker run --rm"]
    if mount:
        workdir = "/src" if run.workdir in ("", ".") else f"/src/{run.workdir}"
        parts += ['-v "${PWD}:/src"', f"-w {workdir}"]
    parts += env_flags(run)
    if run.registry_auth and mount:
        parts += ['-v "${HOME}/.docker:/docker-config:ro"', "-e DOCKER_CONFIG=/docker-config"]
    if run.command:
        parts.append(f"--entrypoint {run.command[0]}")
    parts.append(run.image)
    fn = run.name.replace("-", "_")
    call = " ".join([fn, *(sh_quote(a) for a in (*run.command[1:], *run.args))])
    return f'{fn}() {{ {" ".join(parts)} "$@"; }}\n{call}'


def docker_runs(runs: list[ToolRun], *, mount: bool = True) -> list[str]:
    """Several runs as shell lines, each tool's function defined once."""
    seen: set[str] = set()
    lines: list[str] = []
    for run in runs:
        fn_def, call = docker_run(run, mount=mount).split("\n", 1)
        if fn_def not in seen:
            seen.add(fn_def)
            lines.append(fn_def)
        lines.append(call)
    return lines


def command_line(run: ToolRun) -> str:
    """The tool's command line for a shell already inside its image (GitLab jobs)."""
    return " ".join(sh_quote(a) for a in run.argv)


def _login_env(pw: Password) -> list[str]:
    return [f"-e {name}" if is_self_ref(name, value) else f"-e {sh_quote(f'{name}={value}')}" for name, value in pw.env]


def docker_login(reg: Registry, *, token_var: str = "OIDC_TOKEN") -> str:
    """Exchange the OIDC token in `$token_var` for a registry password in a helper image, piped to `docker login`."""
    pw = password(reg)
    token = "-e OIDC_TOKEN" if token_var == "OIDC_TOKEN" else f'-e OIDC_TOKEN="${token_var}"'
    parts = ["docker run --rm", token, *_login_env(pw), "--entrypoint sh", pw.image, "-c", sh_quote(pw.script)]
    return (" ".join(parts) + f" | docker login {reg.host} --username {sh_quote(pw.username)} --password-stdin")


def docker_config_script(reg: Registry, *, token_file: str, config_dir: str) -> str:
    """Tekton: the same exchange inside the helper image, writing a docker config.json for later steps."""
    pw = password(reg)
    return "\n".join([
        "set -eu",
        f'OIDC_TOKEN="$(cat {token_file})"',
        "export OIDC_TOKEN",
        f"PASSWORD=\"$({pw.script})\"",
        f"AUTH=\"$(printf '%s:%s' {sh_quote(pw.username)} \"$PASSWORD\" | base64 | tr -d '\\n')\"",
        f"mkdir -p {config_dir}",
        "umask 077",
        f"printf '{{\"auths\":{{\"%s\":{{\"auth\":\"%s\"}}}}}}' {reg.host} \"$AUTH\" > {config_dir}/config.json",
    ])


def login_env_refs(reg: Registry) -> list[str]:
    """CI variables the login of `reg` reads (for runners that must map them into the environment)."""
    pw = password(reg)
    return refs([v for _, v in pw.env] + [pw.username, pw.script])
