"""The durable job queue behind `trustacks serve`: webhook deliveries persisted as jobs, plus a small KV table.

Each delivery is stored once, unique on (forge, delivery id), beside its job (tables
`trustacks_deliveries` and `trustacks_jobs`, one job per delivery): `enqueue` returns False for a
redelivery, so it is acknowledged and never worked twice. A job moves through these states:

    queued --lease--> leased --complete--> done
                        |----fail-------> failed --(next_run_at passes)--> leased ...
                        |----dead-------> dead     (also: attempts used up, or `fail` on the last one)
                        |----release----> queued   (graceful shutdown; the attempt is not counted)
                        '--lease expires (worker killed)--> leased again by another worker

Every lease carries a token; `complete`/`fail`/`dead`/`release`/`renew` only act while the caller
still holds that lease, so a worker whose lease expired cannot finish a job another worker now runs.

Two implementations behind one `Store` protocol, chosen by URL (`open_store`): SQLite in WAL mode
(the default, no setup) and PostgreSQL (psycopg 3, `FOR UPDATE SKIP LOCKED`) so several replicas
share one queue. Blocking database calls run on the store's own threads; concurrent `enqueue`
calls are committed together (group commit), so the 202 path waits for one fsync, not a queue of them.
"""

from __future__ import annotations

import time
from typing import Callable

from bot.store.core import (
    JOB_STATES,
    Delivery,
    Job,
    Store,
    StoreError,
    ThreadedStore,
)

__all__ = ["JOB_STATES", "Delivery", "Job", "Store", "StoreError", "ThreadedStore", "open_store"]


def open_store(
    url: str,
    *,
    lease_seconds: float = 60.0,
    max_attempts: int = 5,
    clock: Callable[[], float] = time.time,
) -> ThreadedStore:
    """Open (and migrate) the store a database URL names: sqlite:///path or postgresql://..."""
    from bot.config import database_kind, sqlite_path

    kind = database_kind(url)
    if kind == "sqlite":
        from bot.store.sqlite import SQLiteBackend

        backend = SQLiteBackend(sqlite_path(url))
        threads = 1
    else:
        from bot.store.postgres import PostgresBackend

        backend = PostgresBackend(url)
        threads = 4
    return ThreadedStore(
        backend, threads=threads, lease_seconds=lease_seconds, max_attempts=max_attempts, clock=clock
    )
