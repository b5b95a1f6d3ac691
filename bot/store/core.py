"""Store objects, the `Store` protocol, the SQL shared by both databases, and the threaded async front.

`SQLBackend` holds every statement once, written with `?` placeholders (converted to `%s` for
psycopg); its subclasses supply connections, transactions, the DDL and the row-lock clause.
`ThreadedStore` runs a backend's blocking calls on a small thread pool and batches concurrent
`enqueue` calls into one transaction.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import json
import secrets
import time
import itertools
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Protocol, Sequence, TypeVar

JOB_STATES = ("queued", "leased", "done", "failed", "dead")
#: states a job can still leave by itself
OPEN_STATES = ("queued", "leased", "failed")
MAX_ERROR_CHARS = 4000
MAX_ENQUEUE_BATCH = 256

T = TypeVar("T")


class StoreError(RuntimeError):
    """A store operation failed (database unreachable, disk full...). The caller may retry later."""


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery, as persisted before the 202."""

    forge: str
    delivery_id: str
    event: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """A stored delivery and its progress. `body` is None in listings (`list_jobs`)."""

    id: int
    forge: str
    delivery_id: str
    event: str
    headers: Mapping[str, str]
    body: bytes | None
    state: str
    attempts: int
    next_run_at: float
    lease_owner: str | None
    lease_token: str | None
    lease_expires_at: float | None
    last_error: str | None
    received_at: float
    updated_at: float
    finished_at: float | None

    @cached_property
    def payload(self) -> Any:
        """The delivery's JSON body, parsed once."""
        if self.body is None:
            raise ValueError(f"job {self.id} was loaded without its body; use Store.get_job()")
        return json.loads(self.body)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view without the body, for `trustacks jobs --json`."""
        return {
            "id": self.id,
            "forge": self.forge,
            "delivery_id": self.delivery_id,
            "event": self.event,
            "state": self.state,
            "attempts": self.attempts,
            "next_run_at": self.next_run_at,
            "lease_owner": self.lease_owner,
            "lease_expires_at": self.lease_expires_at,
            "last_error": self.last_error,
            "received_at": self.received_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }


class Store(Protocol):
    """The job queue and KV table. All methods are coroutines; lease-holding calls return False when
    the caller's lease is gone (expired and taken by another worker, or the job was finished)."""

    lease_seconds: float
    max_attempts: int

    async def enqueue(self, delivery: Delivery) -> bool: ...
    async def lease(self, worker_id: str, n: int) -> list[Job]: ...
    async def renew(self, job: Job) -> bool: ...
    async def complete(self, job: Job) -> bool: ...
    async def fail(self, job: Job, error: str, *, retry_at: float) -> bool: ...
    async def dead(self, job: Job, error: str) -> bool: ...
    async def release(self, job: Job) -> bool: ...
    async def get_job(self, job_id: int) -> Job | None: ...
    async def list_jobs(self, state: str | None = None, *, limit: int = 100) -> list[Job]: ...
    async def retry(self, job_id: int) -> bool: ...
    async def counts(self) -> dict[str, int]: ...
    async def queue_depth(self) -> int: ...
    async def ping(self) -> bool: ...
    async def get_kv(self, key: str) -> str | None: ...
    async def set_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> None: ...
    async def add_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> bool: ...
    async def delete_kv(self, key: str) -> bool: ...
    async def prune(self, *, older_than_seconds: float) -> int: ...
    async def close(self) -> None: ...


# --------------------------------------------------------------------------- SQL shared by both databases

# A delivery (immutable, with its body) and its job (small, updated on every lease) live in two
# tables: SQLite rewrites a whole row on UPDATE, so keeping the body out of the job row keeps lease
# bookkeeping from rewriting kilobytes of payload each time.
_SELECT = (
    "SELECT d.id, d.forge, d.delivery_id, d.event, d.headers, {body}, j.state, j.attempts, j.next_run_at, "
    "j.lease_owner, j.lease_token, j.lease_expires_at, j.last_error, d.received_at, j.updated_at, j.finished_at "
    "FROM trustacks_jobs j JOIN trustacks_deliveries d ON d.id = j.id"
)
_SELECT_FULL = _SELECT.format(body="d.body")
_SELECT_LIST = _SELECT.format(body="NULL")


