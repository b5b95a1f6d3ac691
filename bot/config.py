"""Service configuration: the only reader of environment variables and config files.

`load_settings()` turns `TRUSTACKS_*` variables (and an optional TOML file whose keys are the same
names, lower-cased, without the prefix) into one frozen `Settings`. It fails fast, before any port
opens, with a message that names the key and says how to fix it, and never includes a secret's value.
Environment variables win over the file. Every key is documented in docs/configuration.md.

Secrets are wrapped in `Secret`, whose repr and str are `***`, so a Settings object can be logged.
"""

from __future__ import annotations

import hmac
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

PREFIX = "TRUSTACKS_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: GitHub caps webhook payloads at 25 MB; a larger limit only costs memory.
DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024
#: the status page's operator token must be at least this long (it is the page's only protection)
MIN_STATUS_TOKEN_CHARS = 16


class ConfigError(ValueError):
    """The configuration is unusable; the message names the key and the fix (never a secret value)."""


class Secret:
    """A secret string that does not print itself. Use `.reveal()` only where the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: str | bytes) -> bool:
        """Constant-time comparison against a presented value (e.g. the X-Gitlab-Token header)."""
        if isinstance(candidate, str):
            candidate = candidate.encode("utf-8", "surrogateescape")
        return hmac.compare_digest(self._value.encode("utf-8"), candidate)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __reduce__(self) -> Any:  # pickling would copy the value into an unknown place
        raise TypeError("Secret cannot be pickled")


@dataclass(frozen=True)
class Settings:
    """Everything `trustacks serve` and `trustacks jobs` need, validated once at start-up."""

    data_dir: Path
    #: may carry a password: kept out of repr; show `database_url_redacted` instead
    database_url: str = field(repr=False)
    github_webhook_secret: Secret | None = None
    gitlab_webhook_token: Secret | None = None
    github_app_id: int | None = None
    github_private_key_file: Path | None = None
    github_private_key: Secret | None = field(default=None, repr=False)
    gitlab_url: str = "https://gitlab.com"
    github_api_url: str = "https://api.github.com"
    gitlab_api_token: Secret | None = None
    #: the operator token of the read-only status page at `/`; no token, no page (404)
    status_token: Secret | None = None
    platform_repo: str | None = None
    #: compliance packs loaded on top of the constitution (names under rules/packs/)
    packs: tuple[str, ...] = ()
    #: signed policy bundles (`trustacks bundle release`); the only policy `trustacks serve` loads
    policy_bundle_dir: Path | None = None
    #: the public key every bundle must verify against (PEM, ES256)
    policy_public_key_file: Path | None = None
    #: the pinned constitution revision (`trustacks constitution upgrade`); default <bundle dir>/constitution.pin.json
    constitution_pin_file: Path | None = None
    #: development only: load the rules shipped in the package, unsigned (never in production)
    policy_unsigned: bool = False
    #: trusted waiver approvers' public keys, one `<approver>.pub` each; without it every waiver is ignored
    waiver_keys_dir: Path | None = None
    #: fnmatch patterns of commit emails that do not count as a human edit of a bot branch
    ignore_emails: tuple[str, ...] = ()
    #: server-wide repo allowlist/denylist (globs, `!` negation, last match wins; empty = every repo)
    repos: str = ""
    dry_run: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 4
    max_attempts: int = 5
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 600.0
    shutdown_grace_seconds: float = 20.0
    retention_days: float = 14.0
    log_level: str = "INFO"
    #: non-fatal remarks found while loading (unknown keys), logged once at start-up
    warnings: tuple[str, ...] = ()

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for the log redactor. Not for display."""
        values = (
            self.github_webhook_secret,
            self.gitlab_webhook_token,
            self.github_private_key,
            self.gitlab_api_token,
            self.status_token,
        )
        found = [s.reveal() for s in values if s is not None and s.reveal()]
        password = urlsplit(self.database_url).password
        if password:
            found.append(password)
        return tuple(found)

    @property
    def database_kind(self) -> str:
        return database_kind(self.database_url)

    @property
    def database_url_redacted(self) -> str:
        """The database URL with any password replaced by ***, for logs and status output."""
        return redact_url(self.database_url)


