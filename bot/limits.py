"""Noise limits: how many new bot PRs an organisation gets per hour and how many stay open per repo,
and the held-back queue, so a proposal a limit stops is listed and opened later, never lost.

State lives in the service's key/value table (`Store.get_kv/set_kv`, bot/store/core.py): one JSON
document per scope (an organisation, i.e. one org config), holding the PR openings of the sliding
hour and the held-back proposals. Every change is a read-modify-write under a short lock taken with
the store's atomic `add_kv` (when the store has it), so several workers and replicas share one budget.

How a caller uses it (the handlers own the forge calls):

    adm = await limiter.may_open(repo, open_bot_prs=n, cfg=effective, proposal_key=key)
    if adm.allowed:
        open the PR; then `await limiter.record_opened(repo, ticket=adm.ticket, proposal_key=key)`
        (or `await limiter.cancel(adm.ticket)` when opening failed)
    else:
        `await limiter.hold(key, repo, title, reason=adm.reason)`; list `await limiter.held()`
    later (a timer at `adm.retry_at`, or any event): `await limiter.release_ready(...)`

An allowed admission already reserves its slot in the hour, so two workers cannot both take the
last one. `max_new_prs_per_hour` counts openings across the whole scope (the organisation); a repo
whose override sets a lower number gets a new PR only while fewer than that many were opened in the
scope in the past hour. `max_open_prs_per_repo` is compared with the open bot PRs the caller counted
on the forge (the source of truth) plus admissions not yet confirmed for that repo.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Mapping, Protocol

log = logging.getLogger(__name__)

WINDOW_SECONDS = 3600.0
#: an admission not confirmed by record_opened counts as an open PR of its repo this long
PENDING_SECONDS = 600.0
LOCK_TTL_SECONDS = 30.0
LOCK_ATTEMPTS = 60
STATE_VERSION = 1


class KeyValue(Protocol):
    """The part of bot.store.core.Store the limiter needs. `add_kv` (insert unless a live value exists,
    True when inserted) and `delete_kv` are optional: with them the limiter locks across processes."""

    async def get_kv(self, key: str) -> str | None: ...
    async def set_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> None: ...


class LimitsLike(Protocol):
    """Anything with the two limits: bot.orgconfig.EffectiveConfig, or a test double."""

    @property
    def max_new_prs_per_hour(self) -> int: ...
    @property
    def max_open_prs_per_repo(self) -> int: ...


class LimiterBusy(RuntimeError):
    """The shared lock could not be taken in time; the job should be retried later (nothing changed)."""


class MemoryKV:
    """An in-memory KeyValue with expiry on an injected clock, for tests and `trustacks demo`."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._data: dict[str, tuple[str, float | None]] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self.clock():
            del self._data[key]
            return None
        return value

    async def get_kv(self, key: str) -> str | None:
        return self._live(key)

    async def set_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> None:
        self._data[key] = (value, None if ttl_seconds is None else self.clock() + ttl_seconds)

    async def add_kv(self, key: str, value: str, *, ttl_seconds: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        await self.set_kv(key, value, ttl_seconds=ttl_seconds)
        return True

    async def delete_kv(self, key: str) -> bool:
        return self._data.pop(key, None) is not None


@dataclass(frozen=True)
class Admission:
    """May a new bot PR be opened now? `ticket` (when allowed) names the reserved slot in the hour;
    `retry_at` (when the hourly limit refused) is when the window next frees a slot."""

    allowed: bool
    reason: str
    ticket: str | None = None
    retry_at: float | None = None


@dataclass(frozen=True)
class HeldProposal:
    """A proposal a limit held back: listed (dashboard, status page) until it is opened or dropped."""

    key: str
    repo: str
    title: str
    reason: str
    since: float

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "repo": self.repo, "title": self.title, "reason": self.reason,
                "since": self.since}


@dataclass(frozen=True)
class Release:
    """A held proposal that may be opened now, with the admission that reserved its slot."""

    held: HeldProposal
    admission: Admission


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class _State:
    """The scope's JSON document: openings of the window, held proposals (FIFO)."""

    def __init__(self, opened: list[dict[str, Any]], held: list[dict[str, Any]]) -> None:
        self.opened = opened
        self.held = held

    @classmethod
    def loads(cls, text: str | None) -> "_State":
        if not text:
            return cls([], [])
        try:
            data = json.loads(text)
            return cls(list(data["opened"]), list(data["held"]))
        except (ValueError, KeyError, TypeError):
            log.warning("noise limiter state is unreadable; starting an empty window and held list")
            return cls([], [])

    def dumps(self) -> str:
        return json.dumps({"v": STATE_VERSION, "opened": self.opened, "held": self.held}, separators=(",", ":"))

    def prune(self, now: float, window: float) -> None:
        self.opened = [o for o in self.opened if o["t"] > now - window]

    def pending(self, repo: str, now: float) -> int:
        return sum(1 for o in self.opened
                   if o["repo"] == repo and not o["confirmed"] and o["t"] > now - PENDING_SECONDS)

    def find_held(self, key: str) -> dict[str, Any] | None:
        return next((h for h in self.held if h["key"] == key), None)