def _row_to_job(row: Sequence[Any]) -> Job:
    headers = json.loads(row[4]) if row[4] else {}
    body = bytes(row[5]) if row[5] is not None else None
    return Job(
        id=int(row[0]),
        forge=row[1],
        delivery_id=row[2],
        event=row[3],
        headers=headers,
        body=body,
        state=row[6],
        attempts=int(row[7]),
        next_run_at=float(row[8]),
        lease_owner=row[9],
        lease_token=row[10],
        lease_expires_at=None if row[11] is None else float(row[11]),
        last_error=row[12],
        received_at=float(row[13]),
        updated_at=float(row[14]),
        finished_at=None if row[15] is None else float(row[15]),
    )


class SQLBackend(abc.ABC):
    """Blocking queue operations over a DB-API connection. Every method is one transaction."""

    #: appended to the SELECT that picks rows to lease (PostgreSQL: FOR UPDATE SKIP LOCKED)
    lock_clause = ""
    placeholder = "?"

    @abc.abstractmethod
    def transaction(self, *, readonly: bool = False, durable: bool = True) -> contextlib.AbstractContextManager[Any]:
        """A context manager yielding a cursor inside one transaction (a write one unless `readonly`).

        `durable=False` lets the commit skip waiting for the disk: used for lease bookkeeping, where
        losing the last commits to a power cut only means a job runs again (handlers are idempotent).
        Accepting a delivery, KV writes and operator retries are always durable.
        """

    @abc.abstractmethod
    def migrate(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _exec(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._sql(sql), tuple(params))
        return cur

    # -- ingress

    def enqueue_many(self, deliveries: Sequence[Delivery], now: float) -> list[bool]:
        inserted: list[bool] = []
        with self.transaction() as cur:
            for d in deliveries:
                row = self._exec(
                    cur,
                    "INSERT INTO trustacks_deliveries (forge, delivery_id, event, headers, body, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (forge, delivery_id) DO NOTHING RETURNING id",
                    (d.forge, d.delivery_id, d.event, json.dumps(dict(d.headers)), d.body, now),
                ).fetchone()
                if row is not None:
                    self._exec(
                        cur,
                        "INSERT INTO trustacks_jobs (id, state, attempts, next_run_at, updated_at) "
                        "VALUES (?, 'queued', 0, ?, ?)",
                        (row[0], now, now),
                    )
                inserted.append(row is not None)
        return inserted

    # -- workers

    def lease(
        self, worker_id: str, n: int, *, now: float, lease_seconds: float, max_attempts: int
    ) -> list[Job]:
        token = secrets.token_hex(12)
        expires = now + lease_seconds
        with self.transaction(durable=False) as cur:
            # A lease that expired on its last allowed attempt means the worker died every time:
            # dead-letter the job instead of letting it crash workers forever.
            stale = self._exec(
                cur,
                "SELECT id FROM trustacks_jobs WHERE state = 'leased' AND next_run_at <= ? AND attempts >= ? "
                "ORDER BY id" + self.lock_clause,
                (now, max_attempts),
            ).fetchall()
            if stale:
                ids = [r[0] for r in stale]
                self._exec(
                    cur,
                    "UPDATE trustacks_jobs SET state = 'dead', lease_owner = NULL, lease_token = NULL, "
                    "lease_expires_at = NULL, finished_at = ?, updated_at = ?, last_error = ? "
                    f"WHERE id IN ({', '.join('?' * len(ids))})",
                    (now, now, f"lease expired on attempt {max_attempts} of {max_attempts} (worker died?)", *ids),
                )
            # next_run_at is "when this job next needs attention": runnable time for queued/failed,
            # lease expiry for leased. One index serves both.
            picked = self._exec(
                cur,
                "SELECT id FROM trustacks_jobs WHERE state IN ('queued', 'failed', 'leased') AND next_run_at <= ? "
                "ORDER BY next_run_at, id LIMIT ?" + self.lock_clause,
                (now, n),
            ).fetchall()
            if not picked:
                return []
            ids = [r[0] for r in picked]
            marks = ", ".join("?" * len(ids))
            self._exec(
                cur,
                "UPDATE trustacks_jobs SET state = 'leased', lease_owner = ?, lease_token = ?, "
                "lease_expires_at = ?, next_run_at = ?, attempts = attempts + 1, updated_at = ? "
                f"WHERE id IN ({marks})",
                (worker_id, token, expires, expires, now, *ids),
            )
            rows = self._exec(cur, f"{_SELECT_FULL} WHERE j.id IN ({marks}) ORDER BY j.id", ids).fetchall()
        return [_row_to_job(r) for r in rows]

    def renew(self, job_id: int, token: str, *, now: float, lease_seconds: float) -> bool:
        expires = now + lease_seconds
        with self.transaction(durable=False) as cur:
            return (
                self._exec(
                    cur,
                    "UPDATE trustacks_jobs SET lease_expires_at = ?, next_run_at = ?, updated_at = ? "
                    "WHERE id = ? AND lease_token = ? AND state = 'leased'",
                    (expires, expires, now, job_id, token),
                ).rowcount
                == 1
            )

    def finish(
        self,
        job_id: int,
        token: str,
        *,
        state: str,
        now: float,
        error: str | None = None,
        next_run_at: float | None = None,
        uncount_attempt: bool = False,
    ) -> bool:
        """Leave the leased state (done, failed, dead, queued) if `token` still holds the lease."""
        if state not in ("done", "failed", "dead", "queued"):
            raise ValueError(f"cannot finish a job into state {state!r}")
        finished = now if state in ("done", "dead") else None
        error_sql = ", last_error = ?" if error is not None else ""
        attempts_sql = ", attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END" if uncount_attempt else ""
        params: list[Any] = [state, next_run_at if next_run_at is not None else now, finished, now]
        if error is not None:
            params.append(error[:MAX_ERROR_CHARS])
        with self.transaction(durable=False) as cur:
            return (
                self._exec(
                    cur,
                    "UPDATE trustacks_jobs SET state = ?, next_run_at = ?, finished_at = ?, updated_at = ?, "
                    f"lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL{error_sql}{attempts_sql} "
                    "WHERE id = ? AND lease_token = ? AND state = 'leased'",
                    (*params, job_id, token),
                ).rowcount
                == 1
            )

    # -- operators

    def get_job(self, job_id: int) -> Job | None:
        with self.transaction(readonly=True) as cur:
            row = self._exec(cur, f"{_SELECT_FULL} WHERE j.id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row else None

    def list_jobs(self, state: str | None, limit: int) -> list[Job]:
        with self.transaction(readonly=True) as cur:
            if state is None:
                rows = self._exec(cur, f"{_SELECT_LIST} ORDER BY j.id DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = self._exec(
                    cur, f"{_SELECT_LIST} WHERE j.state = ? ORDER BY j.id DESC LIMIT ?", (state, limit)
                ).fetchall()
        return [_row_to_job(r) for r in rows]

    def retry(self, job_id: int, *, now: float) -> bool:
        with self.transaction() as cur:
            return (
                self._exec(
                    cur,
                    "UPDATE trustacks_jobs SET state = 'queued', attempts = 0, next_run_at = ?, updated_at = ?, "
                    "finished_at = NULL WHERE id = ? AND state IN ('failed', 'dead')",
                    (now, now, job_id),
                ).rowcount
                == 1
            )

    def counts(self) -> dict[str, int]:
        with self.transaction(readonly=True) as cur:
            rows = self._exec(cur, "SELECT state, COUNT(*) FROM trustacks_jobs GROUP BY state").fetchall()
        found = {state: int(count) for state, count in rows}
        return {state: found.get(state, 0) for state in JOB_STATES}

    def ping(self) -> bool:
        with self.transaction(readonly=True) as cur:
            return self._exec(cur, "SELECT 1").fetchone()[0] == 1

    def prune(self, *, before: float) -> int:
        """Delete done jobs finished before `before` (their delivery ids stop deduplicating then)."""
        with self.transaction(durable=False) as cur:
            old = self._exec(
                cur, "SELECT id FROM trustacks_jobs WHERE state = 'done' AND finished_at < ?", (before,)
            ).fetchall()
            for start in range(0, len(old), 500):
                ids = [r[0] for r in old[start : start + 500]]
                marks = ", ".join("?" * len(ids))
                self._exec(cur, f"DELETE FROM trustacks_jobs WHERE id IN ({marks})", ids)
                self._exec(cur, f"DELETE FROM trustacks_deliveries WHERE id IN ({marks})", ids)
            return len(old)

    # -- key/value

    def get_kv(self, key: str, *, now: float) -> str | None:
        with self.transaction(readonly=True) as cur:
            row = self._exec(
                cur,
                "SELECT value FROM trustacks_kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, now),
            ).fetchone()
        return None if row is None else str(row[0])

    def set_kv(self, key: str, value: str, *, now: float, expires_at: float | None) -> None:
        with self.transaction() as cur:
            self._exec(
                cur,
                "INSERT INTO trustacks_kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
                "updated_at = excluded.updated_at",
                (key, value, expires_at, now),
            )

    def add_kv(self, key: str, value: str, *, now: float, expires_at: float | None) -> bool:
        with self.transaction() as cur:
            return (
                self._exec(
                    cur,
                    "INSERT INTO trustacks_kv (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
                    "updated_at = excluded.updated_at "
                    "WHERE trustacks_kv.expires_at IS NOT NULL AND trustacks_kv.expires_at <= ?",
                    (key, value, expires_at, now, now),
                ).rowcount
                == 1
            )

    def delete_kv(self, key: str) -> bool:
        with self.transaction() as cur:
            return self._exec(cur, "DELETE FROM trustacks_kv WHERE key = ?", (key,)).rowcount == 1


# --------------------------------------------------------------------------- async front


#: store work priorities: accepting deliveries goes before lease bookkeeping and operator reads
URGENT, NORMAL = 0, 1


class _PriorityExecutor:
    """A few daemon threads running blocking calls, most urgent first.

    Like a ThreadPoolExecutor, except that a delivery waiting to be committed (the 202 path) never
    queues behind a backlog of lease and completion calls from busy workers.
    """

    def __init__(self, threads: int, *, name: str) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T], *, priority: int = NORMAL) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((priority, next(self._seq), (fn, future)))
        return future

    def _work(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Stop the threads once the work already queued is done."""
        for _ in self._threads:
            self._queue.put((NORMAL + 1, next(self._seq), None))


class ThreadedStore:
    """The `Store` every caller uses: a backend's blocking calls on the store's own threads."""

    def __init__(
        self,
        backend: SQLBackend,
        *,
        threads: int = 1,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.clock = clock
        self._executor = _PriorityExecutor(threads, name="trustacks-store")
        self._pending: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self._migrated = False

    @property
    def kind(self) -> str:
        return type(self.backend).__name__.removesuffix("Backend").lower()

    async def _run(self, fn: Callable[[], T], *, priority: int = NORMAL) -> T:
        return await asyncio.wrap_future(self._executor.submit(fn, priority=priority))

    async def _call(self, fn: Callable[..., T], *args: Any, priority: int = NORMAL, **kwargs: Any) -> T:
        if self._closed:
            raise StoreError("store is closed")
        if not self._migrated:
            await self._run(self.backend.migrate, priority=URGENT)
            self._migrated = True
        try:
            return await self._run(functools.partial(fn, *args, **kwargs), priority=priority)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{getattr(fn, '__name__', 'store call')} failed: {type(exc).__name__}: {exc}") from exc

    async def open(self) -> "ThreadedStore":
        """Connect and migrate now (otherwise done on first use); fail fast at start-up."""
        await self._call(self.backend.ping)
        return self

    # -- ingress: group commit

    async def enqueue(self, delivery: Delivery) -> bool:
        """Persist a delivery; True if new, False if this (forge, delivery id) was seen before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_ENQUEUE_BATCH], self._pending[MAX_ENQUEUE_BATCH:]
            try:
                results = await self._call(
                    self.backend.enqueue_many, [d for d, _ in batch], self.clock(), priority=URGENT
                )
            except BaseException as exc:  # noqa: BLE001 - every waiter must learn the outcome
                error = exc if isinstance(exc, Exception) else StoreError("enqueue cancelled")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(error)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, fut), inserted in zip(batch, results):
                if not fut.done():
                    fut.set_result(inserted)

    # -- workers

    async def lease(self, worker_id: str, n: int) -> list[Job]:
        if n <= 0:
            return []
        return await self._call(
            self.backend.lease,
            worker_id,
            n,
            now=self.clock(),
            lease_seconds=self.lease_seconds,
            max_attempts=self.max_attempts,
        )

    async def renew(self, job: Job) -> bool:
        return await self._call(
            self.backend.renew, job.id, job.lease_token or "", now=self.clock(), lease_seconds=self.lease_seconds
        )

    async def complete(self, job: Job) -> bool:
        return await self._call(self.backend.finish, job.id, job.lease_token or "", state="done", now=self.clock())

    async def fail(self, job: Job, error: str, *, retry_at: float) -> bool:
        """Record a failed attempt; the job runs again at `retry_at` (dead-letter via `dead`)."""
        return await self._call(
            self.backend.finish,
            job.id,
            job.lease_token or "",
            state="failed",
            now=self.clock(),
            error=error,
            next_run_at=retry_at,
        )

    async def dead(self, job: Job, error: str) -> bool:
        return await self._call(
            self.backend.finish, job.id, job.lease_token or "", state="dead", now=self.clock(), error=error
        )

    async def release(self, job: Job) -> bool:
        """Give a leased job back unfinished (shutdown); the attempt does not count."""
        return await self._call(
            self.backend.finish, job.id, job.lease_token or "", state="queued", now=self.clock(), uncount_attempt=True
        )

    # -- operators

    async def get_job(self, job_id: int) -> Job | None:
        return await self._call(self.backend.get_job, job_id)

    async def list_jobs(self, state: str | None = None, *, limit: int = 100) -> list[Job]:
        if state is not None and state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}; one of {', '.join(JOB_STATES)}")
        return await self._call(self.backend.list_jobs, state, limit)

    async def retry(self, job_id: int) -> bool:
        """Queue a failed or dead job again now, with its attempts reset. False if not failed/dead."""
        return await self._call(self.backend.retry, job_id, now=self.clock())

    async def counts(self) -> dict[str, int]:
        return await self._call(self.backend.counts)

    async def queue_depth(self) -> int:
        counts = await self.counts()
        return sum(counts[s] for s in OPEN_STATES)

    async def ping(self) -> bool:
        try:
            return await self._call(self.backend.ping)
        except StoreError:
            return False

    async def prune(self, *, older_than_seconds: float) -> int:
        return await self._call(self.backend.prune, before=self.clock() - older_than_seconds)

    # -- key/value

    async def get_kv(self, key: str) -> str | None:
        return await self._call(self.backend.get_kv, key, now=self.clock())

    async def set_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> None:
        now = self.clock()
        await self._call(
            self.backend.set_kv, key, value, now=now, expires_at=None if ttl_seconds is None else now + ttl_seconds
        )

    async def add_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> bool:
        """Set `key` only if absent (or expired): a claim/lock primitive. True if this call set it."""
        now = self.clock()
        return await self._call(
            self.backend.add_kv, key, value, now=now, expires_at=None if ttl_seconds is None else now + ttl_seconds
        )

    async def delete_kv(self, key: str) -> bool:
        return await self._call(self.backend.delete_kv, key)

    async def close(self) -> None:
        if self._closed:
            return
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher], timeout=10)
        self._closed = True
        with contextlib.suppress(Exception):
            await self._run(self.backend.close)
        self._executor.shutdown()
