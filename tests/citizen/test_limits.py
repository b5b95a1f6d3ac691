"""Noise limits: the sliding hour, open PRs per repo, the held-back queue, several workers at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import given, settings, strategies as st

from bot import limits
from bot.limits import LimiterBusy, MemoryKV, NoiseLimiter
from bot.orgconfig import OrgConfig

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Cfg:
    max_new_prs_per_hour: int = 5
    max_open_prs_per_repo: int = 3


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock) -> NoiseLimiter:
    return NoiseLimiter(MemoryKV(clock=clock), clock=clock, scope="acme")


async def _open(limiter: NoiseLimiter, repo: str, cfg, open_prs: int = 0, key: str | None = None):
    adm = await limiter.may_open(repo, open_bot_prs=open_prs, cfg=cfg, proposal_key=key)
    if adm.allowed:
        await limiter.record_opened(repo, ticket=adm.ticket, proposal_key=key)
    return adm


async def test_hourly_limit_holds_back_and_releases_when_the_window_slides(limiter, clock):
    cfg = Cfg(max_new_prs_per_hour=2)
    assert (await _open(limiter, "acme/a", cfg)).allowed
    clock.now += 600
    assert (await _open(limiter, "acme/b", cfg)).allowed
    clock.now += 60
    adm = await limiter.may_open("acme/c", open_bot_prs=0, cfg=cfg, proposal_key="generate:acme/c")
    assert not adm.allowed and adm.ticket is None
    assert "max_new_prs_per_hour is 2" in adm.reason
    assert adm.retry_at == T0 + 3600
    await limiter.hold("generate:acme/c", "acme/c", "Generate CI for acme/c", reason=adm.reason)
    assert [h.key for h in await limiter.held()] == ["generate:acme/c"]
    assert await limiter.next_release_at(cfg) == T0 + 3600

    clock.now = T0 + 3599
    assert await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg) == []
    assert [h.key for h in await limiter.held()] == ["generate:acme/c"], "still listed, not lost"

    clock.now = T0 + 3600
    released = await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg)
    assert [r.held.key for r in released] == ["generate:acme/c"] and released[0].admission.allowed
    await limiter.record_opened("acme/c", ticket=released[0].admission.ticket, proposal_key="generate:acme/c")
    assert await limiter.held() == []
    assert await limiter.opened_in_window() == 2  # acme/b and acme/c; acme/a slid out
    assert not (await limiter.may_open("acme/d", open_bot_prs=0, cfg=cfg)).allowed


async def test_concurrent_limit_per_repo_holds_back_until_a_pr_closes(limiter):
    cfg = Cfg(max_open_prs_per_repo=3)
    adm = await limiter.may_open("acme/a", open_bot_prs=3, cfg=cfg, proposal_key="k")
    assert not adm.allowed and adm.retry_at is None
    assert "3 open bot PR(s)" in adm.reason and "max_open_prs_per_repo is 3" in adm.reason
    assert (await limiter.may_open("acme/b", open_bot_prs=0, cfg=cfg)).allowed, "other repos are not blocked"
    await limiter.hold("k", "acme/a", "Generate", reason=adm.reason)
    assert await limiter.release_ready(open_bot_prs={"acme/a": 3}, cfg_for=lambda r: cfg) == []
    released = await limiter.release_ready(open_bot_prs={"acme/a": 2}, cfg_for=lambda r: cfg)
    assert [r.held.repo for r in released] == ["acme/a"]


async def test_unconfirmed_admissions_count_as_open_prs(limiter, clock):
    cfg = Cfg(max_open_prs_per_repo=3)
    first = await limiter.may_open("acme/a", open_bot_prs=2, cfg=cfg)
    assert first.allowed
    second = await limiter.may_open("acme/a", open_bot_prs=2, cfg=cfg)
    assert not second.allowed, "the first PR is not on the forge yet but is about to be"
    await limiter.record_opened("acme/a", ticket=first.ticket)
    assert not (await limiter.may_open("acme/a", open_bot_prs=3, cfg=cfg)).allowed
    assert (await limiter.may_open("acme/a", open_bot_prs=2, cfg=cfg)).allowed, "confirmed: the forge counts it"


async def test_cancel_gives_the_slot_back(limiter):
    cfg = Cfg(max_new_prs_per_hour=1)
    adm = await limiter.may_open("acme/a", open_bot_prs=0, cfg=cfg)
    assert not (await limiter.may_open("acme/b", open_bot_prs=0, cfg=cfg)).allowed
    assert await limiter.cancel(adm.ticket)
    assert (await limiter.may_open("acme/b", open_bot_prs=0, cfg=cfg)).allowed


async def test_openings_outside_may_open_still_count(limiter):
    cfg = Cfg(max_new_prs_per_hour=1)
    await limiter.record_opened("acme/a")
    assert not (await limiter.may_open("acme/b", open_bot_prs=0, cfg=cfg)).allowed


async def test_zero_pauses_new_prs(limiter):
    adm = await limiter.may_open("acme/a", open_bot_prs=0, cfg=Cfg(max_new_prs_per_hour=0))
    assert not adm.allowed and "paused" in adm.reason
    await limiter.hold("k", "acme/a", "t", reason=adm.reason)
    assert await limiter.next_release_at(Cfg(max_new_prs_per_hour=0)) is None


async def test_a_repo_override_lowers_its_share_of_the_org_budget(limiter):
    cfg = OrgConfig.loads("overridable: [limits]\nrepos:\n  acme/quiet:\n    limits: {max_new_prs_per_hour: 1}\n")
    assert (await _open(limiter, "acme/a", cfg.for_repo("acme/a"))).allowed
    assert not (await limiter.may_open("acme/quiet", open_bot_prs=0, cfg=cfg.for_repo("acme/quiet"))).allowed
    assert (await limiter.may_open("acme/b", open_bot_prs=0, cfg=cfg.for_repo("acme/b"))).allowed


async def test_release_is_first_held_first_served_and_not_handed_out_twice(limiter, clock):
    cfg = Cfg(max_new_prs_per_hour=2)
    for key in ("k1", "k2", "k3"):
        await limiter.hold(key, f"acme/{key}", f"title {key}", reason="limit")
        clock.now += 1
    await limiter.hold("k1", "acme/k1", "new title", reason="again")  # keeps its place
    assert [(h.key, h.title) for h in await limiter.held()][0] == ("k1", "new title")
    first = await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg)
    assert [r.held.key for r in first] == ["k1", "k2"]
    assert await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg) == [], "in flight, budget used"
    held = {h.key: h for h in await limiter.held()}
    assert set(held) == {"k1", "k2", "k3"}, "released entries stay listed until the PR is opened"
    assert "max_new_prs_per_hour" in held["k3"].reason, "the remaining one says why it still waits"
    # k1's worker crashed before opening its PR: after the pending time it is handed out again
    await limiter.record_opened("acme/k2", ticket=first[1].admission.ticket, proposal_key="k2")
    clock.now += 3600 + 1
    again = await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg)
    assert [r.held.key for r in again] == ["k1", "k3"]


async def test_cancelled_release_can_be_released_again(limiter):
    cfg = Cfg(max_new_prs_per_hour=5)
    await limiter.hold("k", "acme/a", "t")
    (rel,) = await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg)
    await limiter.cancel(rel.admission.ticket)
    assert [r.held.key for r in await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg)] == ["k"]


async def test_unhold_and_per_repo_listing(limiter):
    await limiter.hold("k1", "acme/a", "t1")
    await limiter.hold("k2", "acme/b", "t2")
    assert [h.key for h in await limiter.held("acme/b")] == ["k2"]
    assert await limiter.unhold("k1") and not await limiter.unhold("k1")
    assert [h.as_dict()["key"] for h in await limiter.held()] == ["k2"]


async def test_state_survives_a_new_limiter_on_the_same_store(clock):
    kv = MemoryKV(clock=clock)
    a = NoiseLimiter(kv, clock=clock, scope="acme")
    await a.hold("k", "acme/a", "t", reason="limit")
    await _open(a, "acme/a", Cfg(max_new_prs_per_hour=1))
    b = NoiseLimiter(kv, clock=clock, scope="acme")
    assert [h.key for h in await b.held()] == ["k"]
    assert not (await b.may_open("acme/x", open_bot_prs=0, cfg=Cfg(max_new_prs_per_hour=1))).allowed
    other = NoiseLimiter(kv, clock=clock, scope="globex")
    assert await other.held() == [] and await other.opened_in_window() == 0, "scopes are separate"


async def test_unreadable_state_starts_empty(clock):
    kv = MemoryKV(clock=clock)
    await kv.set_kv("trustacks:limits:acme", "{not json")
    lim = NoiseLimiter(kv, clock=clock, scope="acme")
    assert (await lim.may_open("acme/a", open_bot_prs=0, cfg=Cfg())).allowed


async def test_many_workers_share_one_budget(clock):
    kv = MemoryKV(clock=clock)
    workers = [NoiseLimiter(kv, clock=clock, scope="acme") for _ in range(3)]  # e.g. three replicas
    cfg = Cfg(max_new_prs_per_hour=5, max_open_prs_per_repo=100)
    results = await asyncio.gather(*(w.may_open(f"acme/r{i}", open_bot_prs=0, cfg=cfg)
                                     for i in range(8) for w in workers))
    assert sum(a.allowed for a in results) == 5


async def test_on_the_real_sqlite_store(tmp_path):
    from bot.store import open_store

    url = f"sqlite:///{tmp_path / 'q.db'}"
    s1, s2 = open_store(url), open_store(url)
    await s1.open()  # create the schema before the second connection opens (no race on a new file)
    await s2.open()
    try:
        a = NoiseLimiter(s1, scope="acme")
        b = NoiseLimiter(s2, scope="acme")
        cfg = Cfg(max_new_prs_per_hour=3, max_open_prs_per_repo=100)
        results = await asyncio.gather(*(lim.may_open(f"acme/r{i}", open_bot_prs=0, cfg=cfg)
                                         for i in range(4) for lim in (a, b)))
        assert sum(r.allowed for r in results) == 3
        await a.hold("k", "acme/r9", "t", reason="limit")
        assert [h.key for h in await b.held()] == ["k"]
        assert await s1.get_kv("trustacks:limits:acme:lock") is None, "the lock is released"
    finally:
        await s1.close()
        await s2.close()


class GetSetOnly:
    """A store without add_kv/delete_kv: the limiter then locks within one process only."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def get_kv(self, key):
        return self.data.get(key)

    async def set_kv(self, key, value, *, ttl_seconds=None):
        self.data[key] = value