# key (without prefix, upper case) -> (parser, Settings field); one line per key.
_KEYS: dict[str, tuple[str, str]] = {
    "GITHUB_WEBHOOK_SECRET": ("secret", "github_webhook_secret"),
    "GITLAB_WEBHOOK_TOKEN": ("secret", "gitlab_webhook_token"),
    "GITHUB_APP_ID": ("posint", "github_app_id"),
    "GITHUB_PRIVATE_KEY_FILE": ("path", "github_private_key_file"),
    "GITLAB_URL": ("url", "gitlab_url"),
    "GITHUB_API_URL": ("url", "github_api_url"),
    "GITLAB_API_TOKEN": ("secret", "gitlab_api_token"),
    "STATUS_TOKEN": ("secret", "status_token"),
    "DATABASE_URL": ("str", "database_url"),
    "DATA_DIR": ("path", "data_dir"),
    "PLATFORM_REPO": ("str", "platform_repo"),
    "POLICY_PACKS": ("list", "packs"),
    "POLICY_BUNDLE_DIR": ("path", "policy_bundle_dir"),
    "POLICY_PUBLIC_KEY_FILE": ("path", "policy_public_key_file"),
    "CONSTITUTION_PIN_FILE": ("path", "constitution_pin_file"),
    "POLICY_UNSIGNED": ("bool", "policy_unsigned"),
    "WAIVER_KEYS_DIR": ("path", "waiver_keys_dir"),
    "IGNORE_EMAILS": ("list", "ignore_emails"),
    "REPOS": ("str", "repos"),
    "DRY_RUN": ("bool", "dry_run"),
    "HOST": ("str", "host"),
    "PORT": ("port", "port"),
    "MAX_BODY_BYTES": ("posint", "max_body_bytes"),
    "WORKERS": ("posint", "workers"),
    "MAX_ATTEMPTS": ("posint", "max_attempts"),
    "LEASE_SECONDS": ("posfloat", "lease_seconds"),
    "POLL_SECONDS": ("posfloat", "poll_seconds"),
    "BACKOFF_BASE_SECONDS": ("posfloat", "backoff_base_seconds"),
    "BACKOFF_MAX_SECONDS": ("posfloat", "backoff_max_seconds"),
    "SHUTDOWN_GRACE_SECONDS": ("nonnegfloat", "shutdown_grace_seconds"),
    "RETENTION_DAYS": ("posfloat", "retention_days"),
    "LOG_LEVEL": ("loglevel", "log_level"),
}
#: keys that may instead be given as `<KEY>_FILE` (a path whose content is the value)
_FILE_SECRETS = ("GITHUB_WEBHOOK_SECRET", "GITLAB_WEBHOOK_TOKEN", "GITLAB_API_TOKEN", "STATUS_TOKEN")
#: variables with the prefix that are read elsewhere on purpose (tests, CI), not typos
_IGNORED = ("TEST_POSTGRES_URL",)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def redact_url(url: str) -> str:
    """`url` with the password (if any) replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    return parts._replace(netloc=f"{userinfo}:***@{netloc[1]}").geturl()


def database_kind(url: str) -> str:
    """'sqlite' or 'postgresql' for a database URL; raises ConfigError for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    raise ConfigError(
        f"TRUSTACKS_DATABASE_URL: unsupported scheme {scheme!r}; use sqlite:///path/to/trustacks.db "
        "or postgresql://user@host:5432/dbname"
    )


