"""Real processes: a service SIGKILLed mid-job loses nothing and the job completes exactly once;
SIGTERM drains gracefully (stops accepting, releases the running job, exits 0)."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.store import open_store
from bot.web import sign_github
from bot.worker import WorkerPool

from .conftest import BOTH, CANARY

ROOT = Path(__file__).resolve().parents[2]


def start_service(tmp_path: Path, db_url: str, **env: str) -> tuple[subprocess.Popen[str], int, Path]:
    markers = tmp_path / "markers"
    markers.mkdir(exist_ok=True)
    log_path = tmp_path / "service.log"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRUSTACKS_")},
        "TRUSTACKS_GITHUB_WEBHOOK_SECRET": CANARY,
        "TRUSTACKS_DATABASE_URL": db_url,
        "TRUSTACKS_DATA_DIR": str(tmp_path / "data"),
        "TRUSTACKS_PORT": "0",  # ephemeral: parallel runs never collide
        "TRUSTACKS_LEASE_SECONDS": "1",
        "TRUSTACKS_POLL_SECONDS": "0.05",
        "TRUSTACKS_WORKERS": "1",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.service.service_proc", str(markers)],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=log_path.open("w"),
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("LISTENING"):
        proc.kill()
        raise AssertionError(f"service did not start: {line!r}\n{log_path.read_text()}")
    return proc, int(line.split()[1]), markers


def post(port: int, delivery: str, payload: dict) -> int:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/github",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign_github(body, CANARY),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status


def wait_for(path: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} never appeared")
        time.sleep(0.02)


@BOTH
async def test_sigkill_mid_job_then_the_job_completes_exactly_once(tmp_path, db_url):
    proc, port, markers = start_service(tmp_path, db_url)
    try:
        assert await asyncio.to_thread(post, port, "crash-1", {"ref": "refs/heads/main"}) == 202
        await asyncio.to_thread(wait_for, markers / "started-1")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The delivery survived the crash and is still leased by the dead worker.
    store = open_store(db_url, lease_seconds=1, max_attempts=3)
    try:
        job = await store.get_job(1)
        assert (job.state, job.attempts, job.delivery_id) == ("leased", 1, "crash-1")
        dead_owner = job.lease_owner
        completions: list[tuple[int, int]] = []

        async def dispatch(j):
            completions.append((j.id, j.attempts))

        pool = WorkerPool(store, dispatch, concurrency=2, poll_seconds=0.05)
        t0 = time.monotonic()
        await pool.start()
        deadline = time.monotonic() + 15
        while (await store.get_job(1)).state != "done":
            assert time.monotonic() < deadline, "job never completed after the crash"
            await asyncio.sleep(0.05)
        waited = time.monotonic() - t0
        await asyncio.sleep(1.5)  # longer than a lease: nothing runs it again
        await pool.stop(grace=1)
        done = await store.get_job(1)
        assert completions == [(1, 2)]
        assert done.state == "done" and done.attempts == 2 and done.lease_owner is None
        assert dead_owner and dead_owner != pool.worker_id
        assert waited < 5
        assert (await store.counts())["done"] == 1
    finally:
        await store.close()


async def test_sigterm_stops_accepting_and_releases_the_running_job(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'q.db'}"
    proc, port, markers = start_service(tmp_path, db_url, TRUSTACKS_SHUTDOWN_GRACE_SECONDS="0.3")
    try:
        assert await asyncio.to_thread(post, port, "term-1", {"n": 1}) == 202
        await asyncio.to_thread(wait_for, markers / "started-1")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(OSError):
        await asyncio.to_thread(post, port, "term-2", {"n": 2})  # the port is closed
    store = open_store(db_url)
    try:
        job = await store.get_job(1)
        assert (job.state, job.attempts, job.lease_owner) == ("queued", 0, None)
    finally:
        await store.close()
    log = (tmp_path / "service.log").read_text()
    lines = [json.loads(line) for line in log.splitlines()]
    messages = [l["msg"] for l in lines]
    assert "shutting down: no new deliveries; draining jobs" in messages
    assert "job released for another worker" in messages
    assert messages[-1] == "stopped"
    assert all("delivery_id" in l and "job_id" in l for l in lines)
    assert CANARY not in log
