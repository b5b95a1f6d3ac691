"""Checkbox ticks on the dashboard: the slash command's own action, once, and only for people with write."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot import dashboard
from bot.handlers import make_dispatcher
from bot.handlers.dashboard_flow import on_issue_edited
from bot.handlers.events import Kind
from bot.policy import PolicyEngine

from .conftest import APP, PLATFORM, READER, WRITER, Org, dead_job, edit_payload, handler_context, tick


async def dashboard_issue(org: Org):
    result = await dashboard.ensure_dashboard(org.forge, platform_repo=PLATFORM, policy=org.engine)
    return result.issue


def profile_prs(org: Org) -> list:
    rows = org.forge.db.execute("SELECT number FROM prs WHERE repo=? AND head LIKE 'trustacks/profile/%'", (PLATFORM,))
    return [r[0] for r in rows]


async def human_ticks(org: Org, issue, action: str, *, user: str) -> dict:
    """The human edit on the forge, and the webhook payload the forge would send for it."""
    current = org.forge.get_issue(PLATFORM, issue.number)
    new = tick(current.body, action)
    old, _ = org.admin.edit_issue(PLATFORM, issue.number, new, user=user)
    return edit_payload(current, old=old, new=new, sender=user)


@pytest.fixture(scope="module")
def constitution() -> PolicyEngine:
    return PolicyEngine.load(isolate=False)


async def test_discover_tick_runs_the_real_discovery_once(org: Org, constitution: PolicyEngine):
    """A tick by a writer opens the Profile PR (real discovery of the app repo), then the box is unticked."""
    org.flow.policy = org.engine = constitution  # the packs would deny a Profile PR without a change ticket
    org.merge_profile()  # names acme/payments as a service repo: discovery reads it
    issue = await dashboard_issue(org)
    payload = await human_ticks(org, issue, "discover", user=WRITER)
    before = profile_prs(org)
    outcome = await on_issue_edited(handler_context(org, payload))
    assert outcome == "ran discover"
    after = org.forge.get_issue(PLATFORM, issue.number)
    assert dashboard.checked_actions(after.body)["discover"] is False  # re-rendered, unticked
    assert "- `discover` by `alice`:" in after.body
    actions = dashboard.State.from_body(after.body).actions
    assert [a.action for a in actions] == ["discover"]
    produced = profile_prs(org)
    assert before == [] and produced == [1]
    assert "- Open Profile PR: `acme/platform#1` Update the TruStacks Environment Profile" in after.body
    assert "- `discover` by `alice`: Opened acme/platform\\#1" in after.body
    # The same delivery again (a forge redelivery or a worker retry) finds the box unticked: nothing runs.
    assert await on_issue_edited(handler_context(org, payload)) == "ticks already handled"
    assert dashboard.State.from_body(org.forge.get_issue(PLATFORM, issue.number).body).actions == actions
    assert profile_prs(org) == produced


async def test_generate_tick_calls_the_slash_command_function(org: Org, monkeypatch):
    """The tick goes through bot.commands.dispatch.HANDLERS (the command's own function, not a copy)."""
    from bot.commands import dispatch
    from bot.commands.parser import CommandName

    calls = []

    async def fake_generate(run, command):
        calls.append((run.ctx.repo, run.ctx.author, command.name))
        return "- acme/payments#9: opened"

    monkeypatch.setitem(dispatch.HANDLERS, CommandName.GENERATE, fake_generate)
    issue = await dashboard_issue(org)
    payload = await human_ticks(org, issue, "generate", user=WRITER)
    assert await on_issue_edited(handler_context(org, payload)) == "ran generate"
    assert calls == [(PLATFORM, WRITER, CommandName.GENERATE)]
    assert "- `generate` by `alice`: acme/payments\\#9: opened" in org.forge.get_issue(PLATFORM, issue.number).body


async def test_tick_without_write_does_nothing(org: Org, monkeypatch):
    from bot.commands import dispatch
    from bot.commands.parser import CommandName

    calls = []

    async def spy(run, command):
        calls.append(command.name)
        return "ran"

    monkeypatch.setitem(dispatch.HANDLERS, CommandName.DISCOVER, spy)
    issue = await dashboard_issue(org)
    payload = await human_ticks(org, issue, "discover", user=READER)
    body_after_tick = org.forge.get_issue(PLATFORM, issue.number).body
    assert await on_issue_edited(handler_context(org, payload)) == f"ignored: {READER} lacks write access"
    assert calls == []
    assert org.forge.get_issue(PLATFORM, issue.number).body == body_after_tick  # not even re-rendered
    assert profile_prs(org) == []


async def test_bot_edits_other_issues_and_title_edits_are_ignored(org: Org):
    issue = await dashboard_issue(org)
    payload = await human_ticks(org, issue, "discover", user=WRITER)
    bot = dict(payload, sender={"login": "trustacks[bot]", "type": "Bot"})
    assert await on_issue_edited(handler_context(org, bot)) == "ignored: edited by a bot"
    title_only = dict(payload, changes={"title": {"from": "old"}})
    assert await on_issue_edited(handler_context(org, title_only)) == "ignored: body unchanged"
    other = dict(payload, issue=dict(payload["issue"], number=issue.number + 5))
    assert await on_issue_edited(handler_context(org, other)) == "ignored: not the TruStacks dashboard"
    elsewhere = dict(payload, repository={"full_name": APP, "default_branch": "main"})
    assert await on_issue_edited(handler_context(org, elsewhere)) == "ignored: not the platform repo"


async def test_retry_tick_requeues_the_org_job_and_refuses_another_tenants(org: Org, store):
    mine = await dead_job(store, APP, "d-mine")
    other = await dead_job(store, "globex/app", "d-other")
    result = await dashboard.ensure_dashboard(org.forge, platform_repo=PLATFORM, policy=org.engine, store=store)
    payload = await human_ticks(org, result.issue, f"retry:{mine}", user=WRITER)
    assert await on_issue_edited(handler_context(org, payload), store=store) == f"ran retry:{mine}"
    assert (await store.get_job(mine)).state == "queued"
    body = org.forge.get_issue(PLATFORM, result.issue.number).body
    assert f"job {mine} queued again" in body and f"retry:{mine} -->" not in body  # no longer failed: not listed
    # A writer types another org's job id into the issue: nothing happens to that job.
    current = org.forge.get_issue(PLATFORM, result.issue.number)
    forged = current.body.replace("## Actions", f"## Actions\n\n- [x] <!-- trustacks:action=retry:{other} --> x")
    org.admin.edit_issue(PLATFORM, current.number, forged, user=WRITER)
    payload = edit_payload(current, old=current.body, new=forged, sender=WRITER)
    assert await on_issue_edited(handler_context(org, payload), store=store) == f"ran retry:{other}"
    assert (await store.get_job(other)).state == "dead"
    assert f"job {other} is not a failed or dead job of this org" in org.forge.get_issue(PLATFORM, current.number).body


async def test_routed_from_a_github_webhook_through_the_dispatcher(org: Org, monkeypatch):
    from bot.commands import dispatch
    from bot.commands.parser import CommandName

    calls = []

    async def spy(run, command):
        calls.append(command.name)
        return "done"

    monkeypatch.setitem(dispatch.HANDLERS, CommandName.DISCOVER, spy)
    issue = await dashboard_issue(org)
    payload = await human_ticks(org, issue, "discover", user=WRITER)

    async def forge_for(event):
        assert event.kind is Kind.ISSUE_EDITED
        return org.forge

    outcomes: list = []
    dispatcher = make_dispatcher(forge_for=forge_for, policy=org.engine, platform_repo=PLATFORM, outcomes=outcomes)
    job = SimpleNamespace(forge="github", event="issues", payload=payload, delivery_id="gh-1")
    await dispatcher(job)
    await dispatcher(SimpleNamespace(forge="github", event="issues", payload=payload, delivery_id="gh-2"))
    assert outcomes == [("gh-1", "ran discover"), ("gh-2", "ticks already handled")]
    assert calls == [CommandName.DISCOVER]
