"""The waiver entry `/trustacks waive` proposes: appended read-and-preserve, never effective unsigned."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.waiver import WaiverRequest, add_waiver, safe_text, waiver_branch, waiver_proposal
from bot.forges.base import check_ref_name
from bot.policy import keys
from bot.policy.waivers import Waiver, load_waivers, read_entries, sign_waiver, waiver_from_entry

REQ = WaiverRequest(rule="SOC2-CC6.1-IMAGE-SCAN", repo="acme/app", until=date(2027, 1, 31),
                    reason="base image CVE without upstream fix, SEC-42", requested_by="alice",
                    requested_in="acme/app#7")


def test_a_new_file_holds_one_unsigned_entry_that_does_not_apply():
    edit = add_waiver(None, REQ)
    assert edit.problem == "" and edit.content is not None
    [(_, entry)] = read_entries(edit.content)
    assert entry["rule"] == REQ.rule and entry["scope"]["repo"] == "acme/app" and entry["scope"]["path"] == "**"
    assert entry["expires"] == "2027-01-31" and entry["approver"] == ""
    loaded = load_waivers(edit.content, trusted_keys={}, today=date(2026, 12, 1))
    assert loaded.active == [] and loaded.rejected  # unsigned: ignored and reported


def test_once_an_approver_signs_it_the_entry_applies():
    """The proposed entry is the real format: filling in approver + signature makes it valid."""
    private, public = keys.generate_keypair()
    [(_, entry)] = read_entries(add_waiver(None, REQ).content)
    entry["approver"] = "bob"
    signed = sign_waiver(waiver_from_entry(entry), private_key_pem=private)
    loaded = load_waivers(_dump(signed), trusted_keys={"bob": public}, today=date(2026, 12, 1))
    assert [w.rule for w in loaded.active] == [REQ.rule]


def _dump(waiver: Waiver) -> str:
    from bot.policy.waivers import dump_waivers

    return dump_waivers([waiver])


@pytest.mark.parametrize("existing,indent", [
    ("waivers:\n- rule: PCI-6.4-A\n  scope: {repo: acme/x}\n  reason: r\n  approver: bob\n  expires: 2027-01-01\n", 0),
    ("# header\nversion: 1\nwaivers:\n  - rule: PCI-6.4-A  # note\n    scope:\n      repo: acme/x\n    reason: r\n"
     "    approver: bob\n    expires: 2027-01-01\n# trailing comment\n", 2),
    ("waivers:\r\n    - rule: PCI-6.4-A\r\n      scope: {repo: acme/x}\r\n      reason: r\r\n      approver: bob\r\n"
     "      expires: 2027-01-01", 4),
])
def test_appending_keeps_every_existing_byte(existing, indent):
    edit = add_waiver(existing, REQ)
    assert edit.problem == ""
    assert edit.content.startswith(existing)
    newline = "\r\n" if "\r\n" in existing else "\n"
    assert f"{newline}{' ' * indent}- rule: {REQ.rule}{newline}" in edit.content
    assert edit.content.count("\n") == edit.content.count(newline)  # no mixed line endings
    assert [e["rule"] for _, e in read_entries(edit.content)] == ["PCI-6.4-A", REQ.rule]


def test_a_comment_only_file_gets_the_list_after_its_comments():
    edit = add_waiver("# waivers go here\n", REQ)
    assert edit.content.startswith("# waivers go here\nwaivers:\n")


@pytest.mark.parametrize("existing", [
    "waivers: []\n",
    "waivers: [{rule: PCI-6.4-A, scope: {repo: a/b}}]\n",
    "waivers:\n- rule: PCI-6.4-A\n  scope: {repo: a/b}\nnotes: after the list\n",
    "waivers: {}\n",
    "- just a list\n",
])
def test_layouts_that_cannot_be_appended_are_left_for_a_human(existing):
    edit = add_waiver(existing, REQ)
    assert edit.content is None
    assert edit.problem.startswith("`.trustacks/waivers.yaml`")
    assert f"- rule: {REQ.rule}" in edit.entry


def test_an_existing_entry_for_the_same_rule_and_repo_is_not_duplicated():
    existing = add_waiver(None, REQ).content
    edit = add_waiver(existing, REQ)
    assert edit.problem == "exists" and edit.existing_expiry == "2027-01-31" and edit.content is None
    other_repo = WaiverRequest(**{**REQ.__dict__, "repo": "acme/other"})
    assert add_waiver(existing, other_repo).problem == ""


def test_the_proposal_targets_a_guarded_bot_branch_and_escapes_the_reason():
    req = WaiverRequest(**{**REQ.__dict__, "reason": "ping @org/security <script>x</script> ```"})
    proposal = waiver_proposal(req, platform_repo="acme/platform", base_branch="main", old=None,
                               content=add_waiver(None, req).content)
    assert check_ref_name(proposal.head_branch) == "trustacks/waiver/soc2-cc6.1-image-scan--acme-app"
    assert proposal.kind.value == "waiver" and proposal.blast_radius and proposal.rollback
    assert "<script>" not in proposal.details and "```" not in proposal.details
    assert "@\u200borg/security" in proposal.details
    assert safe_text("a&b") == "a&amp;b"
    assert waiver_branch("PCI-6.4", "Acme/App") == "trustacks/waiver/pci-6.4--acme-app"


_REASONS = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069\u2028\u2029\x85"),
    min_size=10, max_size=200,
).map(lambda s: " ".join(s.split())).filter(lambda s: len(s) >= 10)


@settings(max_examples=60, deadline=None)
@given(_REASONS)
def test_any_reason_the_parser_accepts_survives_the_file_verbatim(reason):
    req = WaiverRequest(**{**REQ.__dict__, "reason": reason})
    first = add_waiver(None, req)
    [(_, entry)] = read_entries(first.content)
    assert entry["reason"] == reason
    second = add_waiver(first.content, WaiverRequest(**{**req.__dict__, "repo": "acme/other"}))
    assert second.content.startswith(first.content)
    assert [e["reason"] for _, e in read_entries(second.content)] == [reason, reason]
