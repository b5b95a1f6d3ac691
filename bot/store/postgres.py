"""PostgreSQL backend (psycopg 3): one queue shared safely by several `trustacks serve` replicas.

Rows to lease are picked with `FOR UPDATE SKIP LOCKED`, so concurrent workers in different
processes never pick the same job and never wait on each other. Each store thread has its own
connection (autocommit, explicit transactions); a broken connection is dropped and reopened on the
next call. Schema migrations run under an advisory lock so replicas starting together agree.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import psycopg

from bot.store.core import SQLBackend

#: arbitrary constant: the advisory lock that serializes migrations across replicas
_MIGRATION_LOCK = 0x7472757374

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS trustacks_deliveries (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                forge TEXT NOT NULL,
                delivery_id TEXT NOT NULL,
                event TEXT NOT NULL,
                headers TEXT NOT NULL,
                body BYTEA NOT NULL,
                received_at DOUBLE PRECISION NOT NULL,
                UNIQUE (forge, delivery_id)
            )""",
            """CREATE TABLE IF NOT EXISTS trustacks_jobs (
                id BIGINT PRIMARY KEY REFERENCES trustacks_deliveries (id),
                state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed', 'dead')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_run_at DOUBLE PRECISION NOT NULL,
                lease_owner TEXT,
                lease_token TEXT,
                lease_expires_at DOUBLE PRECISION,
                last_error TEXT,
                updated_at DOUBLE PRECISION NOT NULL,
                finished_at DOUBLE PRECISION
            )""",
            "CREATE INDEX IF NOT EXISTS trustacks_jobs_due ON trustacks_jobs (state, next_run_at)",
            """CREATE TABLE IF NOT EXISTS trustacks_kv (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                expires_at DOUBLE PRECISION,
                updated_at DOUBLE PRECISION NOT NULL
            )""",
        ),
    ),
)


class PostgresBackend(SQLBackend):
    """The queue in a PostgreSQL database named by a postgresql:// URL."""

    lock_clause = " FOR UPDATE SKIP LOCKED"
    placeholder = "%s"

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[psycopg.Connection[Any]] = []

    def _connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and (conn.closed or conn.broken):
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            conn = None
        if conn is None:
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout, application_name="trustacks"
            )
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False, durable: bool = True) -> Iterator[Any]:
        conn = self._connection()
        with conn.transaction():
            with conn.cursor() as cur:
                if not durable and not readonly:
                    # same contract as SQLite: only lease bookkeeping skips the WAL flush wait
                    cur.execute("SET LOCAL synchronous_commit TO OFF")
                yield cur

    def migrate(self) -> None:
        conn = self._connection()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS trustacks_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM trustacks_schema").fetchone()
            version = row[0] if row and row[0] is not None else 0
            for target, statements in MIGRATIONS:
                if target > version:
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute("INSERT INTO trustacks_schema (version) VALUES (%s)", (target,))

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