class NoiseLimiter:
    """Hourly and per-repo PR limits with a held-back queue, over a KeyValue store (see the module doc)."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        clock: Callable[[], float] = time.time,
        scope: str = "default",
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self.kv = kv
        self.clock = clock
        self.scope = scope
        self.window = window_seconds
        self._key = f"trustacks:limits:{scope}"
        self._local = asyncio.Lock()

    # ------------------------------------------------------------------ locking and state

    @contextlib.asynccontextmanager
    async def _state(self, *, write: bool = True) -> AsyncIterator[_State]:
        """Load the scope's state and yield it. `write`: under the in-process lock and, when the store can,
        a shared one, then saved; otherwise a lock-free snapshot (listing, counting)."""
        if not write:
            state = _State.loads(await self.kv.get_kv(self._key))
            state.prune(self.clock(), self.window)
            yield state
            return
        async with self._local:
            token = await self._lock()
            try:
                state = _State.loads(await self.kv.get_kv(self._key))
                state.prune(self.clock(), self.window)
                yield state
                await self.kv.set_kv(self._key, state.dumps())
            finally:
                await self._unlock(token)

    async def _lock(self) -> str | None:
        add = getattr(self.kv, "add_kv", None)
        if add is None:
            return None  # one process only: the asyncio lock is enough
        token = secrets.token_hex(8)
        for attempt in range(LOCK_ATTEMPTS):
            if await add(self._key + ":lock", token, ttl_seconds=LOCK_TTL_SECONDS):
                return token
            await asyncio.sleep(min(0.005 * (attempt + 1), 0.1))
        raise LimiterBusy(f"noise limiter for {self.scope!r} is locked by another worker; retry the job later")

    async def _unlock(self, token: str | None) -> None:
        delete = getattr(self.kv, "delete_kv", None)
        if token is None or delete is None:
            return
        if await self.kv.get_kv(self._key + ":lock") == token:
            await delete(self._key + ":lock")

    # ------------------------------------------------------------------ admission

    def _admit(self, state: _State, repo: str, *, open_bot_prs: int, cfg: LimitsLike, now: float) -> Admission:
        hourly, per_repo = cfg.max_new_prs_per_hour, cfg.max_open_prs_per_repo
        opened = len(state.opened)
        open_now = open_bot_prs + state.pending(repo, now)
        if open_now >= per_repo:
            return Admission(False, f"{repo} already has {open_now} open bot PR(s) "
                                    f"(limits.max_open_prs_per_repo is {per_repo}); held back until one "
                                    "is merged or closed")
        if hourly <= 0:
            return Admission(False, "limits.max_new_prs_per_hour is 0: new PRs are paused")
        if opened >= hourly:
            times = sorted(o["t"] for o in state.opened)
            retry_at = times[opened - hourly] + self.window
            return Admission(False, f"{opened} new bot PR(s) opened in the last hour (limits.max_new_prs_per_hour "
                                    f"is {hourly}); held back until {_iso(retry_at)}", retry_at=retry_at)
        ticket = secrets.token_hex(8)
        state.opened.append({"t": now, "repo": repo, "ticket": ticket, "confirmed": False})
        return Admission(True, f"within limits ({opened + 1}/{hourly} this hour, "
                               f"{open_now + 1}/{per_repo} open in {repo})", ticket=ticket)

    async def may_open(
        self,
        repo: str,
        *,
        open_bot_prs: int,
        cfg: LimitsLike,
        proposal_key: str | None = None,
    ) -> Admission:
        """Whether a new bot PR may be opened in `repo` now; an allowed admission reserves its slot.

        `open_bot_prs`: the bot's open PRs in `repo`, counted on the forge. When `proposal_key` is
        held, an allowed admission marks it in flight so `release_ready` does not hand it out again.
        """
        now = self.clock()
        async with self._state() as state:
            adm = self._admit(state, repo, open_bot_prs=open_bot_prs, cfg=cfg, now=now)
            entry = state.find_held(proposal_key) if proposal_key else None
            if entry is not None:
                if adm.allowed:
                    entry["in_flight"], entry["ticket"] = now, adm.ticket
                else:
                    entry["reason"] = adm.reason
            return adm

    async def record_opened(self, repo: str, *, ticket: str | None = None, proposal_key: str | None = None) -> None:
        """Count a PR the bot opened: confirms the admission `ticket`, or (without one) adds an opening
        now, so PRs opened outside `may_open` still count. Removes `proposal_key` (and the held entry
        released with `ticket`) from the held list."""
        now = self.clock()
        async with self._state() as state:
            mine = next((o for o in state.opened if ticket and o["ticket"] == ticket), None)
            if mine is not None:
                mine["confirmed"] = True
            else:
                state.opened.append({"t": now, "repo": repo, "ticket": ticket or secrets.token_hex(8),
                                     "confirmed": True})
            state.held = [h for h in state.held
                          if h["key"] != proposal_key and (ticket is None or h.get("ticket") != ticket)]

    async def cancel(self, ticket: str) -> bool:
        """Give back an admission whose PR was not opened (the forge call failed)."""
        async with self._state() as state:
            kept = [o for o in state.opened if o["ticket"] != ticket or o["confirmed"]]
            found = len(kept) != len(state.opened)
            state.opened = kept
            for h in state.held:
                if h.get("ticket") == ticket:
                    h.pop("in_flight", None)
                    h.pop("ticket", None)
            return found

    async def opened_in_window(self) -> int:
        """New bot PRs opened (or reserved) in the scope during the sliding hour."""
        async with self._state(write=False) as state:
            return len(state.opened)

    # ------------------------------------------------------------------ held-back queue

    async def hold(self, proposal_key: str, repo: str, title: str, *, reason: str = "") -> HeldProposal:
        """List a proposal a limit stopped. Holding a key again updates its title and reason and keeps
        its place in the queue (first held, first released)."""
        now = self.clock()
        async with self._state() as state:
            entry = state.find_held(proposal_key)
            if entry is None:
                entry = {"key": proposal_key, "since": now}
                state.held.append(entry)
            entry.update(repo=repo, title=title, reason=reason)
            entry.pop("in_flight", None)
            entry.pop("ticket", None)
            return _held(entry)

    async def unhold(self, proposal_key: str) -> bool:
        """Drop a held proposal that no longer applies (superseded, repo opted out)."""
        async with self._state() as state:
            before = len(state.held)
            state.held = [h for h in state.held if h["key"] != proposal_key]
            return len(state.held) != before

    async def held(self, repo: str | None = None) -> list[HeldProposal]:
        """The held-back proposals, oldest first (optionally of one repo)."""
        async with self._state(write=False) as state:
            return [_held(h) for h in state.held if repo is None or h["repo"] == repo]

    async def release_ready(
        self,
        *,
        open_bot_prs: Mapping[str, int],
        cfg_for: Callable[[str], LimitsLike],
    ) -> list[Release]:
        """Held proposals that may be opened now, oldest first, each with a reserved admission.

        `open_bot_prs`: open bot PRs per repo on the forge (missing repos count 0); `cfg_for(repo)`:
        that repo's limits. Released entries stay listed (marked in flight) until `record_opened`
        removes them; one not confirmed within PENDING_SECONDS is handed out again.
        """
        now = self.clock()
        out: list[Release] = []
        async with self._state() as state:
            for entry in state.held:
                if "in_flight" in entry and entry["in_flight"] > now - PENDING_SECONDS:
                    continue  # handed out recently; its worker is opening it
                adm = self._admit(state, entry["repo"], open_bot_prs=open_bot_prs.get(entry["repo"], 0),
                                  cfg=cfg_for(entry["repo"]), now=now)
                if adm.allowed:
                    entry["in_flight"], entry["ticket"] = now, adm.ticket
                    out.append(Release(_held(entry), adm))
                else:
                    entry["reason"] = adm.reason
        return out

    async def next_release_at(self, cfg: LimitsLike) -> float | None:
        """When the hourly window next has room under `cfg` (now, if it has room), or None when
        nothing is held. The caller schedules its next `release_ready` then."""
        now = self.clock()
        async with self._state(write=False) as state:
            if not state.held:
                return None
            opened, hourly = len(state.opened), cfg.max_new_prs_per_hour
            if opened < hourly:
                return now
            if hourly <= 0:
                return None
            return sorted(o["t"] for o in state.opened)[opened - hourly] + self.window


def _held(entry: Mapping[str, Any]) -> HeldProposal:
    return HeldProposal(key=entry["key"], repo=entry["repo"], title=entry["title"], reason=entry.get("reason", ""),
                        since=entry["since"])
