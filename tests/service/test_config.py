"""Settings: defaults, validation that fails fast with a useful message, secrets that never print."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, Settings, load_settings, redact_url

from .conftest import CANARY

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA" + "A" * 40 + "\n-----END RSA PRIVATE KEY-----\n"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"TRUSTACKS_DATA_DIR": str(tmp_path / "d"), "TRUSTACKS_GITHUB_WEBHOOK_SECRET": CANARY, **extra}


def test_defaults(tmp_path):
    s = load_settings(env(tmp_path))
    assert s.database_url == f"sqlite:///{tmp_path / 'd' / 'trustacks.db'}"
    assert s.database_kind == "sqlite"
    assert (s.host, s.port, s.workers, s.max_attempts, s.lease_seconds) == ("127.0.0.1", 8080, 4, 5, 60.0)
    assert s.max_body_bytes == 25 * 1024 * 1024 and s.dry_run is False and s.log_level == "INFO"
    assert s.github_webhook_secret.reveal() == CANARY and s.gitlab_webhook_token is None
    assert not (tmp_path / "d").exists()  # loading has no side effects


def test_refuses_to_start_without_any_webhook_secret(tmp_path):
    with pytest.raises(ConfigError, match="refusing to start without a webhook secret"):
        load_settings({"TRUSTACKS_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="set but empty"):
        load_settings({"TRUSTACKS_GITHUB_WEBHOOK_SECRET": "  "})
    # operator commands open no port and need no secret
    assert load_settings({"TRUSTACKS_DATA_DIR": str(tmp_path)}, require_webhook_secret=False).github_webhook_secret is None
    assert load_settings({"TRUSTACKS_GITLAB_WEBHOOK_TOKEN": "t", "TRUSTACKS_DATA_DIR": str(tmp_path)}).gitlab_webhook_token


def test_secret_never_prints(tmp_path):
    key = tmp_path / "app.pem"
    key.write_text(PEM)
    url = "postgresql://bot:pg-pass-canary@db.internal:5432/trustacks"
    s = load_settings(env(tmp_path, TRUSTACKS_GITHUB_APP_ID="123", TRUSTACKS_GITHUB_PRIVATE_KEY_FILE=str(key),
                          TRUSTACKS_GITLAB_API_TOKEN="glpat-canary", TRUSTACKS_DATABASE_URL=url))
    text = repr(s) + str(s) + f"{s.github_webhook_secret}" + f"{s.github_webhook_secret!r}"
    for value in (CANARY, "MIIEowIBAAKCAQEA", "glpat-canary", "pg-pass-canary"):
        assert value not in text
    assert s.database_url_redacted == "postgresql://bot:***@db.internal:5432/trustacks"
    assert set(s.secrets()) == {CANARY, PEM.strip(), "glpat-canary", "pg-pass-canary"}
    with pytest.raises(TypeError):
        pickle.dumps(s.github_webhook_secret)
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert Secret("a").matches("a") and not Secret("a").matches(b"ab")


def test_secret_from_file_and_conflicts(tmp_path):
    f = tmp_path / "secret"
    f.write_text(CANARY + "\n")
    s = load_settings({"TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": str(f), "TRUSTACKS_DATA_DIR": str(tmp_path)})
    assert s.github_webhook_secret.reveal() == CANARY
    with pytest.raises(ConfigError, match="set only one"):
        load_settings({"TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": str(f), "TRUSTACKS_GITHUB_WEBHOOK_SECRET": "x"})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"TRUSTACKS_GITHUB_WEBHOOK_SECRET_FILE": str(tmp_path / "missing")})


def test_github_app_key_file_is_checked_before_start(tmp_path):
    with pytest.raises(ConfigError, match="cannot read .*missing.pem"):
        load_settings(env(tmp_path, TRUSTACKS_GITHUB_APP_ID="1", TRUSTACKS_GITHUB_PRIVATE_KEY_FILE=str(tmp_path / "missing.pem")))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        load_settings(env(tmp_path, TRUSTACKS_GITHUB_APP_ID="1", TRUSTACKS_GITHUB_PRIVATE_KEY_FILE=str(bad)))
    good = tmp_path / "good.pem"
    good.write_text(PEM)
    with pytest.raises(ConfigError, match="also set TRUSTACKS_GITHUB_APP_ID"):
        load_settings(env(tmp_path, TRUSTACKS_GITHUB_PRIVATE_KEY_FILE=str(good)))
    with pytest.raises(ConfigError, match="also set TRUSTACKS_GITHUB_PRIVATE_KEY_FILE"):
        load_settings(env(tmp_path, TRUSTACKS_GITHUB_APP_ID="1"))
    s = load_settings(env(tmp_path, TRUSTACKS_GITHUB_APP_ID="1", TRUSTACKS_GITHUB_PRIVATE_KEY_FILE=str(good)))
    assert s.github_app_id == 1 and s.github_private_key.reveal().startswith("-----BEGIN")


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://x@y/z", "unsupported scheme 'mysql'"),
        ("sqlite:///:memory:", "needs a file path"),
        ("sqlite://host/x.db", "has no host"),
        ("postgresql://user:pw-canary@host:5432", "names no database"),
        ("postgresql://user:pw-canary@host:notaport/db", "port must be a number"),
        ("postgresql://user:pw-canary@host/db?sslmode=bogus&x=%zz", "not a valid PostgreSQL URL"),
    ],
)
def test_bad_database_urls_fail_fast_without_echoing_passwords(tmp_path, url, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(env(tmp_path, TRUSTACKS_DATABASE_URL=url))
    assert "pw-canary" not in str(info.value)


def test_postgres_url_accepted(tmp_path):
    s = load_settings(env(tmp_path, TRUSTACKS_DATABASE_URL="postgres://u@h/db"))
    assert s.database_kind == "postgresql"


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("TRUSTACKS_WORKERS", "zero", "expected a whole number"),
        ("TRUSTACKS_WORKERS", "0", "out of range"),
        ("TRUSTACKS_PORT", "70000", "out of range"),
        ("TRUSTACKS_MAX_BODY_BYTES", "-1", "out of range"),
        ("TRUSTACKS_LEASE_SECONDS", "nan", "out of range"),
        ("TRUSTACKS_LEASE_SECONDS", "0.5", "at least 1"),
        ("TRUSTACKS_DRY_RUN", "maybe", "expected true or false"),
        ("TRUSTACKS_LOG_LEVEL", "LOUD", "expected one of"),
        ("TRUSTACKS_GITLAB_URL", "gitlab.example.com", "http"),
        ("TRUSTACKS_BACKOFF_MAX_SECONDS", "1", "must not be below"),
    ],
)
def test_bad_values_name_the_key(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(env(tmp_path, **{key: value}))
    assert key in str(info.value)


def test_values_parse(tmp_path):
    s = load_settings(env(tmp_path, TRUSTACKS_WORKERS="8", TRUSTACKS_DRY_RUN="yes", TRUSTACKS_LOG_LEVEL="debug",
                          TRUSTACKS_MAX_ATTEMPTS="3", TRUSTACKS_LEASE_SECONDS="2.5", TRUSTACKS_PLATFORM_REPO="acme/platform",
                          TRUSTACKS_PORT=""))
    assert (s.workers, s.dry_run, s.log_level, s.max_attempts, s.lease_seconds) == (8, True, "DEBUG", 3, 2.5)
    assert s.platform_repo == "acme/platform" and s.port == 8080  # empty means default


def test_lists_and_urls_for_the_handlers(tmp_path):
    s = load_settings(env(tmp_path, TRUSTACKS_POLICY_PACKS="soc2, pci-dss,", TRUSTACKS_IGNORE_EMAILS="*[bot]@users.noreply.github.com",
                          TRUSTACKS_GITHUB_API_URL="https://ghe.example.com/api/v3/"))
    assert s.packs == ("soc2", "pci-dss")
    assert s.ignore_emails == ("*[bot]@users.noreply.github.com",)
    assert s.github_api_url == "https://ghe.example.com/api/v3"
    cfg = tmp_path / "c.toml"
    cfg.write_text('policy_packs = ["hipaa"]\ngitlab_webhook_token = "t"\n')
    assert load_settings({"TRUSTACKS_DATA_DIR": str(tmp_path)}, cfg).packs == ("hipaa",)
    assert load_settings(env(tmp_path)).packs == ()


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ConfigError, match="not a directory"):
        load_settings({"TRUSTACKS_DATA_DIR": str(f), "TRUSTACKS_GITHUB_WEBHOOK_SECRET": "x"})


def test_config_file_with_env_overrides_and_unknown_keys(tmp_path):
    cfg = tmp_path / "trustacks.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\nworkers = 2\ndry_run = true\nport = 9000\nwokers = 3\n'
                   f'github_webhook_secret = "{CANARY}"\n')
    s = load_settings({"TRUSTACKS_PORT": "9100", "TRUSTACKS_WORKRES": "1", "TRUSTACKS_TEST_POSTGRES_URL": "x"}, cfg)
    assert (s.workers, s.dry_run, s.port) == (2, True, 9100)
    assert any("wokers" in w for w in s.warnings) and any("TRUSTACKS_WORKRES" in w for w in s.warnings)
    assert not any("TEST_POSTGRES" in w for w in s.warnings)
    bad = tmp_path / "bad.toml"
    bad.write_text("workers = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, tmp_path / "absent.toml")


def test_settings_are_frozen(tmp_path):
    s = load_settings(env(tmp_path))
    with pytest.raises(AttributeError):
        s.workers = 9  # type: ignore[misc]
    assert isinstance(s, Settings)


def test_redact_url():
    assert redact_url("postgresql://u:p@h:1/d") == "postgresql://u:***@h:1/d"
    assert redact_url("postgresql://u@h/d") == "postgresql://u@h/d"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"
