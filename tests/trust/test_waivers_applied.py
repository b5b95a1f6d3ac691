"""Signed waivers take effect at evaluation: they lift pack/overlay rules in scope, never the constitution."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import pipeline
from bot.audit import AuditLog
from bot.commands.waiver import WAIVERS_PATH
from bot.forges.local import LocalForge, LocalForgeAdmin
from bot.models import Decision, Violation
from bot.policy import PolicyEngine, keys
from bot.policy.waivers import Waiver, WaiverSet, apply_waivers, approver_keys, dump_waivers, load_waivers, sign_waiver
from tests.policy.conftest import GOOD_WORKFLOW, make_profile, make_proposal

FUTURE = dt.date.today() + dt.timedelta(days=30)
PAST = dt.date.today() - dt.timedelta(days=1)
NO_TICKET = {"title": "CI for shop", "summary": "Generated CI for shop."}  # ITIL-CHG-001: no change record


@pytest.fixture(scope="module")
def itil() -> PolicyEngine:
    return PolicyEngine.load(packs=("itil",), isolate=False)


@pytest.fixture(scope="module")
def alice() -> tuple[bytes, bytes]:
    return keys.generate_keypair()


def signed(alice, **over) -> Waiver:
    fields = dict(rule="ITIL-CHG-001", repo="acme/*", reason="emergency CI fix, CHG tracked in SHOP-9", approver="alice",
                  expires=FUTURE, path="**")
    fields.update(over)
    return sign_waiver(Waiver(**fields), private_key_pem=alice[0])


def waivers_of(alice, *items: Waiver, trusted=True) -> WaiverSet:
    return load_waivers(dump_waivers(items), trusted_keys={"alice": alice[1]} if trusted else {})


def test_a_signed_waiver_lifts_the_pack_rule_it_names(itil, alice):
    proposal = make_proposal(**NO_TICKET)
    decision = itil.evaluate(proposal, make_profile())
    assert [v.rule for v in decision.deny] == ["ITIL-CHG-001"]
    after = apply_waivers(decision, waivers_of(alice, signed(alice)), repo=proposal.repo,
                          paths=[f.path for f in proposal.files])
    assert after.allowed and after.deny == [] and after.verdict == "pass"
    [w] = after.waived
    assert (w.violation.rule, w.was, w.waiver["approver"], w.waiver["expires"]) == (
        "ITIL-CHG-001", "deny", "alice", FUTURE.isoformat())
    assert decision.deny  # the input decision is not changed in place


@pytest.mark.parametrize("over, trusted, why", [
    ({"expires": PAST}, True, "expired on"),
    ({}, False, "approver"),  # nobody trusts alice's key
])
def test_expired_or_untrusted_waivers_are_ignored_and_reported(itil, alice, over, trusted, why):
    proposal = make_proposal(**NO_TICKET)
    decision = itil.evaluate(proposal, make_profile())
    after = apply_waivers(decision, waivers_of(alice, signed(alice, **over), trusted=trusted), repo=proposal.repo,
                          paths=[f.path for f in proposal.files])
    assert [v.rule for v in after.deny] == ["ITIL-CHG-001"] and after.waived == []
    assert len(after.waivers_ignored) == 1 and why in after.waivers_ignored[0]


@pytest.mark.parametrize("over", [
    {"repo": "globex/*"},  # another repo
    {"rule": "ITIL-CHG-002"},  # another rule
    {"path": "services/legacy/**"},  # the change touches files outside the waived path
])
def test_a_waiver_out_of_scope_lifts_nothing(itil, alice, over):
    proposal = make_proposal(**NO_TICKET)
    decision = itil.evaluate(proposal, make_profile())
    after = apply_waivers(decision, waivers_of(alice, signed(alice, **over)), repo=proposal.repo,
                          paths=[f.path for f in proposal.files])
    assert [v.rule for v in after.deny] == ["ITIL-CHG-001"] and after.waived == [] and after.waivers_ignored == []


def test_constitution_and_engine_denials_are_never_waived(alice):
    """Even a waiver that somehow reached the active set (forged into it here) cannot lift them."""
    forged = WaiverSet(active=[Waiver(rule=r, repo="**", reason="x", approver="alice", expires=FUTURE)
                               for r in ("TS-CRED-001", "TS-POLICY-ERROR", "ACME-X-001")])
    decision = Decision(deny=[Violation("TS-CRED-001", "constitution", "critical", "static key"),
                              Violation("TS-POLICY-ERROR", "engine", "critical", "policy failed"),
                              Violation("ACME-X-001", "constitution", "high", "named like an overlay rule")])
    after = apply_waivers(decision, forged, repo="acme/shop", paths=["a"])
    assert [v.rule for v in after.deny] == ["TS-CRED-001", "TS-POLICY-ERROR", "ACME-X-001"] and after.waived == []
    # and the file loader refuses a constitution waiver before it is ever active
    entry = Waiver(rule="TS-CRED-001", repo="**", reason="x", approver="alice", expires=FUTURE)
    loaded = load_waivers(dump_waivers([entry]), trusted_keys={"alice": alice[1]})
    assert loaded.active == [] and "constitution" in loaded.rejected[0].reason


def test_approver_keys_come_from_a_directory(tmp_path, alice):
    (tmp_path / "alice.pub").write_bytes(alice[1])
    (tmp_path / "notes.txt").write_text("not a key")
    assert approver_keys(tmp_path) == {"alice": alice[1]}
    (tmp_path / "mallory.pub").write_text("not a key")
    with pytest.raises(keys.KeyFormatError):
        approver_keys(tmp_path)


# ---------------------------------------------------------------------- through the pipeline


@pytest.fixture
def platform(tmp_path: Path):
    forge = LocalForge(tmp_path / "forge")
    admin = LocalForgeAdmin(forge)
    admin.create_repo("acme/platform", files={"README.md": "# platform\n"}, owner="admin")
    admin.create_repo("acme/shop", files={".github/workflows/build.yml": GOOD_WORKFLOW}, owner="admin")
    yield forge, admin
    forge.close()


async def test_pipeline_applies_merged_waivers_renders_and_audits_them(platform, itil, alice, tmp_path):
    forge, admin = platform
    text = dump_waivers([signed(alice), signed(alice, rule="ITIL-CHG-002", expires=PAST)])
    admin.push("acme/platform", "main", {WAIVERS_PATH: text}, user="admin", message="approve waiver")
    audit = AuditLog(tmp_path / "audit.db")
    flow = pipeline.Flow(forge=forge, policy=itil, platform_repo="acme/platform", audit=audit,
                         waiver_keys={"alice": alice[1]})
    proposal = make_proposal(**NO_TICKET)
    decision = await pipeline.evaluate(flow, proposal, make_profile())
    assert decision.allowed and [w.violation.rule for w in decision.waived] == ["ITIL-CHG-001"]
    assert any("ITIL-CHG-002" in t and "expired" in t for t in decision.waivers_ignored)
    body = pipeline.render_body(flow, proposal, decision, make_profile())
    assert "lifted by signed, unexpired waivers" in body and "approved by alice" in body
    assert "| `ITIL-CHG-001` |" in body and "waived until" in body
    assert "waiver not applied: ITIL-CHG-002" in body
    [entry] = list(audit)
    assert entry.record["verdict"] == "pass"
    assert entry.record["waivers_applied"][0]["rule"] == "ITIL-CHG-001"
    assert entry.record["waivers_applied"][0]["lifted"] == "deny"
    assert "expired" in entry.record["waivers_ignored"][0]["reason"]
    assert audit.verify().ok

    # the same file, no trusted approver keys configured: nothing is lifted, and the body says why
    untrusted = pipeline.Flow(forge=forge, policy=itil, platform_repo="acme/platform")
    denied = await pipeline.evaluate(untrusted, proposal, make_profile())
    assert [v.rule for v in denied.deny] == ["ITIL-CHG-001"] and denied.waived == []
    assert len(denied.waivers_ignored) == 2


async def test_an_unreadable_waiver_file_lifts_nothing_and_says_so(platform, itil):
    forge, admin = platform
    admin.push("acme/platform", "main", {WAIVERS_PATH: "waivers: [unclosed\n"}, user="admin", message="broken")
    flow = pipeline.Flow(forge=forge, policy=itil, platform_repo="acme/platform", waiver_keys={})
    decision = await pipeline.evaluate(flow, make_proposal(**NO_TICKET), make_profile())
    assert [v.rule for v in decision.deny] == ["ITIL-CHG-001"]
    assert decision.waivers_ignored and "cannot be read" in decision.waivers_ignored[0]


def test_service_trusts_approver_keys_from_its_setting_only(tmp_path, alice):
    from bot.config import ConfigError, load_settings
    from bot.handlers import _waiver_keys

    base = {"TRUSTACKS_GITHUB_WEBHOOK_SECRET": "s" * 32, "TRUSTACKS_DATA_DIR": str(tmp_path / "data")}
    assert _waiver_keys(load_settings(env=base)) == {}
    with pytest.raises(ConfigError, match="TRUSTACKS_WAIVER_KEYS_DIR"):
        load_settings(env={**base, "TRUSTACKS_WAIVER_KEYS_DIR": str(tmp_path / "missing")})
    keys_dir = tmp_path / "approvers"
    keys_dir.mkdir()
    (keys_dir / "alice.pub").write_bytes(alice[1])
    assert _waiver_keys(load_settings(env={**base, "TRUSTACKS_WAIVER_KEYS_DIR": str(keys_dir)})) == {"alice": alice[1]}
    (keys_dir / "broken.pub").write_text("nope")
    with pytest.raises(ConfigError, match="TRUSTACKS_WAIVER_KEYS_DIR"):
        _waiver_keys(load_settings(env={**base, "TRUSTACKS_WAIVER_KEYS_DIR": str(keys_dir)}))


@pytest.mark.parametrize("raw, why", [
    (b"waivers:\n  - rule: \xff\xfe\n", "not UTF-8"),
    (b"waivers: {not: a list}\n", "'waivers' list"),
    (b"x" * (300 * 1024), "over"),
])
def test_waive_on_a_bad_file_lifts_nothing_and_says_why(itil, alice, raw, why):
    """The gate's shared step never raises on the file's content: a job would be retried for nothing."""
    from bot.policy.waivers import waive

    proposal = make_proposal(**NO_TICKET)
    decision = itil.evaluate(proposal, make_profile())
    after = waive(decision, raw, trusted_keys={"alice": alice[1]}, constitution_rules=(), repo=proposal.repo,
                  paths=[f.path for f in proposal.files])
    assert [v.rule for v in after.deny] == ["ITIL-CHG-001"] and after.waived == []
    assert len(after.waivers_ignored) == 1 and why in after.waivers_ignored[0]
