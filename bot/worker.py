"""The worker pool: lease jobs from the store, run the dispatcher on each, record the outcome.

- A job runs under a lease that a side task renews every third of the lease time. If renewal finds
  the lease gone (another worker took the job after this process stalled), the handler is cancelled:
  two workers never keep running one job.
- The dispatcher returning means done. `PermanentError` dead-letters at once. Any other exception is a
  failed attempt: retried after exponential backoff with jitter, dead-lettered after `max_attempts`.
  A worker killed mid-job leaves a lease that expires; the next lease picks the job up again (and a
  job whose worker died on every attempt is dead-lettered by the store, not retried forever).
- `stop(grace=...)`: stop leasing, let running jobs finish within the grace period, then cancel the
  rest and release their leases so another replica (or the next start) runs them without counting
  the attempt.

Every log line of a job carries its delivery id and job id (bound with `bot.logs.log_context`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Awaitable, Callable

from bot.logs import log_context
from bot.metrics import Metrics
from bot.store import Job, Store, StoreError

log = logging.getLogger("trustacks.worker")

Dispatcher = Callable[[Job], Awaitable[None]]
_STORE_ERROR_PAUSE = 2.0
_PRUNE_EVERY = 3600.0
_MAX_TRACEBACK_CHARS = 3000


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help (bad payload, unsupported event): dead-letter now."""


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before retry number `attempt` (1-based): base * 2**(attempt-1), capped, with "equal jitter"
    (uniform in the upper half) so failed jobs from one outage do not all retry at the same instant."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def describe_error(exc: BaseException, *, redact: Callable[[str], str] = lambda s: s) -> str:
    """`Type: message` plus the innermost frames, secrets redacted: what `trustacks jobs` shows."""
    head = f"{type(exc).__name__}: {exc}"
    frames = "".join(traceback.format_exception(exc)[-6:])
    text = head + "\n" + frames[-_MAX_TRACEBACK_CHARS:]
    return redact(text)


@dataclass
class _Running:
    job: Job
    held_until: float
    handler: asyncio.Task[None] | None = None
    cancel_reason: str | None = None


