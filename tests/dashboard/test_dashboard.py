"""The dashboard issue: one copy, found by its marker, updated in place, showing what needs a human."""

from __future__ import annotations

import pytest

from bot import dashboard
from bot.dashboard import END, MARKER, START, State, checked_actions, ensure_dashboard, new_ticks
from bot.forges.local import LocalForge
from bot.models import Decision, ProposalKind

from .conftest import APP, PLATFORM, WRITER, Org, complete_profile, dead_job, violation


async def ensure(org: Org, **kw):
    return await ensure_dashboard(org.forge, platform_repo=PLATFORM, policy=org.engine, **kw)


async def test_created_once_then_updated_in_place_and_unchanged_writes_nothing(org: Org):
    org.merge_profile()
    first = await ensure(org)
    assert first.action == "created" and first.issue.title == dashboard.TITLE
    assert (await ensure(org)).action == "unchanged"
    await org.open(APP, title="TruStacks: docker for payments")
    second = await ensure(org)
    assert second.action == "updated" and second.issue.number == first.issue.number
    assert "acme/payments#1" in second.body
    assert len(org.issues()) == 1
    updated_at = org.forge.db.execute("SELECT updated_at FROM issues").fetchone()[0]
    assert (await ensure(org)).action == "unchanged"
    assert org.forge.db.execute("SELECT updated_at FROM issues").fetchone()[0] == updated_at


async def test_database_loss_finds_the_same_issue_by_its_marker(org: Org, tmp_path, store):
    """The dashboard keeps no row anywhere: a new store and a new forge client still find it."""
    org.merge_profile()
    created = await ensure(org, store=store)
    forge = LocalForge(tmp_path / "forge")  # a fresh client with nothing cached, and no store at all
    try:
        result = await ensure_dashboard(forge, platform_repo=PLATFORM, policy=org.engine, store=None)
        assert result.action == "unchanged" and result.issue.number == created.issue.number
        await org.open(APP, title="TruStacks: ci for payments")
        result = await ensure_dashboard(forge, platform_repo=PLATFORM, policy=org.engine)
        assert result.action == "updated" and result.issue.number == created.issue.number
        assert "acme/payments#1" in result.body
        rows = forge.db.execute("SELECT COUNT(*) FROM issues WHERE repo=?", (PLATFORM,)).fetchone()[0]
        assert rows == 1
    finally:
        forge.close()


async def test_human_text_outside_the_markers_is_kept(org: Org):
    org.merge_profile()
    created = await ensure(org)
    body = "Team notes: ping @ops before merging.\n\n" + created.body + "\nFooter by a human.\n"
    org.admin.edit_issue(PLATFORM, created.issue.number, body, user=WRITER)
    await org.open(APP, title="TruStacks: helm for payments")
    updated = await ensure(org)
    assert updated.body.startswith("Team notes: ping @ops before merging.\n\n" + START)
    assert updated.body.endswith(END + "\n\nFooter by a human.\n")
    assert "acme/payments#1" in updated.body


async def test_issue_copied_by_a_human_is_not_the_dashboard(org: Org):
    """Only the bot's own issue counts: a human issue quoting the marker is neither found nor edited."""
    org.forge.db.execute("INSERT INTO issues VALUES (?,?,?,?,?,?,?,?)",
                         (PLATFORM, 7, "copy", MARKER + "\n- [ ] x", "mallory", "open", 0, 0))
    result = await ensure(org)
    assert result.action == "created" and result.issue.number != 7
    assert org.forge.get_issue(PLATFORM, 7).body == MARKER + "\n- [ ] x"


async def test_dry_run_writes_no_issue(tmp_path, engine):
    org = Org(tmp_path, engine, dry_run=True)
    try:
        result = await ensure(org)
        assert result.action == "created" and result.issue.number == 0
        assert org.issues() == []
        assert org.forge.suppressed == [("create_issue", PLATFORM, dashboard.TITLE)]
    finally:
        org.forge.close()