async def test_a_get_set_only_store_works(clock):
    lim = NoiseLimiter(GetSetOnly(), clock=clock)
    results = await asyncio.gather(*(lim.may_open(f"r/{i}", open_bot_prs=0, cfg=Cfg(max_new_prs_per_hour=2))
                                     for i in range(5)))
    assert sum(r.allowed for r in results) == 2


async def test_a_stuck_lock_makes_the_job_retry_then_expires(clock, monkeypatch):
    monkeypatch.setattr(limits, "LOCK_ATTEMPTS", 3)
    kv = MemoryKV(clock=clock)
    await kv.add_kv("trustacks:limits:acme:lock", "someone-else", ttl_seconds=limits.LOCK_TTL_SECONDS)
    lim = NoiseLimiter(kv, clock=clock, scope="acme")
    with pytest.raises(LimiterBusy):
        await lim.may_open("acme/a", open_bot_prs=0, cfg=Cfg())
    clock.now += limits.LOCK_TTL_SECONDS + 1  # the other worker died: its lock expires
    assert (await lim.may_open("acme/a", open_bot_prs=0, cfg=Cfg())).allowed


# ---------------------------------------------------------------- property: no hour ever exceeds the limit

@settings(max_examples=60, deadline=None)
@given(limit=st.integers(0, 6),
       steps=st.lists(st.tuples(st.floats(0, 1500, allow_nan=False), st.sampled_from("abc"), st.booleans()),
                      max_size=40))
