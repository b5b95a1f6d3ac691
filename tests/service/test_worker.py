"""The worker pool: outcomes, retries with backoff, dead-letter, lease renewal and loss, graceful stop."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import time
from typing import Awaitable, Callable

import pytest

from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.store import Delivery, StoreError, open_store
from bot.worker import PermanentError, WorkerPool, backoff_delay, describe_error

from .conftest import BOTH, CANARY


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def delivery(n: int) -> Delivery:
    return Delivery("github", f"del-{n}", "push", json.dumps({"n": n}).encode(), {})


@pytest.fixture
async def real_store(db_url):
    s = open_store(db_url, lease_seconds=5, max_attempts=3)
    await s.open()
    yield s
    await s.close()


def pool_for(store, dispatcher, **kw) -> WorkerPool:
    kw.setdefault("poll_seconds", 0.05)
    kw.setdefault("backoff_base_seconds", 0.01)
    kw.setdefault("backoff_max_seconds", 0.02)
    return WorkerPool(store, dispatcher, **kw)


async def state_of(store, job_id: int = 1) -> str:
    job = await store.get_job(job_id)
    return job.state if job else "missing"


# --------------------------------------------------------------------------- backoff


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (4, 40), (10, 600), (50, 600)]:
        samples = [backoff_delay(attempt, base=5, cap=600, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert max(samples) - min(samples) > ceiling / 4  # jittered, not a constant
    assert backoff_delay(3, base=5, cap=600, rng=random.Random(1)) == backoff_delay(3, base=5, cap=600, rng=random.Random(1))


def test_describe_error_redacts_and_keeps_the_innermost_frame():
    try:
        raise RuntimeError(f"token {CANARY} rejected")
    except RuntimeError as exc:
        text = describe_error(exc, redact=lambda s: s.replace(CANARY, "***"))
    assert text.startswith("RuntimeError: token *** rejected") and CANARY not in text
    assert "test_describe_error_redacts" in text


# --------------------------------------------------------------------------- outcomes


@BOTH
async def test_job_runs_once_and_is_done(real_store):
    seen: list[dict] = []

    async def dispatch(job):
        seen.append(job.payload)

    metrics = Metrics()
    pool = pool_for(real_store, dispatch, metrics=metrics)
    await real_store.enqueue(delivery(1))
    await pool.start()
    await until(lambda: _eq(state_of(real_store), "done"))
    await asyncio.sleep(0.2)
    await pool.stop(grace=1)
    assert seen == [{"n": 1}]
    assert metrics.registry.get_sample_value("trustacks_jobs_total", {"event": "push", "outcome": "done"}) == 1
    assert metrics.registry.get_sample_value("trustacks_job_latency_seconds_count", {"event": "push"}) == 1


async def _eq(coro: Awaitable[str], value: str) -> bool:
    return await coro == value


@BOTH
async def test_failed_attempt_is_retried_after_backoff_then_done(real_store):
    calls: list[int] = []

    async def dispatch(job):
        calls.append(job.attempts)
        if job.attempts == 1:
            raise ConnectionError("forge answered 502")

    pool = pool_for(real_store, dispatch)
    await real_store.enqueue(delivery(1))
    await pool.start()
    await until(lambda: _eq(state_of(real_store), "done"))
    await pool.stop(grace=1)
    assert calls == [1, 2]
    job = await real_store.get_job(1)
    assert job.attempts == 2 and "ConnectionError: forge answered 502" in job.last_error


@BOTH
async def test_dead_letter_after_max_attempts_with_redacted_error(real_store):
    calls: list[int] = []

    async def dispatch(job):
        calls.append(job.attempts)
        raise RuntimeError(f"403 for token {CANARY}")

    metrics = Metrics()
    pool = pool_for(real_store, dispatch, metrics=metrics, redact=lambda s: s.replace(CANARY, "***"))
    await real_store.enqueue(delivery(1))
    await pool.start()
    await until(lambda: _eq(state_of(real_store), "dead"))
    await asyncio.sleep(0.2)  # and it stays dead: no fourth attempt
    await pool.stop(grace=1)
    assert calls == [1, 2, 3]
    job = await real_store.get_job(1)
    assert job.attempts == 3 and "403 for token ***" in job.last_error and CANARY not in job.last_error
    sample = metrics.registry.get_sample_value
    assert sample("trustacks_jobs_total", {"event": "push", "outcome": "retry"}) == 2
    assert sample("trustacks_jobs_total", {"event": "push", "outcome": "dead"}) == 1
    # the operator fixes the cause and retries: it runs again from attempt 1
    assert await real_store.retry(1)
    calls.clear()
    pool2 = pool_for(real_store, lambda job: asyncio.sleep(0))
    await pool2.start()
    await until(lambda: _eq(state_of(real_store), "done"))
    await pool2.stop(grace=1)


async def test_permanent_error_dead_letters_at_once(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}", max_attempts=5)
    calls = []

    async def dispatch(job):
        calls.append(job.id)
        raise PermanentError("unsupported payload shape")

    pool = pool_for(store, dispatch)
    await store.enqueue(delivery(1))
    await pool.start()
    await until(lambda: _eq(state_of(store), "dead"))
    await pool.stop(grace=1)
    assert calls == [1]
    assert "PermanentError: unsupported payload shape" in (await store.get_job(1)).last_error
    await store.close()


# --------------------------------------------------------------------------- leases


async def test_lease_is_renewed_while_a_long_job_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    store = open_store(url, lease_seconds=1.0)
    rival_store = open_store(url, lease_seconds=1.0)
    runs = []

    async def slow(job):
        runs.append(job.id)
        await asyncio.sleep(2.2)  # more than two lease periods

    pool = pool_for(store, slow)
    await store.enqueue(delivery(1))
    await pool.start()
    await until(lambda: _eq(state_of(store), "leased"))
    stolen = []
    while await state_of(store) == "leased":
        stolen += await rival_store.lease("rival", 1)
        await asyncio.sleep(0.05)
    await pool.stop(grace=1)
    assert stolen == [] and runs == [1]
    assert await state_of(store) == "done"
    await store.close()
    await rival_store.close()


async def test_lost_lease_cancels_the_handler_and_writes_nothing(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}", lease_seconds=0.3)
    cancelled = asyncio.Event()

    async def slow(job):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def renew_lost(job):
        return False  # as if another worker had taken the job over

    store.renew = renew_lost  # type: ignore[method-assign]
    metrics = Metrics()
    pool = pool_for(store, slow, metrics=metrics)
    await store.enqueue(delivery(1))
    await pool.start()
    await asyncio.wait_for(cancelled.wait(), 5)
    await until(lambda: _const(pool.running == 0))
    await pool.stop(grace=1)
    assert await state_of(store) == "leased"  # left for its new owner / lease expiry
    assert metrics.registry.get_sample_value("trustacks_jobs_total", {"event": "push", "outcome": "lease_lost"}) == 1
    await store.close()


async def test_store_outage_keeps_the_job_until_its_lease_would_have_run_out(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}", lease_seconds=0.6)
    cancelled_at: list[float] = []

    async def slow(job):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled_at.append(time.monotonic())
            raise

    async def renew_down(job):
        raise StoreError("connection refused")

    store.renew = renew_down  # type: ignore[method-assign]
    metrics = Metrics()
    pool = pool_for(store, slow, metrics=metrics)
    await store.enqueue(delivery(1))
    t0 = time.monotonic()
    await pool.start()
    await until(lambda: _const(bool(cancelled_at)))
    await pool.stop(grace=1)
    # renewals failed from the first tick (0.2 s), but the handler ran on while the lease was still ours
    assert cancelled_at[0] - t0 >= 0.55
    assert metrics.registry.get_sample_value("trustacks_store_errors_total", {"operation": "renew"}) >= 2
    await store.close()


async def _const(value: bool) -> bool:
    return value


async def test_concurrency_is_bounded(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    active = 0
    peak = 0

    async def dispatch(job):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1

    for i in range(8):
        await store.enqueue(delivery(i))
    pool = pool_for(store, dispatch, concurrency=2)
    await pool.start()
    await until(lambda: _eq_int(store, "done", 8))
    await pool.stop(grace=1)
    assert peak == 2
    await store.close()


async def _eq_int(store, state: str, n: int) -> bool:
    return (await store.counts())[state] == n


async def test_notify_wakes_the_pool_without_waiting_for_the_poll(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    pool = pool_for(store, lambda job: asyncio.sleep(0), poll_seconds=30)
    await pool.start()
    await asyncio.sleep(0.1)  # the pool is now idle, waiting up to 30 s
    await store.enqueue(delivery(1))
    pool.notify()
    await until(lambda: _eq(state_of(store), "done"), timeout=3)
    await pool.stop(grace=1)
    await store.close()


async def test_store_errors_while_leasing_do_not_kill_the_pool(tmp_path, monkeypatch):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    real_lease = store.lease
    failures = [StoreError("database is locked")]

    async def flaky(worker_id, n):
        if failures:
            raise failures.pop()
        return await real_lease(worker_id, n)

    monkeypatch.setattr(store, "lease", flaky)
    monkeypatch.setattr("bot.worker._STORE_ERROR_PAUSE", 0.05)
    await store.enqueue(delivery(1))
    metrics = Metrics()
    pool = pool_for(store, lambda job: asyncio.sleep(0), metrics=metrics)
    await pool.start()
    await until(lambda: _eq(state_of(store), "done"))
    await pool.stop(grace=1)
    assert metrics.registry.get_sample_value("trustacks_store_errors_total", {"operation": "lease"}) == 1
    await store.close()


# --------------------------------------------------------------------------- graceful shutdown


@BOTH
async def test_stop_lets_short_jobs_finish_and_releases_long_ones(real_store):
    started: list[int] = []
    interrupted: list[int] = []

    async def dispatch(job):
        started.append(job.id)
        try:
            await asyncio.sleep(0.1 if job.payload["n"] == 1 else 30)
        except asyncio.CancelledError:
            interrupted.append(job.id)
            raise

    await real_store.enqueue(delivery(1))
    await real_store.enqueue(delivery(2))
    pool = pool_for(real_store, dispatch, concurrency=2)
    await pool.start()
    await until(lambda: _const(len(started) == 2))
    t0 = time.monotonic()
    await pool.stop(grace=0.5)
    assert time.monotonic() - t0 < 3
    assert await state_of(real_store, 1) == "done"
    released = await real_store.get_job(2)
    assert (released.state, released.attempts, released.lease_owner) == ("queued", 0, None)
    assert interrupted == [2]
    # nothing is leased after stop, even with more work queued
    await real_store.enqueue(delivery(3))
    await asyncio.sleep(0.2)
    assert (await real_store.counts())["leased"] == 0


async def test_stop_when_idle_is_prompt(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    pool = pool_for(store, lambda job: asyncio.sleep(0), poll_seconds=60)
    await pool.start()
    await asyncio.sleep(0.05)
    t0 = time.monotonic()
    await pool.stop(grace=30)
    assert time.monotonic() - t0 < 5  # not the 60 s poll, not the 30 s grace
    await store.close()


async def test_a_wake_up_during_a_lease_call_is_not_lost(tmp_path, monkeypatch):
    """Regression: a notify() or stop() that lands while lease() is in flight must not be cleared."""
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    real_lease = store.lease
    in_lease = asyncio.Event()
    release = asyncio.Event()

    async def slow_lease(worker_id, n):
        in_lease.set()
        await release.wait()
        return await real_lease(worker_id, n)

    monkeypatch.setattr(store, "lease", slow_lease)
    pool = pool_for(store, lambda job: asyncio.sleep(0), poll_seconds=60)
    await pool.start()
    await asyncio.wait_for(in_lease.wait(), 5)
    stopping = asyncio.create_task(pool.stop(grace=30))
    await asyncio.sleep(0.05)
    release.set()
    t0 = time.monotonic()
    await asyncio.wait_for(stopping, 5)  # not the 60 s poll
    assert time.monotonic() - t0 < 5
    await store.close()


# --------------------------------------------------------------------------- logs


async def test_every_job_log_line_carries_delivery_and_job_ids(tmp_path):
    stream = io.StringIO()
    handler = configure_logging("DEBUG", secrets=[CANARY], stream=stream)
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}", max_attempts=2)
    try:
        async def dispatch(job):
            logging.getLogger("bot.handlers.test").info("handling with %s", CANARY)
            if job.payload["n"] == 2:
                raise RuntimeError(f"bad credentials {CANARY}")

        await store.enqueue(delivery(1))
        await store.enqueue(delivery(2))
        pool = pool_for(store, dispatch)
        await pool.start()
        await until(lambda: _eq(state_of(store, 2), "dead"))
        await until(lambda: _eq(state_of(store, 1), "done"))
        await pool.stop(grace=1)
    finally:
        logging.getLogger().removeHandler(handler)
        await store.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    job_lines = [l for l in lines if l["logger"] != "trustacks.worker" or l["msg"].startswith("job")]
    assert len(job_lines) >= 8
    assert all(l["job_id"] in (1, 2) and l["delivery_id"] == f"del-{l['job_id']}" for l in job_lines)
    assert {l["msg"] for l in job_lines if l["logger"] == "trustacks.worker"} >= {
        "job started", "job done", "job failed; will retry"}
    assert any(l["msg"].startswith("job dead-lettered") for l in job_lines)
    assert CANARY not in stream.getvalue()