class WorkerPool:
    """Runs up to `concurrency` jobs at once from `store` through `dispatcher`."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        *,
        concurrency: int = 4,
        worker_id: str | None = None,
        poll_seconds: float = 1.0,
        backoff_base_seconds: float = 5.0,
        backoff_max_seconds: float = 600.0,
        retention_seconds: float | None = None,
        metrics: Metrics | None = None,
        redact: Callable[[str], str] = lambda s: s,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.concurrency = concurrency
        self.worker_id = worker_id or default_worker_id()
        self.poll_seconds = poll_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.retention_seconds = retention_seconds
        self.metrics = metrics or Metrics()
        self.redact = redact
        self.rng = rng or random.Random()
        self.clock = clock
        self._running: dict[int, _Running] = {}
        self._runners: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._renew_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_prune = 0.0

    # -- lifecycle

    async def start(self) -> None:
        """Start leasing in the background (returns at once)."""
        if self._loop_task is not None:
            return
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task = asyncio.create_task(self._lease_loop(), name=f"trustacks-worker-{self.worker_id}")
        self._renew_task = asyncio.create_task(self._renew_loop(), name=f"trustacks-renew-{self.worker_id}")
        log.info("worker pool started", extra={"worker_id": self.worker_id, "concurrency": self.concurrency})

    def notify(self) -> None:
        """A job was enqueued: look for work now instead of at the next poll."""
        if self._wake is not None:
            self._wake.set()

    @property
    def running(self) -> int:
        return len(self._running)

    async def stop(self, *, grace: float = 20.0) -> None:
        """Stop leasing; wait up to `grace` seconds for running jobs; cancel and release the rest."""
        self._stopping = True
        self.notify()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._runners:
            log.info("waiting for running jobs", extra={"running": len(self._runners), "grace_seconds": grace})
            _, pending = await asyncio.wait(set(self._runners), timeout=grace)
            if pending:
                for record in list(self._running.values()):
                    record.cancel_reason = "shutdown"
                    if record.handler is not None:
                        record.handler.cancel()
                await asyncio.wait(pending)
        if self._renew_task is not None:
            self._renew_task.cancel()
            await asyncio.gather(self._renew_task, return_exceptions=True)
            self._renew_task = None
        log.info("worker pool stopped", extra={"worker_id": self.worker_id})

    # -- leasing

    async def _lease_loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            # Clear before leasing, not after: a notify() (new job, finished job, stop) that arrives
            # while the lease call is in flight must still cut the following wait short.
            self._wake.clear()
            free = self.concurrency - len(self._running)
            leased = 0
            if free > 0:
                try:
                    jobs = await self.store.lease(self.worker_id, free)
                except StoreError as exc:
                    self.metrics.store_errors.labels("lease").inc()
                    log.error("lease failed: %s", exc)
                    jobs = []
                    await asyncio.sleep(_STORE_ERROR_PAUSE)
                for job in jobs:
                    if self._stopping:  # leased while stop() began: give it straight back
                        await self._finish(job, "released")
                        continue
                    self._spawn(job)
                leased = len(jobs)
            await self._maybe_prune()
            if (leased == free and free > 0) or self._stopping:
                continue  # there may be more due right now (or we are stopping)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except asyncio.TimeoutError:
                pass

    def _spawn(self, job: Job) -> None:
        self._running[job.id] = _Running(job, held_until=self.clock() + self.store.lease_seconds)
        runner = asyncio.create_task(self._run(job), name=f"trustacks-job-{job.id}")
        self._runners.add(runner)

        def _done(task: asyncio.Task[None]) -> None:
            self._runners.discard(task)
            self._running.pop(job.id, None)
            self.notify()

        runner.add_done_callback(_done)

    async def _maybe_prune(self) -> None:
        if self.retention_seconds is None or self.clock() - self._last_prune < _PRUNE_EVERY:
            return
        self._last_prune = self.clock()
        try:
            removed = await self.store.prune(older_than_seconds=self.retention_seconds)
        except StoreError as exc:
            log.warning("prune failed: %s", exc)
            return
        if removed:
            log.info("pruned finished jobs", extra={"removed": removed})

    # -- one job

    async def _run(self, job: Job) -> None:
        record = self._running[job.id]
        with log_context(delivery_id=job.delivery_id, job_id=job.id, forge=job.forge, forge_event=job.event):
            log.debug("job started", extra={"attempt": job.attempts, "worker_id": self.worker_id})
            self.metrics.jobs_running.inc()
            started = time.perf_counter()
            record.handler = asyncio.create_task(self.dispatcher(job))
            error: BaseException | None = None
            try:
                await record.handler
                outcome = "done"
            except asyncio.CancelledError:
                if not record.handler.cancelled() or record.cancel_reason is None:
                    raise  # this runner itself was cancelled
                outcome = "lease_lost" if record.cancel_reason == "lease_lost" else "released"
            except PermanentError as exc:
                outcome, error = "dead", exc
            except Exception as exc:  # noqa: BLE001 - a handler failure is an attempt, whatever it is
                error = exc
                outcome = "dead" if job.attempts >= self.store.max_attempts else "retry"
            finally:
                self.metrics.jobs_running.dec()
                self.metrics.job_run_seconds.labels(job.event).observe(time.perf_counter() - started)
            await self._finish(job, outcome, error)

    async def _finish(self, job: Job, outcome: str, error: BaseException | None = None) -> None:
        text = describe_error(error, redact=self.redact) if error is not None else None
        try:
            if outcome == "done":
                held = await self.store.complete(job)
                if held:
                    self.metrics.job_latency_seconds.labels(job.event).observe(max(0.0, self.clock() - job.received_at))
                log.info("job done" if held else "job done but its lease was lost; result not recorded")
            elif outcome == "retry":
                delay = backoff_delay(
                    job.attempts, base=self.backoff_base_seconds, cap=self.backoff_max_seconds, rng=self.rng
                )
                held = await self.store.fail(job, text or "", retry_at=self.clock() + delay)
                log.warning(
                    "job failed; will retry",
                    extra={"attempt": job.attempts, "retry_in_seconds": round(delay, 3), "error": text},
                )
            elif outcome == "dead":
                held = await self.store.dead(job, text or "")
                log.error(
                    "job dead-lettered; retry with `trustacks jobs retry %s` once the cause is fixed",
                    job.id,
                    extra={"attempt": job.attempts, "error": text},
                )
            elif outcome == "released":
                held = await self.store.release(job)
                log.info("job released for another worker")
            else:  # lease_lost: another worker owns the job now; write nothing
                held = False
                log.warning("job cancelled: its lease was taken over by another worker")
        except StoreError as exc:
            self.metrics.store_errors.labels(outcome).inc()
            log.error("could not record job outcome %s (the lease will expire and the job re-run): %s", outcome, exc)
            return
        self.metrics.jobs.labels(job.event, outcome if held or outcome == "lease_lost" else "lease_lost").inc()

    async def _renew_loop(self) -> None:
        """One task for the pool: every third of the lease, renew the lease of each running job.

        A job whose lease cannot be renewed (taken over after this process stalled, or the store
        unreachable until the lease ran out) has its handler cancelled: it runs elsewhere now.
        """
        interval = max(0.05, self.store.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            records = [r for r in self._running.values() if r.handler is not None and not r.handler.done()]
            if records:
                await asyncio.gather(*(self._renew(r) for r in records))

    async def _renew(self, record: _Running) -> None:
        try:
            if await self.store.renew(record.job):
                record.held_until = self.clock() + self.store.lease_seconds
                return
        except StoreError as exc:
            self.metrics.store_errors.labels("renew").inc()
            with log_context(delivery_id=record.job.delivery_id, job_id=record.job.id):
                log.warning("lease renewal failed: %s", exc)
            if self.clock() < record.held_until:
                return
        record.cancel_reason = "lease_lost"
        if record.handler is not None:
            record.handler.cancel()
