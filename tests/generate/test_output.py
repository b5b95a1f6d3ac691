"""The YAML writer (re-indented libyaml output) keeps meaning; toolchain facts; sh quoting; the CLI."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.generate.base import dump_yaml, indent_sequences, sh_quote
from bot.generate.cli import generate_command
from bot.generate.toolchains import resolve
from bot.models import Evidence, Service

from tests.generate.conftest import PROFILES_DIR

_pieces = st.sampled_from(["\n", " ", "- ", ": ", "|", "#", "'", '"', "on", "yes", "3.10", "*x", "&a", "  "]) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029\ufeff"), max_size=6)
_text = st.lists(_pieces, max_size=8).map("".join)
_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | _text
_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-.", min_size=1, max_size=8) | st.sampled_from(["on", "- a", "x: y"])
_docs = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                     max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_docs)
def test_dump_round_trips_any_document(doc) -> None:
    text = dump_yaml(doc, comment=["header"])
    assert yaml.safe_load(text) == doc


def test_sequences_are_indented_under_their_key_and_scripts_stay_verbatim() -> None:
    doc = {"steps": [{"run": "echo a\n- not a list item\nkey:\n- still script\n", "with": {"k": [1, 2]}}],
           "top": ["x"]}
    text = dump_yaml(doc)
    assert text.startswith("steps:\n  - run: |\n      echo a\n      - not a list item\n")
    assert "    with:\n      k:\n        - 1\n" in text and "top:\n  - x\n" in text
    assert yaml.safe_load(text) == doc
    assert indent_sequences("a:\n- b\n") == "a:\n  - b\n"


@pytest.mark.parametrize("arg", ["plain", "with space", "it's", "${IMAGE}@${DIGEST}", 'say "hi" $x `y`', "a\\b", ""])
def test_sh_quote_survives_the_shell(arg: str) -> None:
    out = subprocess.run(["sh", "-c", f"IMAGE=img DIGEST=d; printf %s {sh_quote(arg)}"], capture_output=True, text=True)
    expected = arg.replace("${IMAGE}", "img").replace("${DIGEST}", "d") if "${" in arg else arg
    assert out.stdout == expected


@pytest.mark.parametrize("language,framework,version,expected_image,expected_version", [
    ("python", "fastapi", "3.11.4", "python:3.11-slim-bookworm", "3.11"),
    ("python", "django", ">=3.10", "python:3.10-slim-bookworm", "3.10"),
    ("python", "flask", "2.7", "python:3.13-slim-bookworm", "3.13"),  # unsupported: the default
    ("java", "spring-boot", "1.8", "maven:3.9-eclipse-temurin-8", "8"),
    ("java", "quarkus", "17", "maven:3.9-eclipse-temurin-17", "17"),
    ("java", "spring-boot", "19", "maven:3.9-eclipse-temurin-21", "21"),  # not an LTS image: the default
    ("go", "go", "go1.22.3", "golang:1.22-bookworm", "1.22"),
    ("node", "express", "v20.11.0", "node:20-bookworm-slim", "20"),
    ("node", "nestjs", None, "node:22-bookworm-slim", "22"),
    ("dotnet", "aspnet-core", "net8.0", "mcr.microsoft.com/dotnet/sdk:8.0", "8.0"),
])
def test_runtime_versions_pick_pinned_images(language, framework, version, expected_image, expected_version) -> None:
    tc = resolve(Service(name="s", repo="o/r", language=language, framework=framework, runtime_version=version))
    assert tc is not None and tc.build_image == expected_image and tc.version == expected_version


def test_build_tool_is_read_from_evidence() -> None:
    gradle = resolve(Service(name="s", repo="o/r", language="java", framework="spring-boot",
                             evidence=[Evidence("build.gradle.kts", 1)]))
    assert gradle is not None and gradle.manifest == "gradle" and gradle.test == ("gradle check --no-daemon",)
    yarn = resolve(Service(name="s", repo="o/r", language="node", framework="express", evidence=[Evidence("yarn.lock", 1)]))
    assert yarn is not None and "yarn test" in yarn.test
    assert resolve(Service(name="s", repo="o/r", language="cobol")) is None
    unknown_fw = resolve(Service(name="s", repo="o/r", language="python", framework="tornado"))
    assert unknown_fw is not None and unknown_fw.framework == "fastapi"


# --------------------------------------------------------------------------- CLI


def test_cli_lists_files_and_gaps() -> None:
    result = CliRunner().invoke(generate_command, ["--profile", str(PROFILES_DIR / "minimal.yaml")])
    assert result.exit_code == 0, result.output
    assert "acme/pay-api:.github/workflows/trustacks-ci.yml" in result.output
    assert "gap (ci, image_scanning)" in result.output
    assert "2 service(s)" in result.output


def test_cli_writes_app_and_platform_trees(tmp_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(generate_command, ["--profile", str(PROFILES_DIR / "gitlab-gcp.yaml"),
                                                   "--service", "bff", "--only", "ci", "--only", "docker",
                                                   "--only", "kustomize", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "app/acme/frontends/.gitlab/ci/bff.gitlab-ci.yml").is_file()  # root-relative CI file
    assert (out / "app/acme/frontends/services/bff/Dockerfile").is_file()  # under the service path
    assert (out / "platform/deploy/bff/overlays/prod/kustomization.yaml").is_file()
    assert not (out / "platform/deploy/bff/flux").exists()


def test_cli_errors_say_how_to_fix(tmp_path) -> None:
    bad = tmp_path / "profile.yaml"
    bad.write_text("version: 1\nplatform: {}\n")
    result = CliRunner().invoke(generate_command, ["--profile", str(bad)])
    assert result.exit_code == 2 and "platform" in result.output and "run `trustacks generate` again" in result.output
    result = CliRunner().invoke(generate_command, ["--profile", str(PROFILES_DIR / "minimal.yaml"), "--service", "nope"])
    assert result.exit_code == 2 and "no service named nope" in result.output and "pay-api" in result.output
    result = CliRunner().invoke(generate_command, ["--profile", str(PROFILES_DIR / "minimal.yaml"), "--only", "terraform"])
    assert result.exit_code == 2


def test_cli_is_registered() -> None:
    from bot.cli import COMMANDS, SHORT_HELP

    assert COMMANDS["generate"] == "bot.generate.cli:generate_command" and "generate" in SHORT_HELP