async def test_denied_proposal_appears_with_its_rules_and_stays_until_it_gets_a_pr(org: Org):
    org.merge_profile()
    decision = Decision(deny=[violation("TS-CRED-001", "static AWS key in CI"), violation("SOC2-CC6.1-001", layer="packs")])
    denied = await org.open(APP, title="TruStacks: ci for payments", decision=decision)
    assert denied.action == "denied"
    body = (await ensure(org, outcomes=[denied])).body
    section = body.split("## Denied by policy", 1)[1].split("##", 1)[0]
    assert "`acme/payments` generate: TruStacks: ci for payments: `TS-CRED-001`, `SOC2-CC6.1-001`" in section
    # a later event without outcomes still shows it: the issue remembers
    later = await ensure(org)
    assert later.action == "unchanged" and "TS-CRED-001" in later.body and "TS-CRED-001" in org.issues()[0].body
    opened = await org.open(APP, title="TruStacks: ci for payments")
    assert opened.action == "opened"
    body = (await ensure(org, outcomes=[opened])).body
    assert "## Denied by policy" not in body and "TS-CRED-001" not in body


async def test_held_back_and_edited_prs_appear(org: Org):
    org.merge_profile()
    first = await org.open(APP, title="TruStacks: docker for payments")
    # a human pushes to the bot branch; the next run stops updating it and says so on the PR
    org.admin.push(APP, first.change_request.head, {"Dockerfile": "FROM python:3.13-slim\n"}, user=WRITER)
    again = await org.open(APP, title="TruStacks: docker for payments", content="FROM python:3.12-slim\nUSER 1\n")
    assert again.action == "edited"
    held_proposal = again.proposal
    held_proposal.kind = ProposalKind.PROFILE
    held_proposal.repo = PLATFORM
    held_proposal.title = "Update the TruStacks Environment Profile"
    from bot.pipeline import Outcome

    held = Outcome(held_proposal, Decision(), "held", notes=["noise limit: 5 open TruStacks PRs"])
    body = (await ensure(org, outcomes=[held])).body
    edited = body.split("## Edited branches (no longer updated)", 1)[1].split("##", 1)[0]
    assert "`acme/payments#1`" in edited and "`trustacks/generate/acme-payments`" in edited
    held_section = body.split("## Held back", 1)[1].split("##", 1)[0]
    assert "`acme/platform` profile: Update the TruStacks Environment Profile (noise limit: 5 open TruStacks PRs)" \
        in held_section


async def test_open_proposals_show_the_verdict_read_from_the_pr_body(org: Org):
    org.merge_profile()
    await org.open(APP, title="TruStacks: ci for payments",
                   decision=Decision(warn=[violation("TS-SUPPLY-001", "no SBOM step", severity="medium")]))
    body = (await ensure(org)).body
    row = next(line for line in body.splitlines() if "acme/payments#1" in line)
    assert "| generate | **warn** | `TS-SUPPLY-001` |" in row


async def test_profile_pr_and_opt_out(org: Org):
    profile_pr = await org.open(PLATFORM, title="Create the TruStacks Environment Profile", kind=ProposalKind.PROFILE,
                                path=".trustacks/profile.yaml", content=complete_profile().dumps())
    body = (await ensure(org)).body
    assert "- Open Profile PR: `acme/platform#1`" in body and "verdict: **pass**" in body
    org.admin.close(PLATFORM, profile_pr.change_request.number, user=WRITER)
    body = (await ensure(org)).body
    assert "- Opted out: Profile PR `acme/platform#1` was closed without merging" in body
    assert "Open Profile PR" not in body


async def test_failed_jobs_of_this_org_only(org: Org, store):
    mine = await dead_job(store, APP, "d-mine", error="forge answered 502\nTraceback ...")
    other = await dead_job(store, "globex/secret-repo", "d-other")
    body = (await ensure(org, store=store)).body
    section = body.split("## Failed jobs", 1)[1].split("##", 1)[0]
    assert f"<!-- trustacks:action=retry:{mine} --> Retry job {mine}: `pull_request` on `acme/payments`, dead" in section
    assert "forge answered 502" in section and "Traceback" not in section
    assert f"retry:{other}" not in body and "globex" not in body