def test_no_sliding_hour_ever_has_more_openings_than_the_limit(limit, steps):
    async def run() -> list[float]:
        clock = Clock()
        lim = NoiseLimiter(MemoryKV(clock=clock), clock=clock)
        cfg = Cfg(max_new_prs_per_hour=limit, max_open_prs_per_repo=100)
        opened: list[float] = []
        for dt, repo, via_release in steps:
            clock.now += dt
            if via_release:
                await lim.hold(f"k-{repo}", f"acme/{repo}", "t")
                for rel in await lim.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg):
                    await lim.record_opened(rel.held.repo, ticket=rel.admission.ticket, proposal_key=rel.held.key)
                    opened.append(clock.now)
            else:
                adm = await lim.may_open(f"acme/{repo}", open_bot_prs=0, cfg=cfg)
                if adm.allowed:
                    await lim.record_opened(f"acme/{repo}", ticket=adm.ticket)
                    opened.append(clock.now)
                else:
                    assert adm.retry_at is None or adm.retry_at > clock.now
        # liveness: two hours later the window has room again and held proposals are released
        waiting = len(await lim.held())
        clock.now += 2 * limits.WINDOW_SECONDS
        released = await lim.release_ready(open_bot_prs={}, cfg_for=lambda r: cfg)
        assert len(released) == min(waiting, limit)
        for rel in released:
            await lim.record_opened(rel.held.repo, ticket=rel.admission.ticket, proposal_key=rel.held.key)
            opened.append(clock.now)
        return opened

    opened = asyncio.run(run())
    for t in opened:
        assert sum(1 for u in opened if t <= u < t + limits.WINDOW_SECONDS) <= limit


async def test_confirming_a_release_by_ticket_alone_removes_it_from_the_held_list(limiter):
    await limiter.hold("k", "acme/a", "t")
    (rel,) = await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: Cfg())
    await limiter.record_opened("acme/a", ticket=rel.admission.ticket)
    assert await limiter.held() == []


async def test_a_held_proposal_retried_through_may_open_is_not_released_twice(limiter):
    await limiter.hold("k", "acme/a", "t")
    adm = await limiter.may_open("acme/a", open_bot_prs=0, cfg=Cfg(), proposal_key="k")
    assert adm.allowed
    assert await limiter.release_ready(open_bot_prs={}, cfg_for=lambda r: Cfg()) == []
    await limiter.record_opened("acme/a", ticket=adm.ticket, proposal_key="k")
    assert await limiter.held() == [] and await limiter.opened_in_window() == 1
