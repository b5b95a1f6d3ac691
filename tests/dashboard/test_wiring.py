"""Wiring: events carry the previous body, the route is registered, every action is handled, refresh never fails."""

from __future__ import annotations

from bot import dashboard
from bot.handlers.dashboard_flow import on_issue_edited, refresh_dashboard
from bot.handlers.events import Kind, normalize
from bot.handlers.flows import ROUTES

from .conftest import PLATFORM, Org, handler_context


def test_issue_edited_route_is_registered():
    assert ROUTES[Kind.ISSUE_EDITED] is on_issue_edited


def test_github_and_gitlab_edits_carry_the_previous_body():
    gh = normalize("github", "issues", {
        "action": "edited", "changes": {"body": {"from": "old"}}, "issue": {"number": 3, "body": "new"},
        "repository": {"full_name": PLATFORM}, "sender": {"login": "alice", "type": "User"}})
    assert (gh.kind, gh.number, gh.previous_body, gh.pr_body, gh.actor) == (Kind.ISSUE_EDITED, 3, "old", "new", "alice")
    title_only = normalize("github", "issues", {
        "action": "edited", "changes": {"title": {"from": "t"}}, "issue": {"number": 3, "body": "new"},
        "repository": {"full_name": PLATFORM}, "sender": {"login": "alice"}})
    assert title_only.previous_body is None
    gl = normalize("gitlab", "Issue Hook", {
        "object_kind": "issue", "user": {"username": "dev", "bot": False},
        "project": {"path_with_namespace": PLATFORM},
        "object_attributes": {"iid": 4, "action": "update", "description": "new"},
        "changes": {"description": {"previous": "old", "current": "new"}}})
    assert (gl.kind, gl.forge, gl.number, gl.previous_body, gl.pr_body) == (Kind.ISSUE_EDITED, "gitlab", 4, "old", "new")


def test_every_action_is_offered_on_the_dashboard_and_parses():
    data = dashboard.DashboardData(platform_repo=PLATFORM, profile_status="ok",
                                   jobs=[dashboard.JobRow(7, "push", "dead", 5, "acme/x", "boom")])
    body = dashboard.render(data, dashboard.State())
    offered = {dashboard.parse_action(a)[0] for a in dashboard.checked_actions(body)}
    assert offered == set(dashboard.ACTIONS)


async def test_refresh_never_fails_the_job(org: Org):
    payload = {"action": "edited", "issue": {"number": 1, "body": ""}, "repository": {"full_name": PLATFORM},
               "sender": {"login": "alice"}}
    ctx = handler_context(org, payload)
    assert await refresh_dashboard(ctx) == "dashboard created"
    assert await refresh_dashboard(ctx) == "dashboard unchanged"

    async def broken(*a, **k):
        raise RuntimeError("forge down")

    org.forge.find_issues = broken
    assert await refresh_dashboard(ctx) == "dashboard not refreshed: RuntimeError"


async def test_the_dispatcher_hands_the_dashboard_its_job_store(org: Org, store):
    """Through the real dispatcher: a push refreshes the dashboard with this org's failed jobs (not another
    tenant's), and ticking retry on it puts the job back in the queue."""
    from types import SimpleNamespace

    from bot.handlers import make_dispatcher

    from .conftest import APP, WRITER, dead_job, edit_payload, tick

    org.merge_profile()
    mine = await dead_job(store, APP, "d-mine")
    other = await dead_job(store, "globex/app", "d-other")

    async def forge_for(event):
        return org.forge

    outcomes: list[tuple[str, str]] = []
    dispatch = make_dispatcher(forge_for=forge_for, policy=org.engine, platform_repo=PLATFORM, store=store,
                               outcomes=outcomes)
    push = {"ref": "refs/heads/main", "after": await org.forge.branch_sha(APP, "main"),
            "repository": {"full_name": APP, "default_branch": "main"}, "sender": {"login": WRITER},
            "installation": {"id": 1}}
    await dispatch(SimpleNamespace(forge="github", event="push", payload=push, delivery_id="p-1"))
    assert "dashboard created" in outcomes[-1][1], outcomes
    [issue] = org.issues()
    assert f"retry:{mine} -->" in issue.body and f"retry:{other} -->" not in issue.body

    ticked = tick(issue.body, f"retry:{mine}")
    org.admin.edit_issue(PLATFORM, issue.number, ticked, user=WRITER)
    payload = edit_payload(issue, old=issue.body, new=ticked, sender=WRITER)
    await dispatch(SimpleNamespace(forge="github", event="issues", payload=payload, delivery_id="e-1"))
    assert outcomes[-1][1] == f"ran retry:{mine}", outcomes
    assert (await store.get_job(mine)).state == "queued" and (await store.get_job(other)).state == "dead"