async def test_nothing_to_show_is_one_line(org: Org):
    org.merge_profile(complete_profile())
    body = (await ensure(org)).body
    assert "Nothing to show: no open proposals, nothing denied or held back, no failed jobs and no gaps." in body
    for heading in ("## Open proposals", "## Denied by policy", "## Held back", "## Failed jobs", "## Top gaps"):
        assert heading not in body
    assert set(checked_actions(body)) == {"discover", "generate"}


async def test_top_gaps_come_from_the_gap_report(org: Org):
    org.merge_profile(complete_profile(observability=False))
    body = (await ensure(org)).body
    gaps = body.split("## Top gaps", 1)[1].split("##", 1)[0]
    assert "`SOC2-CC7.2-001` (observability, medium)" in gaps and "`PCI-10.2-001` (observability, high)" in gaps


async def test_untrusted_titles_cannot_inject_markup_mentions_or_checkboxes(org: Org):
    org.merge_profile()
    title = "x <script>alert(1)</script> @alice ]( http://evil ) | --> <!-- trustacks:action=retry:1 --> `"
    await org.open(APP, title=title)
    body = (await ensure(org)).body
    assert "<script>" not in body and "@alice" not in body and "-->  <!--" not in body
    row = next(line for line in body.splitlines() if "acme/payments#1" in line)
    assert row.count("|") - row.count("\\|") == 5  # 4 columns: the title's pipe cannot add one
    assert set(checked_actions(body)) == {"discover", "generate"}
    assert State.from_body(body).pending == {}


def test_new_ticks_compares_before_and_after():
    region = (f"{START}\n- [ ] <!-- trustacks:action=discover --> a\n- [x] <!-- trustacks:action=generate --> b\n"
              f"- [ ] <!-- trustacks:action=retry:12 --> c\n{END}\n")
    after = region.replace("[ ] <!-- trustacks:action=discover", "[x] <!-- trustacks:action=discover")
    after = after.replace("[ ] <!-- trustacks:action=retry:12", "[X] <!-- trustacks:action=retry:12")
    assert new_ticks(region, after) == ["discover", "retry:12"]
    assert new_ticks(after, after) == []  # an unrelated edit with boxes already ticked runs nothing
    assert new_ticks(region, "- [x] <!-- trustacks:action=discover --> outside the markers") == []


@pytest.mark.parametrize("action,expected", [("discover", ("discover", None)), ("retry:42", ("retry", 42))])
def test_parse_action(action, expected):
    assert dashboard.parse_action(action) == expected


@pytest.mark.parametrize("bad", ["retry", "discover:1", "rm:1", "generate:"])
def test_parse_action_refuses_unknown(bad):
    with pytest.raises(ValueError):
        dashboard.parse_action(bad)


def test_state_block_survives_hostile_text():
    state = State()
    from bot.dashboard import Pending

    state.pending["generate a/b"] = Pending("generate a/b", "denied", "t --> <!-- x", ("TS-CRED-001", "bad id `x`"))
    block = dashboard.STATE_OPEN + state.to_json() + dashboard.STATE_CLOSE
    assert block.count("-->") == 1 and "<!-- x" not in block
    back = State.from_body(f"{START}\n{block}\n{END}")
    assert back.pending["generate a/b"].title == "t --> <!-- x"
    assert back.pending["generate a/b"].rules == ("TS-CRED-001",)  # not a rule id: dropped


async def test_held_back_queue_of_the_noise_limiter_appears(org: Org):
    from bot.limits import MemoryKV, NoiseLimiter

    limiter = NoiseLimiter(MemoryKV(), scope="acme")
    await limiter.hold("generate acme/payments@abc", APP, "TruStacks: helm for payments",
                       reason="5 new PRs this hour (max_new_prs_per_hour)")
    org.merge_profile()
    body = (await ensure(org, limiter=limiter)).body
    held = body.split("## Held back", 1)[1].split("##", 1)[0]
    assert "- `acme/payments`: TruStacks: helm for payments (5 new PRs this hour \\(max\\_new\\_prs\\_per\\_hour\\))" in held
    await limiter.unhold("generate acme/payments@abc")
    assert "## Held back" not in (await ensure(org, limiter=limiter)).body
