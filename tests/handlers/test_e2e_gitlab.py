"""End to end on loopback for GitLab: push -> Profile MR with evidence; its merge -> generation MRs with
citations and a passing commit status; a note with a slash command; a redelivered hook does nothing new."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.demo import DEMO_DECLARED, read_app_files
from bot.handlers import make_dispatcher
from bot.handlers.forge_factory import ForgeFactory
from bot.policy import PolicyEngine
from bot.profile import Profile
from bot.store import open_store
from bot.web import create_app
from bot.worker import WorkerPool
from tests.fakes import FakeGitLab

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "fixtures" / "webhooks" / "gitlab"
TOKEN = "e2e-gitlab-webhook-token"
APP = "acme/payments-fastapi"
PLATFORM = "acme/platform"


def fixture(name):
    d = HOOKS / name
    return json.loads((d / "headers.json").read_text()), json.loads((d / "body.json").read_text())


@pytest.fixture
async def world(tmp_path, aiohttp_client):
    async with FakeGitLab() as gl:
        api_token = gl.add_token()
        gl.add_project(APP, files=read_app_files(ROOT / "fixtures" / "apps" / "payments-fastapi"),
                       members={"rui": 40})
        gl.add_project(PLATFORM, files={"README.md": "# Platform\n"}, members={"rui": 40})
        settings = load_settings(env={
            "TRUSTACKS_GITLAB_WEBHOOK_TOKEN": TOKEN, "TRUSTACKS_GITLAB_API_TOKEN": api_token,
            "TRUSTACKS_DATA_DIR": str(tmp_path / "data"), "TRUSTACKS_PLATFORM_REPO": PLATFORM,
        })
        store = open_store(settings.database_url)
        await store.open()
        outcomes: list = []
        factory = ForgeFactory(settings, gitlab_url=gl.url)
        policy = PolicyEngine.load(packs=("soc2",))
        dispatcher = make_dispatcher(forge_for=factory, policy=policy, platform_repo=PLATFORM, outcomes=outcomes)
        pool = WorkerPool(store, dispatcher, concurrency=1, poll_seconds=0.05, backoff_base_seconds=0.1)
        client = await aiohttp_client(create_app(settings, store, on_enqueued=pool.notify))
        await pool.start()
        try:
            yield gl, client, store, pool, outcomes
        finally:
            await pool.stop(grace=5)
            await factory.close()
            policy.close()
            await store.close()


async def post(client, event, body, key):
    return (await client.post("/webhooks/gitlab", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "X-Gitlab-Event": event, "X-Gitlab-Token": TOKEN,
        "Idempotency-Key": key, "X-Gitlab-Event-UUID": key})).status


async def drain(store, pool, timeout=90.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        jobs = await store.list_jobs()
        if jobs and all(j.state in ("done", "dead", "failed") for j in jobs) and not pool._running:
            return jobs
        await asyncio.sleep(0.05)
    raise AssertionError("jobs did not finish")


def bot_mrs(gl, path, prefix):
    return [m for m in gl.project(path).mrs.values() if m["source_branch"].startswith(prefix)]


async def test_push_to_profile_mr_to_generation_mrs(world):
    gl, client, store, pool, outcomes = world
    _, push = fixture("push.default_branch")
    assert await post(client, "Push Hook", push, "push-1") == 202
    jobs = await drain(store, pool)
    assert all(j.state == "done" for j in jobs), [(j.state, j.last_error) for j in jobs]
    profile_mrs = bot_mrs(gl, PLATFORM, "trustacks/profile/")
    assert len(profile_mrs) == 1, outcomes
    mr = profile_mrs[0]
    assert "acme/payments-fastapi:.github/workflows/ci.yml:" in mr["description"]

    assert await post(client, "Push Hook", push, "push-1") == 200  # redelivery: acknowledged, not worked
    await drain(store, pool)
    assert len(bot_mrs(gl, PLATFORM, "trustacks/profile/")) == 1

    # a human declares what discovery cannot see, merges, and GitLab sends the merge hook
    text = gl.project(PLATFORM).files(mr["source_branch"])[".trustacks/profile.yaml"]
    profile = Profile.loads(text)
    for category, entries in DEMO_DECLARED.items():
        if not profile.tools(category):
            profile.set_tools(category, entries)
    gl.push(PLATFORM, mr["source_branch"], {".trustacks/profile.yaml": profile.dumps()},
            author=("Rui Costa", "rui@acme.io"))
    gl.merge_mr(PLATFORM, mr["iid"], by="rui")
    _, merged = fixture("merge_request.merge")
    merged = copy.deepcopy(merged)
    merged["object_attributes"].update({"iid": mr["iid"], "source_branch": mr["source_branch"],
                                        "target_branch": "main", "description": mr["description"],
                                        "action": "merge", "state": "merged"})
    assert await post(client, "Merge Request Hook", merged, "merge-1") == 202
    jobs = await drain(store, pool)
    assert all(j.state == "done" for j in jobs), [(j.event, j.state, j.last_error) for j in jobs]

    gen = bot_mrs(gl, APP, "trustacks/generate/") + bot_mrs(gl, PLATFORM, "trustacks/generate/")
    assert len(gen) == 2, outcomes
    for m in gen:
        assert "TS-" in m["description"] and "Rollback" in m["description"]
    # the verdict as a commit status on each generation MR head
    for path in (APP, PLATFORM):
        m = bot_mrs(gl, path, "trustacks/generate/")[0]
        head = gl.project(path).branches[m["source_branch"]]
        statuses = [s for s in gl.project(path).statuses if s["sha"] == head]
        assert statuses and statuses[-1]["status"] == "success"

    # a slash command in a note on the generation MR, from a Developer+
    _, note = fixture("note.merge_request")
    note = copy.deepcopy(note)
    gen_app = bot_mrs(gl, APP, "trustacks/generate/")[0]
    note["project"]["path_with_namespace"] = APP
    note["merge_request"].update({"iid": gen_app["iid"], "source_branch": gen_app["source_branch"]})
    note["merge_request"].get("source", {}).update({"path_with_namespace": APP})
    note["object_attributes"].update({"note": "/trustacks help", "id": 999001})
    note["user"]["username"] = "rui"
    assert await post(client, "Note Hook", note, "note-1") == 202
    jobs = await drain(store, pool)
    assert all(j.state == "done" for j in jobs), [(j.event, j.state, j.last_error) for j in jobs]
    assert any(d == "note-1" and "1 reply" in o for d, o in outcomes), outcomes
    assert gl.errors == []