def sqlite_path(url: str) -> Path:
    """The file path of a sqlite:/// URL (sqlite:////abs/path or sqlite:///relative/path)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError("TRUSTACKS_DATABASE_URL: a sqlite URL has no host; write sqlite:///path/to/file.db")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path or path == ":memory:":
        raise ConfigError(
            "TRUSTACKS_DATABASE_URL: sqlite needs a file path (an in-memory queue would lose events); "
            "write sqlite:///path/to/trustacks.db"
        )
    return Path(path)


def _check_database_url(url: str) -> None:
    kind = database_kind(url)
    if kind == "sqlite":
        path = sqlite_path(url)
        parent = path.parent if str(path.parent) else Path(".")
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"TRUSTACKS_DATABASE_URL: {parent} is not a directory")
        return
    from psycopg.conninfo import conninfo_to_dict  # local: only PostgreSQL users pay the import

    try:
        info = conninfo_to_dict(url)
    except Exception:
        # psycopg's message can echo the URL (and a password in it): say only what to fix
        raise ConfigError(
            "TRUSTACKS_DATABASE_URL: not a valid PostgreSQL URL; expected postgresql://user@host:5432/dbname"
        ) from None
    port = str(info.get("port") or "")
    if port and not all(p.isdigit() and 0 < int(p) < 65536 for p in port.split(",")):
        raise ConfigError("TRUSTACKS_DATABASE_URL: the PostgreSQL port must be a number (…:5432/dbname)")
    if not info.get("dbname"):
        raise ConfigError("TRUSTACKS_DATABASE_URL: the PostgreSQL URL names no database (…/dbname)")


def _check_policy_source(values: Mapping[str, Any]) -> None:
    """Signed bundles need their key; the development escape hatch cannot be mixed with them."""
    bundle_dir, key = values.get("policy_bundle_dir"), values.get("policy_public_key_file")
    if bundle_dir is not None and key is None:
        raise ConfigError("TRUSTACKS_POLICY_BUNDLE_DIR is set: also set TRUSTACKS_POLICY_PUBLIC_KEY_FILE "
                          "(the public key the bundles are signed for)")
    if key is not None and bundle_dir is None:
        raise ConfigError("TRUSTACKS_POLICY_PUBLIC_KEY_FILE is set: also set TRUSTACKS_POLICY_BUNDLE_DIR")
    if values.get("constitution_pin_file") is not None and bundle_dir is None:
        raise ConfigError("TRUSTACKS_CONSTITUTION_PIN_FILE is set: also set TRUSTACKS_POLICY_BUNDLE_DIR")
    if bundle_dir is not None and values.get("policy_unsigned"):
        raise ConfigError("set either TRUSTACKS_POLICY_BUNDLE_DIR (signed bundles) or TRUSTACKS_POLICY_UNSIGNED "
                          "(development only), not both")
    waiver_dir = values.get("waiver_keys_dir")
    if waiver_dir is not None and not waiver_dir.is_dir():
        raise ConfigError(f"TRUSTACKS_WAIVER_KEYS_DIR: {waiver_dir} is not a directory of <approver>.pub files")
    if bundle_dir is not None and bundle_dir.exists() and not bundle_dir.is_dir():
        raise ConfigError(f"TRUSTACKS_POLICY_BUNDLE_DIR: {bundle_dir} is not a directory")


def _parse(kind: str, key: str, raw: Any) -> Any:
    name = PREFIX + key
    text = str(raw).strip() if not isinstance(raw, bool) else raw
    if kind == "secret":
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(f"{name} is set but empty")
        return Secret(raw.strip())
    if kind == "bool":
        if isinstance(text, bool):
            return text
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{name}: expected true or false, got {text!r}")
    if kind in ("posint", "port"):
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {text!r}") from None
        if (value < 0 if kind == "port" else value <= 0) or (kind == "port" and value > 65535):
            raise ConfigError(f"{name}: {value} is out of range")
        return value
    if kind in ("posfloat", "nonnegfloat"):
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {text!r}") from None
        if number != number or number < 0 or (kind == "posfloat" and number == 0):
            raise ConfigError(f"{name}: {text} is out of range")
        return number
    if kind == "loglevel":
        level = text.upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"{name}: expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
        return level
    if kind == "path":
        if not text:
            raise ConfigError(f"{name} is set but empty")
        return Path(text).expanduser()
    if kind == "list":
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    if kind == "url":
        if urlsplit(text).scheme not in ("http", "https"):
            raise ConfigError(f"{name}: expected an http(s) URL, got {text!r}")
        return text.rstrip("/")
    return text or None


def _read_secret_file(name: str, path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
    if not value:
        raise ConfigError(f"{name}: {path} is empty")
    return value


def _load_file(file: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(file)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            raise ConfigError(f"--config: {path}: tables are not supported; write {key} as a top-level key")
        values[str(key).upper().removeprefix(PREFIX)] = value
    return values


def load_settings(
    env: Mapping[str, str] = os.environ,
    file: str | os.PathLike[str] | None = None,
    *,
    require_webhook_secret: bool = True,
) -> Settings:
    """Read, validate and freeze the configuration; raise ConfigError naming the first problem.

    `require_webhook_secret=False` is for operator commands (`trustacks jobs`) that open no port.
    """
    raw: dict[str, Any] = _load_file(file) if file is not None else {}
    warnings: list[str] = []
    for key in list(raw):
        base = key.removesuffix("_FILE")
        if key not in _KEYS and not (key.endswith("_FILE") and base in _FILE_SECRETS):
            warnings.append(f"{file}: unknown key {key.lower()!r} ignored")
            raw.pop(key)
    for name, value in env.items():
        if not name.startswith(PREFIX):
            continue
        key = name[len(PREFIX) :]
        base = key.removesuffix("_FILE")
        if key in _KEYS or (key.endswith("_FILE") and base in _FILE_SECRETS):
            raw[key] = value
        elif key not in _IGNORED:
            warnings.append(f"unknown variable {name} ignored (see docs/configuration.md)")

    for key in _FILE_SECRETS:
        file_key = key + "_FILE"
        if file_key in raw:
            if key in raw:
                raise ConfigError(f"set only one of {PREFIX}{key} and {PREFIX}{file_key}")
            raw[key] = _read_secret_file(PREFIX + file_key, Path(str(raw.pop(file_key))).expanduser())

    values: dict[str, Any] = {}
    for key, value in raw.items():
        kind, attr = _KEYS[key]
        if kind not in ("secret", "bool") and isinstance(value, str) and not value.strip():
            continue  # an empty variable means "use the default"
        values[attr] = _parse(kind, key, value)

    data_dir = values.get("data_dir") or Path(".trustacks").absolute()
    values["data_dir"] = data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"TRUSTACKS_DATA_DIR: {data_dir} exists and is not a directory")
    values.setdefault("database_url", f"sqlite:///{data_dir / 'trustacks.db'}")
    _check_database_url(values["database_url"])

    key_file = values.get("github_private_key_file")
    if key_file is not None:
        pem = _read_secret_file("TRUSTACKS_GITHUB_PRIVATE_KEY_FILE", key_file)
        if "PRIVATE KEY-----" not in pem:
            raise ConfigError(
                f"TRUSTACKS_GITHUB_PRIVATE_KEY_FILE: {key_file} is not a PEM private key "
                "(download it from the GitHub App settings page)"
            )
        values["github_private_key"] = Secret(pem)
    if values.get("github_app_id") is not None and key_file is None:
        raise ConfigError("TRUSTACKS_GITHUB_APP_ID is set: also set TRUSTACKS_GITHUB_PRIVATE_KEY_FILE")
    if key_file is not None and values.get("github_app_id") is None:
        raise ConfigError("TRUSTACKS_GITHUB_PRIVATE_KEY_FILE is set: also set TRUSTACKS_GITHUB_APP_ID")

    if require_webhook_secret and not (values.get("github_webhook_secret") or values.get("gitlab_webhook_token")):
        raise ConfigError(
            "refusing to start without a webhook secret: set TRUSTACKS_GITHUB_WEBHOOK_SECRET (the GitHub "
            "App's webhook secret) and/or TRUSTACKS_GITLAB_WEBHOOK_TOKEN (the GitLab webhook's secret token)"
        )
    _check_policy_source(values)
    status_token = values.get("status_token")
    if status_token is not None and len(status_token.reveal()) < MIN_STATUS_TOKEN_CHARS:
        raise ConfigError(f"TRUSTACKS_STATUS_TOKEN is shorter than {MIN_STATUS_TOKEN_CHARS} characters; use a long "
                          "random value (e.g. `openssl rand -hex 32`)")
    if values.get("backoff_max_seconds", 600.0) < values.get("backoff_base_seconds", 5.0):
        raise ConfigError("TRUSTACKS_BACKOFF_MAX_SECONDS must not be below TRUSTACKS_BACKOFF_BASE_SECONDS")
    if values.get("lease_seconds", 60.0) < 1.0:
        raise ConfigError("TRUSTACKS_LEASE_SECONDS must be at least 1 (the lease is renewed every third of it)")
    return Settings(**values, warnings=tuple(warnings))
