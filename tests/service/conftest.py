"""Shared fixtures for the service tests: a store on each database, a controllable clock, settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import AsyncIterator, Iterator
from urllib.parse import quote

import pytest

from bot.config import Settings, load_settings
from bot.store import ThreadedStore, open_store

PG_ENV = "TRUSTACKS_TEST_POSTGRES_URL"
PG_SKIP = (
    f"PostgreSQL store tests skipped: set {PG_ENV} (e.g. export {PG_ENV}=$(bash .ci/postgres.sh)) to run them"
)
CANARY = "canary-Zq8v-" + "s3cr3t-value"
GITLAB_CANARY = "gitlab-canary-" + "t0ken-value"


class Clock:
    """A settable clock for lease and backoff tests (no sleeping)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote('-csearch_path=' + schema)}"


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a PostgreSQL schema of its own."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(PG_SKIP)
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_schema(admin, schema)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


BOTH = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@pytest.fixture
async def store(db_url: str, clock: Clock) -> AsyncIterator[ThreadedStore]:
    s = open_store(db_url, lease_seconds=30, max_attempts=3, clock=clock)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def make_settings(tmp_path: Path, **env: str) -> Settings:
    base = {
        "TRUSTACKS_DATA_DIR": str(tmp_path / "data"),
        "TRUSTACKS_GITHUB_WEBHOOK_SECRET": CANARY,
        "TRUSTACKS_GITLAB_WEBHOOK_TOKEN": GITLAB_CANARY,
    }
    base.update(env)
    return load_settings({k: v for k, v in base.items() if v is not None})
