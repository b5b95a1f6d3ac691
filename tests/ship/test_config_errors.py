"""`trustacks serve` refuses a bad configuration before it opens a port, naming the setting and never
echoing a secret: one case per required setting and per way an operator gets it wrong on a cluster
(a Secret mounted without its key, an unreadable file, a bad database URL).

bot/config.py owns the checks (tests/service/test_config.py covers its parsing); these tests go
through the command an operator runs, as the container's entrypoint does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.serve_cli
from bot.cli import cli

CANARY = "canary-" + "s3cr3t-" + "do-not-print"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke `trustacks serve` with exactly `env` (paths may use {tmp}); the service must never start."""
    started = []

    async def never(*args, **kwargs):  # run_service: reached only after the configuration passed
        started.append(True)

    monkeypatch.setattr(bot.serve_cli, "run_service", never)
    monkeypatch.setattr(bot.serve_cli, "configure_logging", lambda *a, **k: None)  # global root-logger state
    monkeypatch.setattr("bot.handlers.build_dispatcher", lambda settings: object(), raising=False)
    for name in list(os.environ):
        if name.startswith("TRUSTACKS_"):
            monkeypatch.delenv(name)
    (tmp_path / "key.pem").write_text(PEM)
    (tmp_path / "not-a-key.pem").write_text("hello\n")
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "hook-secret").write_text(CANARY + "\n")
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("x")

    def invoke(env: dict[str, str], *args: str):
        full = {"TRUSTACKS_DATA_DIR": str(tmp_path / "data"), **env}
        full = {k: v.replace("{tmp}", str(tmp_path)) for k, v in full.items()}
        result = CliRunner().invoke(cli, ["serve", *[a.replace("{tmp}", str(tmp_path)) for a in args]], env=full)
        return result, started

    return invoke


SECRET = {"TRUSTACKS_GITHUB_WEBHOOK_SECRET": CANARY}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # a webhook secret is required (GitHub, GitLab or both)
        ({}, "refusing to start without a webhook secret"),
        ({"TRUSTACKS_GITHUB_WEBHOOK_SECRET": " "}, "TRUSTACKS_GITHUB_WEBHOOK_SECRET is set but empty"),
        # ... and when it comes from a file (a Kubernetes Secret volume), the file must be there and readable
        ({"TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": "{tmp}/missing"}, "TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE: cannot read"),
        ({"TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": "{tmp}/a-directory"}, "TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE: cannot read"),
        ({"TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": "{tmp}/empty"}, "TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE: {tmp}/empty is empty"),
        ({**SECRET, "TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": "{tmp}/hook-secret"}, "set only one of"),
        ({"TRUSTACKS_GITLAB_WEBHOOK_TOKEN_FILE": "{tmp}/missing"}, "TRUSTACKS_GITLAB_WEBHOOK_TOKEN_FILE: cannot read"),
        ({**SECRET, "TRUSTACKS_GITLAB_API_TOKEN_FILE": "{tmp}/missing"}, "TRUSTACKS_GITLAB_API_TOKEN_FILE: cannot read"),
        # the GitHub App: id and key come together, the key file must be a readable PEM key
        ({**SECRET, "TRUSTACKS_GITHUB_APP_ID": "12"}, "also set TRUSTACKS_GITHUB_PRIVATE_KEY_FILE"),
        ({**SECRET, "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": "{tmp}/key.pem"}, "also set TRUSTACKS_GITHUB_APP_ID"),
        ({**SECRET, "TRUSTACKS_GITHUB_APP_ID": "12", "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": "{tmp}/missing.pem"},
         "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE: cannot read"),
        ({**SECRET, "TRUSTACKS_GITHUB_APP_ID": "12", "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": "{tmp}/a-directory"},
         "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE: cannot read"),
        ({**SECRET, "TRUSTACKS_GITHUB_APP_ID": "12", "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": "{tmp}/not-a-key.pem"},
         "is not a PEM private key"),
        ({**SECRET, "TRUSTACKS_GITHUB_APP_ID": "twelve", "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": "{tmp}/key.pem"},
         "TRUSTACKS_GITHUB_APP_ID: expected a whole number"),
        # the queue
        ({**SECRET, "TRUSTACKS_DATABASE_URL": "mysql://u@h/db"}, "TRUSTACKS_DATABASE_URL: unsupported scheme"),
        ({**SECRET, "TRUSTACKS_DATABASE_URL": "postgresql://u@db.internal:5432"}, "names no database"),
        ({**SECRET, "TRUSTACKS_DATABASE_URL": "postgresql://u@db.internal:port/db"}, "TRUSTACKS_DATABASE_URL"),
        ({**SECRET, "TRUSTACKS_DATABASE_URL": "sqlite:///:memory:"}, "sqlite needs a file path"),
        ({**SECRET, "TRUSTACKS_DATA_DIR": "{tmp}/a-file"}, "TRUSTACKS_DATA_DIR: {tmp}/a-file exists and is not a directory"),
        # the listener
        ({**SECRET, "TRUSTACKS_PORT": "http"}, "TRUSTACKS_PORT: expected a whole number"),
        ({**SECRET, "TRUSTACKS_PORT": "70000"}, "TRUSTACKS_PORT: 70000 is out of range"),
        ({**SECRET, "TRUSTACKS_LOG_LEVEL": "loud"}, "TRUSTACKS_LOG_LEVEL: expected one of"),
    ],
)
def test_each_required_setting_fails_fast_with_its_name(run, tmp_path, env, message):
    result, started = run(env)
    assert result.exit_code == 1, result.output
    assert message.replace("{tmp}", str(tmp_path)) in result.output
    assert started == [], "the service must not start (no port opened) on a bad configuration"
    assert CANARY not in result.output


def test_database_password_is_never_echoed(run):
    result, started = run({**SECRET, "TRUSTACKS_DATABASE_URL": f"postgresql://u:{CANARY}@db:99999/x"})
    assert result.exit_code == 1 and "port" in result.output and CANARY not in result.output
    assert started == []


def test_config_file_errors_name_the_file(run, tmp_path):
    (tmp_path / "bad.toml").write_text("github_webhook_secret = \n")
    result, started = run({}, "--config", "{tmp}/bad.toml")
    assert result.exit_code == 1 and "is not valid TOML" in result.output and started == []
    (tmp_path / "keyless.toml").write_text(f'github_webhook_secret = "{CANARY}"\ngithub_app_id = 5\n')
    result, started = run({}, "--config", "{tmp}/keyless.toml")
    assert result.exit_code == 1 and "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE" in result.output
    assert CANARY not in result.output and started == []


def test_a_good_configuration_reaches_the_service(run):
    """The control case: the same harness starts the service when the settings are right."""
    result, started = run({"TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": "{tmp}/hook-secret",
                           "TRUSTACKS_GITHUB_APP_ID": "12", "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": "{tmp}/key.pem"})
    assert result.exit_code == 0, result.output
    assert started == [True]
