"""The audit chain: appends link up, and every edit, removal or reorder is named by verify()."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading

import pytest

from bot.audit import GENESIS, AuditLog, Redaction, decision_record, digest, format_entry
from bot.models import Decision, Violation


def _clock():
    t = [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]

    def now():
        t[0] += dt.timedelta(seconds=1)
        return t[0]

    return now


@pytest.fixture
def log(tmp_path):
    with AuditLog(tmp_path / "audit.db", clock=_clock()) as audit:
        for i in range(1, 6):
            audit.append({"kind": "decision", "n": i, "verdict": "pass"})
        yield audit


def _sql(log: AuditLog, sql: str, *params) -> None:
    log._conn.execute(sql, params)  # the tamperer's direct write, bypassing the API


def test_appends_form_a_chain(log):
    entries = list(log)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    result = log.verify()
    assert result.ok and result.count == 5 and (result.head_seq, result.head_hash) == log.head()
    assert "intact" in result.summary()


def test_empty_log_verifies(tmp_path):
    with AuditLog(tmp_path / "a.db") as audit:
        assert audit.verify().ok and audit.head() == (0, GENESIS)


def test_edited_record_is_detected(log):
    _sql(log, "UPDATE audit_log SET record = ? WHERE seq = 3", json.dumps({"kind": "decision", "n": 3, "verdict": "deny"}))
    result = log.verify()
    assert not result.ok and [(p.seq, p.kind) for p in result.problems] == [(3, "edited")]
    assert "TAMPERED" in result.summary()


def test_edited_record_with_recomputed_hash_breaks_the_next_link(log):
    entry = list(log)[2]
    forged = {"kind": "decision", "n": 3, "verdict": "deny"}
    from bot.audit import entry_hash

    new_hash = entry_hash(seq=3, ts=entry.ts, prev_hash=entry.prev_hash, record=forged)
    _sql(log, "UPDATE audit_log SET record = ?, hash = ? WHERE seq = 3", json.dumps(forged), new_hash)
    problems = [(p.seq, p.kind) for p in log.verify().problems]
    assert problems == [(4, "edited")]


def test_timestamp_edit_is_detected(log):
    _sql(log, "UPDATE audit_log SET ts = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 2")
    assert [(p.seq, p.kind) for p in log.verify().problems] == [(2, "edited")]


@pytest.mark.parametrize(("seq", "expected"), [(3, [(4, "removed")]), (1, [(2, "removed")])])
def test_removed_record_is_detected(log, seq, expected):
    _sql(log, "DELETE FROM audit_log WHERE seq = ?", seq)
    assert [(p.seq, p.kind) for p in log.verify().problems] == expected


def test_removed_and_renumbered_is_detected(log):
    _sql(log, "DELETE FROM audit_log WHERE seq = 3")
    _sql(log, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    kinds = {p.kind for p in log.verify().problems}
    assert not log.verify().ok and "edited" in kinds


def test_reordered_records_are_detected(log):
    _sql(log, "UPDATE audit_log SET seq = 100 WHERE seq = 2")
    _sql(log, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _sql(log, "UPDATE audit_log SET seq = 3 WHERE seq = 100")
    problems = [(p.seq, p.kind) for p in log.verify().problems]
    assert (2, "reordered") in problems and (2, "edited") in problems and (3, "edited") in problems


def test_truncated_tail_is_caught_only_with_an_anchor(log):
    anchor = log.head()
    _sql(log, "DELETE FROM audit_log WHERE seq >= 4")
    assert log.verify().ok  # a bare chain cannot tell
    result = log.verify(anchor=anchor)
    assert [(p.seq, p.kind) for p in result.problems] == [(5, "truncated")]


def test_rewritten_chain_is_caught_by_the_anchor(log, tmp_path):
    anchor = log.head()
    with AuditLog(tmp_path / "forged.db", clock=_clock()) as forged:
        for i in range(1, 6):
            forged.append({"kind": "decision", "n": i, "verdict": "deny" if i == 2 else "pass"})
        assert forged.verify().ok
        assert [p.kind for p in forged.verify(anchor=anchor).problems] == ["edited"]


def test_unparseable_record_is_reported(log):
    _sql(log, "UPDATE audit_log SET record = '{not json' WHERE seq = 5")
    assert [(p.seq, p.kind) for p in log.verify().problems] == [(5, "edited")]


def test_redaction_keeps_hashes_not_contents(tmp_path):
    with AuditLog(tmp_path / "r.db", redaction=Redaction(drop_keys=frozenset({"token"}))) as audit:
        entry = audit.append({"files": [{"path": "a.py", "content": "SECRET SOURCE"}], "token": "t0k", "diff": b"\x00"})
    stored = entry.record
    assert "SECRET SOURCE" not in json.dumps(stored) and "token" not in stored
    assert stored["files"][0]["content"]["bytes"] == 13 and len(stored["files"][0]["content"]["sha256"]) == 64
    assert stored["files"][0]["path"] == "a.py" and stored["diff"]["bytes"] == 1


def test_decision_record_carries_what_the_issue_asks_for(tmp_path):
    decision = Decision(
        deny=[Violation(rule="TS-CI-001", layer="constitution", severity="high", msg="static credential")],
        warn=[Violation(rule="SOC2-1", layer="packs.soc2", severity="low", msg="w")],
        bundle_revisions={"constitution": "1.2.0"},
    )
    with AuditLog(tmp_path / "d.db") as audit:
        entry = audit.append_decision(decision, input_digest=digest({"x": 1}), actor="trustacks[bot]", delivery_id="d-1", repo="acme/app")
        assert audit.verify().ok
    r = entry.record
    assert (r["verdict"], r["rules_cited"], r["bundle_revisions"]) == ("deny", ["TS-CI-001", "SOC2-1"], {"constitution": "1.2.0"})
    assert (r["actor"], r["delivery_id"], r["input_digest"]) == ("trustacks[bot]", "d-1", digest({"x": 1}))
    assert "TS-CI-001" in format_entry(entry)


def test_shared_connection_and_table(tmp_path):
    """The service's store can host the table in its own database, under its own name."""
    conn = sqlite3.connect(tmp_path / "store.db")
    conn.execute("CREATE TABLE jobs (id INTEGER)")
    audit = AuditLog(conn, table="trustacks_audit")
    audit.append({"a": 1})
    audit.append({"a": 2})
    conn.commit()
    assert AuditLog(sqlite3.connect(tmp_path / "store.db"), table="trustacks_audit").verify().count == 2
    with pytest.raises(Exception, match="invalid audit table"):
        AuditLog(conn, table="x; DROP TABLE jobs")


