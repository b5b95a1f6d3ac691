"""The Dockerfile: hadolint-clean, slim, non-root, pinned, and configured with keys the service knows.

No Docker engine runs here, so the image is checked in two halves: this module lints and reads the
Dockerfile; test_install.py replays its install steps (wheel, fresh virtualenv, HEALTHCHECK).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from tests.ship.dockerfile import Instruction, parse, read

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def hadolint(path: Path, *, config: Path) -> list[dict]:
    """hadolint's findings at every level (style included), with inline ignore pragmas disabled."""
    proc = subprocess.run(
        [str(HADOLINT), "-c", str(config), "--disable-ignore-pragma", "--no-fail", "-f", "json", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout or "[]")


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return read(DOCKERFILE)


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


# --------------------------------------------------------------------------- hadolint


def test_hadolint_clean_with_the_repository_config():
    assert hadolint(DOCKERFILE, config=ROOT / ".hadolint.yaml") == []


def test_hadolint_clean_with_an_empty_config(tmp_path):
    """The repository's .hadolint.yaml must not be what keeps the lint clean."""
    empty = tmp_path / "hadolint.yaml"
    empty.write_text("ignored: []\n")
    assert hadolint(DOCKERFILE, config=empty) == []


def test_repository_config_ignores_nothing():
    import yaml

    config = yaml.safe_load((ROOT / ".hadolint.yaml").read_text())
    assert config.get("ignored") in (None, [])
    assert config.get("failure-threshold") == "style"


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda t: t.replace("FROM python:3.11.11-slim-bookworm AS build", "FROM python:latest AS build"), "DL3007"),
        (lambda t: t.replace("FROM python:3.11.11-slim-bookworm\n", "FROM quay.io/someone/python:3.11\n"), "DL3026"),
        (lambda t: re.sub(r'org\.opencontainers\.image\.title="TruStacks" ', "", t), "DL3049"),
        (lambda t: t.replace("USER 10001:10001\n", "USER root\n"), "DL3002"),
    ],
    ids=["latest-tag", "untrusted-registry", "missing-label", "root-user"],
)
def test_the_lint_catches_regressions(tmp_path, edit, code):
    """The lint is live: each broken copy of the Dockerfile is reported with the expected rule."""
    broken = edit(DOCKERFILE.read_text())
    assert broken != DOCKERFILE.read_text()
    path = tmp_path / "Dockerfile"
    path.write_text(broken)
    codes = {f["code"] for f in hadolint(path, config=ROOT / ".hadolint.yaml")}
    assert code in codes


# --------------------------------------------------------------------------- structure


def test_two_stages_on_one_base_pinned_to_the_tested_python(instructions):
    froms = [i.args for i in instructions if i.keyword == "FROM"]
    assert len(froms) == 2
    images = [f.split()[0] for f in froms]
    assert images[0] == images[1], "build and runtime stages must share a base (the venv's interpreter path)"
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+", images[0])
    assert match, f"base must be a slim python image pinned to a patch version: {images[0]}"
    assert (int(match[1]), int(match[2])) == sys.version_info[:2], "the image runs the Python the tests run"


def test_final_stage_is_non_root_and_has_no_build_tools(instructions):
    final = final_stage(instructions)
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000, "a numeric non-root uid (runAsNonRoot can check it)"
    runs = " ".join(i.args for i in final if i.keyword == "RUN")
    for tool in ("apt-get", "apk ", "pip ", "gcc", "build-essential", "curl", "wget"):
        assert tool not in runs, f"runtime stage must not install or fetch anything ({tool})"
    copies = [i.args for i in final if i.keyword in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/trustacks /opt/trustacks"], "only the built virtualenv reaches the image"


def test_entrypoint_healthcheck_and_port(instructions):
    final = final_stage(instructions)
    by_kw = {i.keyword: i for i in final}
    assert by_kw["ENTRYPOINT"].exec_form() == ["trustacks"]
    assert by_kw["CMD"].exec_form() == ["serve"]
    health = by_kw["HEALTHCHECK"].exec_form()
    assert health and health[0] == "python" and "/healthz" in health[-1]
    env = {k: v for i in final if i.keyword == "ENV" for k, v in i.pairs().items()}
    assert by_kw["EXPOSE"].args == env["TRUSTACKS_PORT"]


def test_image_environment_is_known_to_the_service(instructions, tmp_path):
    """Every TRUSTACKS_* the image sets is a real setting: the service starts without warnings."""
    final = final_stage(instructions)
    env = {k: v for i in final if i.keyword == "ENV" for k, v in i.pairs().items() if k.startswith("TRUSTACKS_")}
    env["TRUSTACKS_DATA_DIR"] = str(tmp_path / "data")  # the image's /var/lib/trustacks, here
    settings = load_settings(env={**env, "TRUSTACKS_GITHUB_WEBHOOK_SECRET": "x" * 32})
    assert settings.warnings == ()
    assert settings.host == "0.0.0.0"  # reachable from outside the container
    assert settings.database_kind == "sqlite" and str(settings.data_dir) == env["TRUSTACKS_DATA_DIR"]


def test_build_context_paths_exist(instructions):
    """Every COPY source of the build stage is in the repository (the .dockerignore-free context)."""
    for i in instructions:
        if i.keyword == "COPY" and not i.args.startswith("--from"):
            *sources, _dest = i.args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"line {i.line}: {source} is not in the repository"


def test_engine_installed_by_hash_before_anything_else(instructions):
    build = [i for i in instructions if i.stage == 0 and i.keyword == "RUN"]
    pip_runs = [i.args for i in build if "pip " in i.args]
    assert "--require-hashes" in pip_runs[0] and "requirements/pinned.txt" in pip_runs[0]
    assert any("PolicyEngine.load" in r for r in pip_runs), "the build fails if the shipped policy does not load"


def test_parser_joins_continuations_and_skips_comments():
    text = "# c\nFROM a AS b\nRUN x \\\n  # inner\n  && y\nENV A=1 \\\n    B=\"two words\"\n"
    parsed = parse(text)
    assert [(i.keyword, i.stage, i.line) for i in parsed] == [("FROM", 0, 2), ("RUN", 0, 3), ("ENV", 0, 6)]
    assert parsed[1].args == "x && y"
    assert parsed[2].pairs() == {"A": "1", "B": "two words"}
