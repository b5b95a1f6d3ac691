"""Crash safety: a real `trustacks serve` SIGKILLed at random points during a burst; every delivery worked once.

The service (tests/hardening/crash_proc.py) runs the real ingress, queue and workers; each job opens a
PR with `pipeline.open_proposal` on a local forge (real git) and posts one comment. A sender plays
GitHub: it posts signed deliveries and, like GitHub's redelivery, sends again whatever was not
acknowledged. A killer SIGKILLs the whole process group (as a container runtime or the OOM killer
would) at random moments, half of them while a job is in flight, then the service is restarted.
Afterwards every delivery is `done` in the store, and the forge holds exactly one branch, one PR,
one check and one comment per delivery: no event lost, no duplicate effect.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.forges.local import LocalForge, LocalForgeAdmin
from bot.store import open_store
from bot.web import sign_github

from .crash_proc import REPO, marker

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-test-webhook-secret"
PG_ENV = "TRUSTACKS_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"set {PG_ENV} (e.g. export {PG_ENV}=$(bash .ci/postgres.sh)) to run on PostgreSQL")
    import psycopg

    schema = "crash_" + secrets.token_hex(6)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in admin else "?"
        yield f"{admin}{sep}options={quote('-csearch_path=' + schema)}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Service:
    """One `trustacks serve` process at a time; `kill()` SIGKILLs its whole process group."""

    def __init__(self, tmp: Path, db_url: str, kills: int) -> None:
        self.tmp, self.db_url = tmp, db_url
        self.forge_dir, self.journal = tmp / "forge", tmp / "journal.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRUSTACKS_")},
            "TRUSTACKS_GITHUB_WEBHOOK_SECRET": SECRET, "TRUSTACKS_DATABASE_URL": db_url,
            "TRUSTACKS_DATA_DIR": str(tmp / "data"), "TRUSTACKS_PORT": "0", "TRUSTACKS_LEASE_SECONDS": "1",
            "TRUSTACKS_POLL_SECONDS": "0.05", "TRUSTACKS_WORKERS": "2", "TRUSTACKS_BACKOFF_BASE_SECONDS": "0.1",
            "TRUSTACKS_BACKOFF_MAX_SECONDS": "0.5",
            # A job may be killed once per kill; the poison-job limit must not be what ends it.
            "TRUSTACKS_MAX_ATTEMPTS": str(kills + 10),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hardening.crash_proc", str(self.forge_dir), str(self.journal)],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=(self.tmp / f"serve-{self.starts}.log").open("w"),
            text=True, start_new_session=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("LISTENING"):
            self.kill()
            raise AssertionError(f"service did not start: {line!r}\n{(self.tmp / f'serve-{self.starts}.log').read_text()}")
        self.port = int(line.split()[1])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def in_flight(self) -> bool:
        """A job has started and not finished (per the journal)."""
        if not self.journal.exists():
            return False
        open_jobs: set[str] = set()
        for line in self.journal.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                (open_jobs.add if parts[0] == "start" else open_jobs.discard)(parts[1])
        return bool(open_jobs)


def post(port: int, n: int) -> bool:
    """One signed delivery; True when acknowledged (202 new, 200 duplicate)."""
    body = json.dumps({"n": n}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/github", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": f"crash-{n:04d}",
        "X-Hub-Signature-256": sign_github(body, SECRET)})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status in (200, 202)
    except (urllib.error.URLError, OSError):
        return False


def run_burst(svc: Service, *, deliveries: int, kills: int, rng: random.Random) -> None:
    unacked = list(range(deliveries))
    for k in range(kills):
        svc.start()
        stop = threading.Event()

        def sender() -> None:
            while unacked and not stop.is_set():
                n = unacked[0]
                if post(svc.port, n):
                    unacked.remove(n)
                else:
                    time.sleep(0.02)  # the service is gone: keep it for redelivery after the restart
                    if svc.proc is not None and svc.proc.poll() is not None:
                        return

        thread = threading.Thread(target=sender)
        thread.start()
        if k % 2:  # mid-job: wait for a job in flight, then a little more
            deadline = time.monotonic() + 10
            while not svc.in_flight() and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.08))
        else:  # anywhere: during ingress, between jobs, in a job
            time.sleep(rng.uniform(0.05, 0.6))
        svc.kill()
        stop.set()
        thread.join(timeout=30)
    # the last start: deliver what is left and let the queue drain
    svc.start()
    deadline = time.monotonic() + 120
    while unacked:
        assert time.monotonic() < deadline, f"deliveries never acknowledged: {unacked}"
        if post(svc.port, unacked[0]):
            unacked.pop(0)


async def wait_until_drained(db_url: str, deliveries: int, timeout: float = 120.0) -> list:
    store = open_store(db_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            jobs = await store.list_jobs(limit=100_000)
            if len(jobs) == deliveries and all(j.state in ("done", "dead") for j in jobs):
                return jobs
            assert time.monotonic() < deadline, f"queue never drained: {[(j.delivery_id, j.state) for j in jobs]}"
            await asyncio.sleep(0.1)
    finally:
        await store.close()


@pytest.mark.heavy
async def test_sigkill_during_a_burst_loses_nothing_and_duplicates_nothing(budget, tmp_path, db_url):
    deliveries = 20 if not budget.heavy else 120
    forge = LocalForge(tmp_path / "forge")
    LocalForgeAdmin(forge).create_repo(REPO, files={"README.md": "crash test\n"}, protected=["main"])
    forge.close()
    svc = Service(tmp_path, db_url, budget.kills)
    rng = random.Random()
    try:
        await asyncio.to_thread(run_burst, svc, deliveries=deliveries, kills=budget.kills, rng=rng)
        jobs = await wait_until_drained(db_url, deliveries)
    finally:
        svc.stop()

    # no event lost: every delivery stored once and worked to the end
    assert sorted(j.delivery_id for j in jobs) == [f"crash-{n:04d}" for n in range(deliveries)]
    assert [j for j in jobs if j.state != "done"] == [], [(j.delivery_id, j.state, j.last_error) for j in jobs if j.state != "done"]
    # ... and the kills did land inside jobs: some were started more than once
    starts = [line.split()[1] for line in svc.journal.read_text().splitlines() if line.startswith("start")]
    rerun = {d for d in starts if starts.count(d) > 1}
    assert rerun, "no kill interrupted a job; the test did not test anything"

    # no duplicate effect: one branch, one PR, one check, one comment per delivery
    forge = LocalForge(tmp_path / "forge")
    try:
        prs = await forge.find_change_requests(REPO, state="all")
        heads = sorted(p.head for p in prs)
        assert heads == sorted(f"trustacks/generate/crash-{n}" for n in range(deliveries)), "missing or duplicate PRs"
        branches = [b for b in heads if await forge.branch_sha(REPO, b)]
        assert len(branches) == deliveries
        for pr in prs:
            n = int(pr.head.rsplit("-", 1)[1])
            delivery = f"crash-{n:04d}"
            comments = [c for c in await forge.list_comments(REPO, pr.number) if marker(delivery) in c.body]
            assert len(comments) == 1, f"{delivery}: {len(comments)} comments"
            commits = await forge.branch_commits(REPO, pr.head, "main")
            assert len(commits) == 1, f"{delivery}: {len(commits)} commits on its branch"
            sha = await forge.branch_sha(REPO, pr.head)
            assert forge.checks(REPO, sha), f"{delivery}: its PR head has no policy check (lost after a crash)"
    finally:
        forge.close()
    print(f"{deliveries} deliveries, {budget.kills} kills, {svc.starts} starts, {len(rerun)} jobs re-run after a kill")


# ---------------------------------------------------------------------------- the two crash bugs, deterministically


class Crash(BaseException):
    """Stands for the process dying at this point (nothing after it runs)."""


async def test_a_stale_git_ref_lock_from_a_dead_writer_does_not_block_the_branch(tmp_path):
    forge = LocalForge(tmp_path / "forge")
    try:
        LocalForgeAdmin(forge).create_repo(REPO, files={"README.md": "x\n"})
        lock = forge.repo_path(REPO) / "refs" / "heads" / "trustacks" / "generate" / "x.lock"
        lock.parent.mkdir(parents=True)
        lock.write_text("")  # what `git update-ref` leaves when SIGKILLed mid-update
        await forge.create_branch(REPO, "trustacks/generate/x", from_ref="main")
        assert await forge.branch_sha(REPO, "trustacks/generate/x") == await forge.branch_sha(REPO, "main")
    finally:
        forge.close()


async def test_a_crash_before_the_check_is_reported_still_ends_with_a_checked_pr(tmp_path):
    from bot import pipeline
    from bot.models import Decision

    from .crash_proc import proposal_for

    class CrashingForge(LocalForge):
        crash_on_check = True

        async def _set_check(self, check):
            if self.crash_on_check:
                raise Crash()
            return await super()._set_check(check)

    forge = CrashingForge(tmp_path / "forge")
    try:
        LocalForgeAdmin(forge).create_repo(REPO, files={"README.md": "x\n"})
        flow = pipeline.Flow(forge=forge, policy=None, platform_repo="acme/platform")
        with pytest.raises(Crash):
            await pipeline.open_proposal(flow, proposal_for(1), Decision(), profile=None)
        forge.crash_on_check = False  # the job is retried after the restart
        outcome = await pipeline.open_proposal(flow, proposal_for(1), Decision(), profile=None)
        [pr] = await forge.find_change_requests(REPO, state="all")
        assert outcome.change_request is not None and outcome.change_request.number == pr.number
        assert forge.checks(REPO, await forge.branch_sha(REPO, pr.head)), "the PR was left without its check"
    finally:
        forge.close()
