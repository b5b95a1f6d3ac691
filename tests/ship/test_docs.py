"""The operator docs stay true to what ships: commands that exist, chart values that exist, files
that exist, and permissions that match app.yml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DOCS = {name: (ROOT / "docs" / name).read_text() for name in ("install.md", "operate.md")}
CHART = ROOT / "deploy" / "helm" / "trustacks"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_trustacks_command_in_the_docs_exists(name):
    # a command starts a line, a code span, or follows `--` (kubectl exec ... -- trustacks jobs)
    used = set(re.findall(r"(?:^\s*|`|-- )trustacks ([a-z][a-z-]+)", DOCS[name], re.M))
    assert used, "the docs show commands"
    assert used <= set(COMMANDS), f"unknown commands in {name}: {sorted(used - set(COMMANDS))}"


def _leaf_paths(values: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("resources", "podSecurityContext", "securityContext"):
            out |= _leaf_paths(value, path + ".")
        else:
            out.add(path)
    return out


def test_every_chart_value_is_documented():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    text = DOCS["install.md"]
    missing = []
    for path in sorted(_leaf_paths(values)):
        top, _, leaf = path.rpartition(".")
        # a row may name `github.appId` or list `.size` after `persistence.enabled`
        if f"`{path}`" not in text and not (top and f"`{top}." in text and f".{leaf}`" in text) \
                and f"`{path.split('.')[0]}`" not in text:
            missing.append(path)
    assert not missing, f"values not documented in docs/install.md: {missing}"


def test_referenced_files_exist():
    for name, text in DOCS.items():
        for ref in re.findall(r"`((?:deploy|docs|rules|requirements)/[\w./-]+|app\.yml|Dockerfile|\.hadolint\.yaml)`", text):
            assert (ROOT / ref).exists(), f"{name} names {ref}"
        for ref in re.findall(r"\(([\w-]+\.md)(?:#[\w-]+)?\)", text):
            assert (ROOT / "docs" / ref).exists(), f"{name} links {ref}"
    for values_file in re.findall(r"`([\w-]+-values\.yaml)`", DOCS["install.md"]):
        assert (CHART / "ci" / values_file).exists()


def test_every_setting_is_documented():
    """Each key bot/config.py reads is a row of docs/configuration.md (its `_FILE` form too, for secrets)."""
    from bot import config

    text = (ROOT / "docs" / "configuration.md").read_text()
    keys = set(config._KEYS) | {f"{key}_FILE" for key in config._FILE_SECRETS}
    assert {"POLICY_BUNDLE_DIR", "POLICY_PUBLIC_KEY_FILE", "CONSTITUTION_PIN_FILE", "POLICY_UNSIGNED"} <= keys
    missing = sorted(key for key in keys if f"`{config.PREFIX}{key}`" not in text)
    assert not missing, f"settings not documented in docs/configuration.md: {missing}"


def test_configuration_example_file_loads(tmp_path):
    """The example TOML of docs/configuration.md is a file `trustacks serve --config` accepts."""
    from bot.config import load_settings

    (example,) = re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / "configuration.md").read_text(), re.S)
    assert "/run/secrets/" in example
    (tmp_path / "github-webhook-secret").write_text("s" * 32)
    (tmp_path / "github-app.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")
    (tmp_path / "trustacks.toml").write_text(example.replace("/run/secrets/", f"{tmp_path}/"))
    settings = load_settings(env={}, file=tmp_path / "trustacks.toml")
    assert settings.warnings == ()
    assert settings.policy_bundle_dir == Path("/etc/trustacks/policy") and settings.packs == ("soc2",)


def test_permission_table_matches_app_yml():
    manifest = yaml.safe_load((ROOT / "app.yml").read_text())
    rows = dict(re.findall(r"^\| `(\w+)` \| (read|write) \|", DOCS["install.md"], re.M))
    assert rows == manifest["default_permissions"]
