"""Waivers: signed by the named approver, scoped, expiring, and never for constitution rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot.policy import keys
from bot.policy.waivers import Waiver, WaiverError, dump_waivers, glob_match, load_waivers, sign_waiver

TODAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def alice():
    return keys.generate_keypair()


@pytest.fixture(scope="module")
def bob():
    return keys.generate_keypair()


def _waiver(**kw) -> Waiver:
    base = dict(rule="SOC2-CC6.1-002", repo="acme/payments", path="services/legacy/**", reason="migration in PAY-1",
                approver="alice", expires=dt.date(2026, 12, 31))
    base.update(kw)
    return Waiver(**base)


def _load(waivers, trusted, **kw):
    return load_waivers(dump_waivers(waivers), trusted_keys=trusted, today=kw.pop("today", TODAY), **kw)


def test_signed_waiver_applies_within_its_scope(alice):
    ws = _load([sign_waiver(_waiver(), private_key_pem=alice[0])], {"alice": alice[1]})
    assert [w.rule for w in ws.active] == ["SOC2-CC6.1-002"] and not ws.rejected
    assert ws.find("SOC2-CC6.1-002", repo="acme/payments", paths=["services/legacy/a/b.py"]) is not None
    assert ws.find("SOC2-CC6.1-002", repo="acme/payments", paths=["services/legacy/x", "services/new/y"]) is None
    assert ws.find("SOC2-CC6.1-002", repo="acme/other", paths=["services/legacy/x"]) is None
    assert ws.find("SOC2-CC6.1-003", repo="acme/payments", paths=["services/legacy/x"]) is None
    # a violation not tied to a path is only covered by a whole-repo waiver
    assert ws.find("SOC2-CC6.1-002", repo="acme/payments") is None


def test_unsigned_waiver_is_ignored_and_reported(alice):
    ws = _load([_waiver()], {"alice": alice[1]})
    assert not ws.active
    assert ws.rejected[0].reason.startswith("unsigned") and ws.rejected[0].line == 2


def test_expired_waiver_is_ignored_and_reported(alice):
    signed = sign_waiver(_waiver(expires=dt.date(2026, 5, 31)), private_key_pem=alice[0])
    ws = _load([signed], {"alice": alice[1]})
    assert not ws.active and "expired on 2026-05-31" in ws.rejected[0].reason
    # the last day itself is still valid
    assert _load([signed], {"alice": alice[1]}, today=dt.date(2026, 5, 31)).active


@pytest.mark.parametrize(
    "edit",
    [
        {"repo": "acme/*"},
        {"path": "**"},
        {"expires": dt.date(2027, 12, 31)},
        {"rule": "SOC2-CC6.1-003"},
        {"reason": "different"},
    ],
)
def test_edited_waiver_does_not_verify(alice, edit):
    signed = sign_waiver(_waiver(), private_key_pem=alice[0])
    ws = _load([replace(signed, **edit)], {"alice": alice[1]})
    assert not ws.active and "does not verify" in ws.rejected[0].reason


def test_signature_must_come_from_the_named_approver(alice, bob):
    """Bob cannot sign a waiver that claims Alice approved it, nor re-label his own as hers."""
    by_bob = sign_waiver(_waiver(approver="bob"), private_key_pem=bob[0])
    ws = _load([replace(by_bob, approver="alice")], {"alice": alice[1], "bob": bob[1]})
    assert not ws.active and "key id does not name the approver" in ws.rejected[0].reason
    forged = sign_waiver(_waiver(approver="alice"), private_key_pem=bob[0])
    ws = _load([forged], {"alice": alice[1], "bob": bob[1]})
    assert not ws.active and "does not verify" in ws.rejected[0].reason


def test_unknown_approver_is_ignored(alice):
    ws = _load([sign_waiver(_waiver(approver="mallory"), private_key_pem=alice[0])], {"alice": alice[1]})
    assert not ws.active and "no trusted key" in ws.rejected[0].reason


@pytest.mark.parametrize("rule", ["TS-PROC-001", "ts-supply-002", "CONST-X"])
def test_constitution_waivers_are_refused(alice, rule):
    with pytest.raises(WaiverError, match="constitution"):
        sign_waiver(_waiver(rule=rule), private_key_pem=alice[0], constitution_rules={"CONST-X"})
    # and a hand-made one in a file is ignored, whatever its signature says
    ws = _load([_waiver(rule=rule, signature="x.y.z")], {"alice": alice[1]}, constitution_rules={"CONST-X"})
    assert not ws.active and ws.rejected[0].reason == "constitution rules cannot be waived"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("waivers:\n  - rule: X-1\n    scope: {repo: a/b}\n    reason: r\n    approver: alice\n", "must expire"),
        ("waivers:\n  - rule: X-1\n    reason: r\n    approver: alice\n    expires: 2027-01-01\n", "scope"),
        ("waivers:\n  - rule: X-1\n    scope: {repo: a/b}\n    approver: alice\n    expires: 2027-01-01\n", "reason"),
        ("waivers:\n  - rule: X-1\n    scope: {repo: a/b}\n    reason: r\n    approver: alice\n    expires: soon\n", "date"),
        ("waivers:\n  - just a string\n", "mapping"),
    ],
)
def test_malformed_waivers_are_reported_not_raised(alice, text, reason):
    ws = load_waivers(text, trusted_keys={"alice": alice[1]}, today=TODAY)
    assert not ws.active and reason in ws.rejected[0].reason


@pytest.mark.parametrize("text", ["waivers: {a: 1}\n", "- 1\n", "waivers: [\n"])
def test_unusable_files_raise(text):
    with pytest.raises(WaiverError):
        load_waivers(text, trusted_keys={}, today=TODAY)


def test_one_bad_waiver_does_not_hide_the_good_ones(alice):
    good = sign_waiver(_waiver(), private_key_pem=alice[0])
    ws = _load([_waiver(rule="TS-X-1"), good, _waiver()], {"alice": alice[1]})
    assert len(ws.active) == 1 and [r.line for r in ws.rejected] == [2, 17]
    assert len(ws.report()) == 3


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("acme/*", "acme/payments", True),
        ("acme/*", "acme/payments/x", False),
        ("*", "acme/payments", False),
        ("**", "acme/payments", True),
        ("services/**", "services/a/b.py", True),
        ("services/**", "servicesX/a", False),
        ("**/Dockerfile", "Dockerfile", True),
        ("**/Dockerfile", "a/b/Dockerfile", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("a.c", "abc", False),
        ("[ab]", "a", False),
    ],
)
def test_glob_semantics(pattern, value, expected):
    assert glob_match(pattern, value) is expected
