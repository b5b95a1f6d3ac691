"""The queue contract, run against SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import JOB_STATES, Delivery, StoreError, open_store

from .conftest import BOTH, Clock

pytestmark = BOTH


def delivery(n: int | str, *, forge: str = "github", event: str = "push", body: bytes | None = None) -> Delivery:
    payload = body if body is not None else b'{"n": "%s"}' % str(n).encode()
    return Delivery(forge, f"d-{n}", event, payload, {"user-agent": "t"})


async def test_enqueue_dedupes_on_forge_and_delivery_id(store):
    assert await store.enqueue(delivery(1)) is True
    assert await store.enqueue(delivery(1)) is False  # redelivery
    assert await store.enqueue(delivery(1, forge="gitlab")) is True  # same id, other forge
    assert (await store.counts())["queued"] == 2


async def test_concurrent_enqueues_commit_together_and_dedupe_within_a_batch(store):
    results = await asyncio.gather(*(store.enqueue(delivery(i % 40)) for i in range(200)))
    assert sum(results) == 40
    assert (await store.counts())["queued"] == 40
    assert await store.queue_depth() == 40


async def test_lease_returns_oldest_first_with_body_headers_and_an_attempt(store):
    for i in range(3):
        await store.enqueue(Delivery("github", f"d-{i}", "pull_request", b'{"i": %d}' % i, {"x-github-hook-id": "9"}))
    jobs = await store.lease("w1", 2)
    assert [j.delivery_id for j in jobs] == ["d-0", "d-1"]
    assert jobs[0].payload == {"i": 0}
    assert jobs[0].headers == {"x-github-hook-id": "9"}
    assert all(j.state == "leased" and j.attempts == 1 and j.lease_owner == "w1" for j in jobs)
    rest = await store.lease("w2", 5)
    assert [j.delivery_id for j in rest] == ["d-2"]
    assert await store.lease("w3", 5) == []


async def test_complete_is_fenced_by_the_lease_token(store, clock: Clock):
    await store.enqueue(delivery(1))
    [first] = await store.lease("w1", 1)
    clock.advance(store.lease_seconds + 1)  # w1 stalls; its lease expires
    [second] = await store.lease("w2", 1)
    assert second.id == first.id and second.attempts == 2
    assert await store.complete(first) is False  # the stale worker cannot finish it
    assert await store.renew(first) is False
    assert await store.complete(second) is True
    assert await store.complete(second) is False  # only once
    assert (await store.get_job(first.id)).state == "done"
    clock.advance(store.lease_seconds * 10)
    assert await store.lease("w3", 1) == []  # a done job is never leased again


async def test_renew_keeps_the_lease_alive(store, clock: Clock):
    await store.enqueue(delivery(1))
    [job] = await store.lease("w1", 1)
    for _ in range(5):
        clock.advance(store.lease_seconds * 0.6)
        assert await store.renew(job) is True
        assert await store.lease("w2", 1) == []
    clock.advance(store.lease_seconds + 1)
    assert [j.id for j in await store.lease("w2", 1)] == [job.id]


async def test_fail_schedules_a_retry_at_the_given_time(store, clock: Clock):
    await store.enqueue(delivery(1))
    [job] = await store.lease("w1", 1)
    assert await store.fail(job, "HTTPError: 502", retry_at=clock.now + 60) is True
    failed = await store.get_job(job.id)
    assert (failed.state, failed.last_error, failed.lease_token) == ("failed", "HTTPError: 502", None)
    clock.advance(59)
    assert await store.lease("w1", 1) == []
    clock.advance(2)
    [again] = await store.lease("w1", 1)
    assert again.id == job.id and again.attempts == 2


async def test_dead_and_operator_retry(store, clock: Clock):
    await store.enqueue(delivery(1))
    [job] = await store.lease("w1", 1)
    assert await store.dead(job, "PermanentError: bad payload") is True
    assert [j.id for j in await store.list_jobs("dead")] == [job.id]
    clock.advance(10_000)
    assert await store.lease("w1", 1) == []
    assert await store.retry(job.id) is True
    assert await store.retry(job.id) is False  # queued now, not failed/dead
    [again] = await store.lease("w1", 1)
    assert again.attempts == 1  # attempts reset by the operator
    assert await store.retry(12345) is False


async def test_a_worker_dying_on_every_attempt_ends_in_dead_letter(store, clock: Clock):
    await store.enqueue(delivery(1))
    for attempt in range(1, store.max_attempts + 1):
        [job] = await store.lease(f"w{attempt}", 1)
        assert job.attempts == attempt
        clock.advance(store.lease_seconds + 1)  # the worker was killed; nobody renews
    assert await store.lease("w-last", 1) == []
    [dead] = await store.list_jobs("dead")
    assert "lease expired" in dead.last_error and dead.attempts == store.max_attempts


async def test_release_returns_the_job_without_counting_the_attempt(store):
    await store.enqueue(delivery(1))
    [job] = await store.lease("w1", 1)
    assert await store.release(job) is True
    assert await store.release(job) is False
    [again] = await store.lease("w2", 1)
    assert again.attempts == 1


async def test_list_jobs_filters_by_state_newest_first_without_bodies(store):
    for i in range(4):
        await store.enqueue(delivery(i))
    [job] = await store.lease("w1", 1)
    await store.complete(job)
    queued = await store.list_jobs("queued")
    assert [j.delivery_id for j in queued] == ["d-3", "d-2", "d-1"]
    assert all(j.body is None for j in queued)
    with pytest.raises(ValueError):
        queued[0].payload
    assert len(await store.list_jobs()) == 4
    assert len(await store.list_jobs(limit=2)) == 2
    with pytest.raises(ValueError):
        await store.list_jobs("bogus")
    assert (await store.get_job(job.id)).payload is not None
    counts = await store.counts()
    assert set(counts) == set(JOB_STATES) and counts["done"] == 1 and counts["queued"] == 3


async def test_concurrent_leases_never_hand_out_a_job_twice(db_url, clock: Clock):
    stores = [open_store(db_url, lease_seconds=30, clock=clock) for _ in range(3)]
    try:
        for s in stores:
            await s.open()
        await asyncio.gather(*(stores[0].enqueue(delivery(i)) for i in range(60)))

        async def drain(s, name):
            got = []
            while batch := await s.lease(name, 4):
                got.extend(j.id for j in batch)
            return got

        results = await asyncio.gather(*(drain(s, f"w{i}") for i, s in enumerate(stores)))
        ids = [i for r in results for i in r]
        assert len(ids) == 60 and len(set(ids)) == 60
    finally:
        for s in stores:
            await s.close()


async def test_kv_get_set_add_delete_and_expiry(store, clock: Clock):
    assert await store.get_kv("branch:acme/api:trustacks/x") is None
    await store.set_kv("branch:acme/api:trustacks/x", "edited")
    assert await store.get_kv("branch:acme/api:trustacks/x") == "edited"
    await store.set_kv("branch:acme/api:trustacks/x", "clean")
    assert await store.get_kv("branch:acme/api:trustacks/x") == "clean"
    assert await store.add_kv("lock:a", "w1", ttl_seconds=10) is True
    assert await store.add_kv("lock:a", "w2", ttl_seconds=10) is False
    clock.advance(11)
    assert await store.get_kv("lock:a") is None
    assert await store.add_kv("lock:a", "w2", ttl_seconds=10) is True  # expired claims can be re-taken
    assert await store.get_kv("lock:a") == "w2"
    assert await store.delete_kv("lock:a") is True
    assert await store.delete_kv("lock:a") is False


async def test_prune_deletes_old_done_jobs_only(store, clock: Clock):
    for i in range(3):
        await store.enqueue(delivery(i))
    done, failing, _ = await store.lease("w1", 3)
    await store.complete(done)
    await store.fail(failing, "x", retry_at=clock.now + 1e6)
    clock.advance(100)
    assert await store.prune(older_than_seconds=200) == 0
    assert await store.prune(older_than_seconds=50) == 1
    assert await store.get_job(done.id) is None
    assert await store.get_job(failing.id) is not None
    # after pruning, the delivery id no longer dedupes (retention bounds the table)
    assert await store.enqueue(delivery(0)) is True


async def test_ping_and_closed_store(store):
    assert await store.ping() is True
    await store.close()
    assert await store.ping() is False
    with pytest.raises(StoreError):
        await store.enqueue(delivery(1))


async def test_errors_are_truncated_and_bodies_round_trip_as_bytes(store):
    raw = '{"emoji": "\u2603", "nul": "\\u0000"}'.encode()
    await store.enqueue(delivery(1, body=raw))
    [job] = await store.lease("w1", 1)
    assert job.body == raw
    await store.fail(job, "E" * 10_000, retry_at=0)
    assert len((await store.get_job(job.id)).last_error) == 4000

