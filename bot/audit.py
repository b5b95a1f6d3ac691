"""The audit log: every policy decision, append-only and hash-chained, in a SQLite table.

Owns the record chain (DESIGN.md §1 "bot/audit.py: every decision, hash-chained"). Each entry is
`seq, ts, prev_hash, hash, record`, where `hash = sha256(canonical JSON of {v, seq, ts, prev_hash,
record})` and `prev_hash` is the previous entry's hash (64 zeros for the first). `verify()` recomputes
the chain and names every edited, removed or reordered entry. A chain alone cannot show that its newest
entries were cut off; pass an anchor (a `(seq, hash)` published elsewhere, e.g. in a check run) to
`verify()` to catch that too.

Records are redacted before they are hashed and stored (`Redaction`): by default file contents are
replaced by their SHA-256 and length, so the log proves what was decided about which bytes without
keeping source code (seed 001: "source never leaves the data plane without opt-in").

Storage is one table behind a tiny interface: give `AuditLog` a path or an open `sqlite3.Connection`
(so the service's store can host the table in its own database).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from bot.models import Decision, as_dict

GENESIS = "0" * 64
FORMAT_VERSION = 1
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class AuditError(RuntimeError):
    """The log cannot be written or read (not: the log is tampered; that is a verification result)."""


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8, no NaN: the same bytes for the same record, always."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(value: Any) -> str:
    """SHA-256 of a value's canonical JSON (dataclasses and enums are converted first)."""
    return hashlib.sha256(canonical_json(as_dict(value)).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- redaction


@dataclass(frozen=True)
class Redaction:
    """Which record keys are replaced by a hash (`hash_keys`) or removed (`drop_keys`), at any depth."""

    hash_keys: frozenset[str] = frozenset({"content", "contents", "old", "new", "body", "diff", "snippet", "patch"})
    drop_keys: frozenset[str] = frozenset()

    def apply(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, sub in value.items():
                key = str(key)
                if key in self.drop_keys:
                    continue
                if key in self.hash_keys and isinstance(sub, (str, bytes)):
                    raw = sub.encode("utf-8") if isinstance(sub, str) else sub
                    out[key] = {"redacted": True, "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
                else:
                    out[key] = self.apply(sub)
            return out
        if isinstance(value, (list, tuple)):
            return [self.apply(v) for v in value]
        if isinstance(value, bytes):
            return {"redacted": True, "sha256": hashlib.sha256(value).hexdigest(), "bytes": len(value)}
        return value


DEFAULT_REDACTION = Redaction()
NO_REDACTION = Redaction(hash_keys=frozenset(), drop_keys=frozenset())


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    prev_hash: str
    hash: str
    record: dict[str, Any]

    def expected_hash(self) -> str:
        return entry_hash(seq=self.seq, ts=self.ts, prev_hash=self.prev_hash, record=self.record)


def entry_hash(*, seq: int, ts: str, prev_hash: str, record: Mapping[str, Any]) -> str:
    body = {"v": FORMAT_VERSION, "seq": seq, "ts": ts, "prev_hash": prev_hash, "record": record}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    kind: str  # "edited" | "removed" | "reordered" | "truncated" | "unreadable"
    message: str


@dataclass
class AuditVerification:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    problems: list[AuditProblem] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"audit log intact: {self.count} entries, head {self.head_seq}:{self.head_hash}"
        lines = [f"audit log TAMPERED: {len(self.problems)} problem(s) in {self.count} entries"]
        lines += [f"  seq {p.seq}: {p.kind}: {p.message}" for p in self.problems]
        return "\n".join(lines)


# --------------------------------------------------------------------------- the log


class AuditLog:
    """Append-only, hash-chained decisions in one SQLite table.

    `db` is a path (opened here, closed by `close()`) or an open connection owned by the caller.
    Appends take SQLite's write lock (`BEGIN IMMEDIATE`), so concurrent writers, in this process or
    another, extend one chain instead of forking it.
    """

    def __init__(
        self,
        db: str | Path | sqlite3.Connection,
        *,
        table: str = "audit_log",
        redaction: Redaction = DEFAULT_REDACTION,
        clock: Any = None,
    ) -> None:
        if not _TABLE.match(table):
            raise AuditError(f"invalid audit table name {table!r}")
        self._table = table
        self._redaction = redaction
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._lock = threading.Lock()
        if isinstance(db, sqlite3.Connection):
            self._conn, self._owned = db, False
        else:
            self._conn = sqlite3.connect(str(db), timeout=30, isolation_level=None, check_same_thread=False)
            self._owned = True
            # WAL: one fsync per append instead of the rollback journal's several; still synchronous=FULL.
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " seq INTEGER PRIMARY KEY,"
            " ts TEXT NOT NULL,"
            " prev_hash TEXT NOT NULL UNIQUE,"
            " hash TEXT NOT NULL UNIQUE,"
            " record TEXT NOT NULL)"
        )
        if self._conn.in_transaction and self._owned:
            self._conn.commit()

    def close(self) -> None:
        if self._owned:
            self._conn.close()

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- writing

    def append(self, record: Mapping[str, Any]) -> AuditEntry:
        """Redact, chain and store one record; returns the stored entry."""
        clean = self._redaction.apply(as_dict(dict(record)))
        try:
            record_json = canonical_json(clean)
        except (TypeError, ValueError) as exc:
            raise AuditError(f"audit record is not JSON-serializable: {exc}") from None
        stored = json.loads(record_json)
        with self._lock:
            own_tx = not self._conn.in_transaction
            if own_tx:
                self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    f"SELECT seq, hash FROM {self._table} ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                ts = self._clock().astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
                entry = AuditEntry(seq=seq, ts=ts, prev_hash=prev, hash="", record=stored)
                entry = AuditEntry(seq=seq, ts=ts, prev_hash=prev, hash=entry.expected_hash(), record=stored)
                self._conn.execute(
                    f"INSERT INTO {self._table} (seq, ts, prev_hash, hash, record) VALUES (?, ?, ?, ?, ?)",
                    (entry.seq, entry.ts, entry.prev_hash, entry.hash, record_json),
                )
                if own_tx:
                    self._conn.execute("COMMIT")
            except BaseException:
                if own_tx and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return entry

    def append_decision(self, decision: Decision, **fields: Any) -> AuditEntry:
        return self.append(decision_record(decision, **fields))

    # ----------------------------------------------------------------- reading

    def entries(self, *, since: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        """Entries with seq > since, oldest first."""
        sql = f"SELECT seq, ts, prev_hash, hash, record FROM {self._table} WHERE seq > ? ORDER BY seq"
        params: tuple[Any, ...] = (since,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (since, int(limit))
        for seq, ts, prev, h, rec in self._conn.execute(sql, params).fetchall():
            yield AuditEntry(seq=seq, ts=ts, prev_hash=prev, hash=h, record=_load_record(rec))

    def __iter__(self) -> Iterator[AuditEntry]:
        return self.entries()

    def tail(self, n: int = 20) -> list[AuditEntry]:
        rows = self._conn.execute(
            f"SELECT seq FROM {self._table} ORDER BY seq DESC LIMIT ?", (int(n),)
        ).fetchall()
        if not rows:
            return []
        return list(self.entries(since=rows[-1][0] - 1))

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry: publish it elsewhere to anchor `verify()`."""
        row = self._conn.execute(f"SELECT seq, hash FROM {self._table} ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    # ----------------------------------------------------------------- verifying

    def verify(self, *, anchor: tuple[int, str] | None = None) -> AuditVerification:
        """Recompute the chain; every problem is named with its seq and kind."""
        links = self._conn.execute(f"SELECT seq, hash FROM {self._table} ORDER BY seq").fetchall()
        seq_of_hash = {h: seq for seq, h in links}
        problems: list[AuditProblem] = []
        expected_seq, prev_hash, count = 1, GENESIS, 0
        for entry in self.entries():
            count += 1
            gap = entry.seq != expected_seq
            if gap:
                missing = str(expected_seq) if entry.seq == expected_seq + 1 else f"{expected_seq}..{entry.seq - 1}"
                problems.append(AuditProblem(entry.seq, "removed", f"entries {missing} are missing before it"))
            if entry.record.get("__unreadable__"):
                problems.append(AuditProblem(entry.seq, "edited", "stored record is not valid JSON"))
            elif entry.expected_hash() != entry.hash:
                problems.append(AuditProblem(entry.seq, "edited", "content does not match its hash"))
            if entry.prev_hash != prev_hash and not gap:
                other = seq_of_hash.get(entry.prev_hash)
                if other is not None and other != entry.seq - 1:
                    problems.append(AuditProblem(entry.seq, "reordered", f"links to entry {other}, not to entry {entry.seq - 1}"))
                elif entry.prev_hash == GENESIS:
                    problems.append(AuditProblem(entry.seq, "removed", "claims to be the first entry"))
                else:
                    problems.append(AuditProblem(entry.seq, "edited", f"entry {entry.seq - 1} is not the entry this one was chained to"))
            prev_hash, expected_seq = entry.hash, entry.seq + 1
        head_seq = expected_seq - 1
        if anchor is not None:
            a_seq, a_hash = anchor
            if a_seq > head_seq:
                problems.append(AuditProblem(a_seq, "truncated", f"anchor names entry {a_seq} but the log ends at {head_seq}"))
            elif a_seq > 0 and dict(links).get(a_seq) != a_hash:
                problems.append(AuditProblem(a_seq, "edited", "entry does not match the published anchor"))
        return AuditVerification(ok=not problems, count=count, head_seq=head_seq, head_hash=prev_hash, problems=problems)


def _load_record(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"__unreadable__": True}
    return value if isinstance(value, dict) else {"__unreadable__": True}


# --------------------------------------------------------------------------- records


def decision_record(
    decision: Decision,
    *,
    input_digest: str,
    actor: str,
    delivery_id: str = "",
    repo: str = "",
    subject: str = "",
    waivers_applied: list[Mapping[str, Any]] | None = None,
    waivers_ignored: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The audit record of one policy decision (DESIGN.md §3)."""
    return {
        "kind": "decision",
        "verdict": decision.verdict,
        "input_digest": input_digest,
        "bundle_revisions": dict(decision.bundle_revisions),
        "rules_cited": decision.cited_rules,
        "deny": [{"rule": v.rule, "layer": v.layer, "msg": v.msg} for v in decision.deny],
        "warn": [{"rule": v.rule, "layer": v.layer, "msg": v.msg} for v in decision.warn],
        "actor": actor,
        "delivery_id": delivery_id,
        "repo": repo,
        "subject": subject,
        "waivers_applied": list(waivers_applied if waivers_applied is not None else (
            {**w.waiver, "lifted": w.was, "msg": w.violation.msg} for w in getattr(decision, "waived", []))),
        "waivers_ignored": list(waivers_ignored if waivers_ignored is not None else (
            {"reason": text} for text in getattr(decision, "waivers_ignored", []))),
    }


def format_entry(entry: AuditEntry) -> str:
    r = entry.record
    if r.get("kind") == "decision":
        rules = ",".join(r.get("rules_cited", [])) or "-"
        what = f"{r.get('verdict', '?'):<5} {r.get('repo', '')} {r.get('subject', '')} rules={rules} actor={r.get('actor', '')}"
    else:
        what = canonical_json(r)[:160]
    return f"{entry.seq:>6} {entry.ts} {entry.hash[:12]} {what}"
