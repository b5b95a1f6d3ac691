"""Dry run is one organisation's choice, even when several organisations share one forge client.

The service keeps one GitLab client for every group (and one GitHub client per installation) and runs
several jobs at once (TRUSTACKS_WORKERS, 4 by default). A group whose org config says `mode: dry-run`
must get no writes while another group's live job runs beside it on the same client, and the live group
must get its writes. Two pushes delivered concurrently to the real dispatcher, on the fake GitLab API.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bot.config import load_settings
from bot.handlers import make_dispatcher
from bot.handlers.forge_factory import ForgeFactory
from tests.fakes import FakeGitLab
from tests.hardening import payloads

from ._wiring import CONFIG_PATH, app_files

DRY, LIVE = "dry", "live"


def gitlab_push(path: str, after: str) -> dict:
    b = payloads.body("push.default_branch", "gitlab")
    b["project"] = {**b["project"], "path_with_namespace": path, "name": path.split("/")[1], "default_branch": "main"}
    b.update(ref="refs/heads/main", after=after, checkout_sha=after)
    return b


async def test_concurrent_jobs_of_a_dry_run_group_and_a_live_group_on_one_client(policy, tmp_path):
    async with FakeGitLab() as gl:
        token = gl.add_token()
        for group in (DRY, LIVE):
            gl.add_project(f"{group}/app", files=app_files("payments-fastapi"))
            gl.add_project(f"{group}/platform", files={"README.md": "# Platform\n", **(
                {CONFIG_PATH: "mode: dry-run\n"} if group == DRY else {})})
        settings = load_settings(env={"TRUSTACKS_GITLAB_WEBHOOK_TOKEN": "gitlab-hook-token",
                                      "TRUSTACKS_GITLAB_API_TOKEN": token, "TRUSTACKS_DATA_DIR": str(tmp_path)})
        factory = ForgeFactory(settings, gitlab_url=gl.url)
        outcomes: list = []
        dispatch = make_dispatcher(forge_for=factory, policy=policy, platform_repo="platform", outcomes=outcomes)
        try:
            for round_ in range(3):  # the jobs interleave at every forge call; a few rounds, in both orders
                groups = (DRY, LIVE) if round_ % 2 == 0 else (LIVE, DRY)
                jobs = [SimpleNamespace(id=i, forge="gitlab", event="Push Hook", delivery_id=f"{g}-{round_}",
                                        payload=gitlab_push(f"{g}/app", gl.project(f"{g}/app").branches["main"]),
                                        attempts=1) for i, g in enumerate(groups)]
                await asyncio.gather(*(dispatch(job) for job in jobs))
        finally:
            await factory.close()
        dry_writes = [(m, p) for m, p, _ in gl.writes if f"/{DRY}%2F" in p or f"/{DRY}/" in p]
        assert [w for w in dry_writes if "/statuses/" not in w[1]] == [], dry_writes
        assert len(gl.project(f"{LIVE}/platform").mrs) == 1, outcomes
        assert gl.project(f"{DRY}/platform").mrs == {}