def test_concurrent_writers_extend_one_chain(tmp_path):
    path = tmp_path / "c.db"
    AuditLog(path).close()

    def writer(k: int) -> None:
        with AuditLog(path) as audit:
            for i in range(15):
                audit.append({"writer": k, "i": i})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with AuditLog(path) as audit:
        result = audit.verify()
    assert result.ok and result.count == 60


def test_tail_and_since(log):
    assert [e.seq for e in log.tail(2)] == [4, 5]
    assert [e.seq for e in log.entries(since=3)] == [4, 5]
    assert [e.seq for e in log.entries(limit=2)] == [1, 2]


# --------------------------------------------------------------------------- any tamper, found


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def _tamper(draw):
    n = draw(st.integers(min_value=2, max_value=8))
    op = draw(st.sampled_from(["edit", "delete", "swap", "rehash_edit"]))
    k = draw(st.integers(min_value=1, max_value=n - 1))  # never only the last: a cut-off tail needs an anchor
    j = draw(st.integers(min_value=k + 1, max_value=n))
    return n, op, k, j


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_tamper())
def test_any_single_tamper_is_detected(tmp_path_factory, case):
    from bot.audit import entry_hash

    n, op, k, j = case
    with AuditLog(tmp_path_factory.mktemp("h") / "a.db", clock=_clock()) as audit:
        for i in range(n):
            audit.append({"i": i})
        conn = audit._conn
        if op == "edit":
            conn.execute("UPDATE audit_log SET record = ? WHERE seq = ?", (json.dumps({"i": -1}), k))
        elif op == "delete":
            conn.execute("DELETE FROM audit_log WHERE seq = ?", (k,))
        elif op == "swap":
            rk = conn.execute("SELECT record FROM audit_log WHERE seq = ?", (k,)).fetchone()[0]
            rj = conn.execute("SELECT record FROM audit_log WHERE seq = ?", (j,)).fetchone()[0]
            conn.execute("UPDATE audit_log SET record = ? WHERE seq = ?", (rj, k))
            conn.execute("UPDATE audit_log SET record = ? WHERE seq = ?", (rk, j))
        else:  # a careful forger recomputes the edited entry's own hash
            e = list(audit.entries(since=k - 1, limit=1))[0]
            forged = {"i": -1}
            conn.execute("UPDATE audit_log SET record = ?, hash = ? WHERE seq = ?",
                         (json.dumps(forged), entry_hash(seq=k, ts=e.ts, prev_hash=e.prev_hash, record=forged), k))
        result = audit.verify()
    assert not result.ok and result.problems
