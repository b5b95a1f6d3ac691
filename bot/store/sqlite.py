"""SQLite backend: the default queue, one file, no setup.

WAL mode so readers never block the writer; `synchronous=FULL` so a delivery answered with 202 is
on disk even after a power cut (group commit in ThreadedStore keeps that to one fsync per batch);
lease bookkeeping commits with `synchronous=NORMAL` (no fsync: a power cut can only make a job run
again, and the next FULL commit flushes it anyway);
`BEGIN IMMEDIATE` for writes so two processes on one file (a worker killed mid-job and its
successor, or `trustacks jobs retry` beside `serve`) serialize on the lock instead of failing.
One connection per backend, used only from the store's single thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from bot.store.core import SQLBackend

#: (version, statements); append only
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS trustacks_deliveries (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                forge TEXT NOT NULL,
                delivery_id TEXT NOT NULL,
                event TEXT NOT NULL,
                headers TEXT NOT NULL,
                body BLOB NOT NULL,
                received_at REAL NOT NULL,
                UNIQUE (forge, delivery_id)
            )""",
            """CREATE TABLE IF NOT EXISTS trustacks_jobs (
                id INTEGER PRIMARY KEY REFERENCES trustacks_deliveries (id),
                state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed', 'dead')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_run_at REAL NOT NULL,
                lease_owner TEXT,
                lease_token TEXT,
                lease_expires_at REAL,
                last_error TEXT,
                updated_at REAL NOT NULL,
                finished_at REAL
            )""",
            "CREATE INDEX IF NOT EXISTS trustacks_jobs_due ON trustacks_jobs (state, next_run_at)",
            """CREATE TABLE IF NOT EXISTS trustacks_kv (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                expires_at REAL,
                updated_at REAL NOT NULL
            )""",
        ),
    ),
)


class SQLiteBackend(SQLBackend):
    """The queue in one SQLite file (created with its directory on first use)."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._synchronous = ""

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.close()
                raise sqlite3.OperationalError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            self._synchronous = "FULL"
            self._conn = conn
        return self._conn

    def _set_synchronous(self, conn: sqlite3.Connection, level: str) -> None:
        # In WAL mode a FULL commit fsyncs the whole log, so it also makes every earlier NORMAL
        # commit durable: a 202 never depends on a commit that skipped the fsync.
        if self._synchronous != level:
            conn.execute(f"PRAGMA synchronous = {level}")
            self._synchronous = level

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False, durable: bool = True) -> Iterator[Any]:
        conn = self._connect()
        if not readonly:
            self._set_synchronous(conn, "FULL" if durable else "NORMAL")
        conn.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
        try:
            yield conn.cursor()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def migrate(self) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for target, statements in MIGRATIONS:
                if target > version:
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(target)}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
