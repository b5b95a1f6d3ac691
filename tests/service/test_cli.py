"""`trustacks serve` fails fast on bad configuration; `trustacks jobs` lists, shows and retries jobs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import COMMANDS, SHORT_HELP, cli
from bot.store import Delivery, open_store

from .conftest import CANARY


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> dict[str, str]:
    import os

    for key in [k for k in os.environ if k.startswith("TRUSTACKS_")]:
        monkeypatch.delenv(key)
    return {"TRUSTACKS_DATA_DIR": str(tmp_path / "data")}


def seed(env: dict[str, str]) -> None:
    """Three jobs: 1 done, 2 dead (with an error), 3 queued."""

    async def go():
        store = open_store(f"sqlite:///{Path(env['TRUSTACKS_DATA_DIR']) / 'trustacks.db'}", max_attempts=1)
        for i in (1, 2, 3):
            await store.enqueue(Delivery("github", f"guid-{i}", "pull_request", b'{"x": 1}', {"user-agent": "GitHub-Hookshot/1"}))
        done, dead = await store.lease("w", 2)
        await store.complete(done)
        await store.dead(dead, "ForgeError: 404 Not Found\nTraceback (most recent call last): ...")
        await store.close()

    asyncio.run(go())


def test_commands_are_registered():
    assert COMMANDS["serve"] == "bot.serve_cli:serve_command"
    assert COMMANDS["jobs"] == "bot.serve_cli:jobs_command"
    assert "serve" in SHORT_HELP and "jobs" in SHORT_HELP


def test_serve_refuses_to_start_without_a_secret(env):
    result = run(["serve", "--port", "0"], env)
    assert result.exit_code == 1
    assert "refusing to start without a webhook secret" in result.output
    assert "docs/configuration.md" in result.output


def test_serve_refuses_an_unreadable_key_file(env, tmp_path):
    env.update({"TRUSTACKS_GITHUB_WEBHOOK_SECRET": CANARY, "TRUSTACKS_GITHUB_APP_ID": "5",
                "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE": str(tmp_path / "nope.pem")})
    result = run(["serve"], env)
    assert result.exit_code == 1 and "TRUSTACKS_GITHUB_PRIVATE_KEY_FILE" in result.output
    assert CANARY not in result.output


def test_serve_passes_overrides_and_the_dispatcher_to_the_service(env, monkeypatch):
    seen = {}

    def fake_build(settings):
        async def dispatch(job):
            return None

        dispatch.ready_checks = {"policy": lambda: True}  # type: ignore[attr-defined]
        seen["built_with"] = settings
        return dispatch

    async def fake_run(settings, dispatcher, *, ready_checks=None, **kw):
        seen["settings"], seen["checks"] = settings, ready_checks

    monkeypatch.setattr("bot.handlers.build_dispatcher", fake_build)
    monkeypatch.setattr("bot.serve_cli.run_service", fake_run)
    monkeypatch.setattr("bot.serve_cli.configure_logging", lambda *a, **k: None)
    env["TRUSTACKS_GITHUB_WEBHOOK_SECRET"] = CANARY
    result = run(["serve", "--host", "0.0.0.0", "--port", "9999"], env)
    assert result.exit_code == 0, result.output
    assert (seen["settings"].host, seen["settings"].port) == ("0.0.0.0", 9999)
    assert seen["built_with"].github_webhook_secret.reveal() == CANARY
    assert set(seen["checks"]) == {"policy"}


def test_serve_reads_a_config_file(env, tmp_path, monkeypatch):
    cfg = tmp_path / "t.toml"
    cfg.write_text('workers = 3\n')
    seen = {}

    async def fake_run(settings, dispatcher, **kw):
        seen["settings"] = settings

    monkeypatch.setattr("bot.handlers.build_dispatcher", lambda s: None)
    monkeypatch.setattr("bot.serve_cli.run_service", fake_run)
    monkeypatch.setattr("bot.serve_cli.configure_logging", lambda *a, **k: None)
    env["TRUSTACKS_GITLAB_WEBHOOK_TOKEN"] = "t"
    assert run(["serve", "--config", str(cfg)], env).exit_code == 0
    assert seen["settings"].workers == 3 and seen["settings"].host == "127.0.0.1"


def test_jobs_lists_filters_and_emits_json(env):
    seed(env)
    table = run(["jobs"], env)
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATE", "TRY"]
    assert [l.split()[0] for l in lines[1:]] == ["3", "2", "1"]
    dead = run(["jobs", "--state", "dead"], env)
    assert "guid-2" in dead.output and "ForgeError: 404 Not Found" in dead.output
    assert "guid-1" not in dead.output and "Traceback" not in dead.output
    rows = [json.loads(l) for l in run(["jobs", "--json", "--state", "queued"], env).output.splitlines()]
    assert [(r["id"], r["state"]) for r in rows] == [(3, "queued")]
    assert run(["jobs", "--state", "bogus"], env).exit_code == 2
    assert "no failed jobs" in run(["jobs", "--state", "failed"], env).output


def test_jobs_retry_and_show(env):
    seed(env)
    ok = run(["jobs", "retry", "2"], env)
    assert ok.exit_code == 0 and "job 2 queued again" in ok.output
    again = run(["jobs", "retry", "2"], env)
    assert again.exit_code == 1 and "job 2 is queued" in again.output
    missing = run(["jobs", "retry", "99"], env)
    assert missing.exit_code == 1 and "no job 99" in missing.output
    shown = run(["jobs", "show", "2"], env)
    assert shown.exit_code == 0
    assert '"attempts": 0' in shown.output and '"state": "queued"' in shown.output
    assert "last error:\nForgeError: 404 Not Found" in shown.output and '"x": 1' not in shown.output
    assert run(["jobs", "show", "99"], env).exit_code == 1


async def test_run_service_drains_and_closes_the_dispatcher(tmp_path):
    import asyncio as aio

    from bot.serve_cli import run_service

    from .conftest import make_settings

    settings = make_settings(tmp_path, TRUSTACKS_PORT="0")
    closed = []

    async def dispatch(job):
        return None

    async def aclose():
        closed.append(True)

    dispatch.aclose = aclose  # type: ignore[attr-defined]
    stop = aio.Event()
    ports = []
    task = aio.create_task(run_service(settings, dispatch, stop=stop, on_listening=lambda h, p: ports.append(p)))
    while not ports:
        await aio.sleep(0.01)
    assert ports[0] > 0
    stop.set()
    await aio.wait_for(task, 10)
    assert closed == [True]
