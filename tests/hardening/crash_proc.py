"""A real `trustacks serve` whose jobs have real, idempotent effects on a local forge: for the crash test.

    python -m tests.hardening.crash_proc FORGE_DIR JOURNAL

Settings come from the TRUSTACKS_* environment, as in production (`run_service`, the real ingress,
store and worker pool). Each delivery `{"n": N}` is worked the way the bot works a proposal:
`pipeline.open_proposal` ensures branch `trustacks/generate/crash-N`, one commit, one PR (found again
by its marker on a retry) and its check; then one comment, found again by a hidden marker before it
is posted. JOURNAL gets `start <delivery> <attempt>` and `done <delivery>` lines (fsynced), so the test
can see which jobs a SIGKILL interrupted. A small random pause between steps widens the windows a
kill can land in. Prints `LISTENING <port>` once the port is open.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

from bot import pipeline
from bot.config import load_settings
from bot.forges.local import LocalForge
from bot.logs import configure_logging
from bot.models import Decision, FileChange, Proposal, ProposalKind
from bot.pr_identity import input_hash
from bot.serve_cli import run_service

REPO = "acme/app"


def marker(delivery_id: str) -> str:
    return f"<!-- crash-test:{delivery_id} -->"


def proposal_for(n: int) -> Proposal:
    files = [FileChange(path=f"crash/{n}.txt", new=f"delivery {n}\n")]
    p = Proposal(kind=ProposalKind.GENERATE, repo=REPO, base_branch="main", head_branch=f"trustacks/generate/crash-{n}",
                 title=f"Crash test {n}", summary=f"Proposal for delivery {n}.", files=files,
                 blast_radius=[f"file crash/{n}.txt"], rollback=["Close the PR."])
    p.input_hash = input_hash("generate", REPO, [(f.path, f.new) for f in files])
    return p


def journal(path: Path, line: str) -> None:
    with open(path, "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


async def pause() -> None:
    await asyncio.sleep(random.uniform(0, 0.03))


def main(forge_dir: str, journal_path: str) -> None:
    settings = load_settings()
    configure_logging(settings.log_level, secrets=settings.secrets())
    forge = LocalForge(forge_dir)
    flow = pipeline.Flow(forge=forge, policy=None, platform_repo="acme/platform")
    log = Path(journal_path)

    async def dispatch(job) -> None:
        journal(log, f"start {job.delivery_id} {job.attempts}")
        n = int(job.payload["n"])
        proposal = proposal_for(n)
        await pause()
        outcome = await pipeline.open_proposal(flow, proposal, Decision(), profile=None)
        await pause()
        cr = outcome.change_request
        assert cr is not None, outcome.action
        comments = await forge.list_comments(REPO, cr.number)
        if not any(marker(job.delivery_id) in c.body for c in comments):
            await pause()
            await forge.comment(REPO, cr.number, f"Worked delivery {job.delivery_id}.\n{marker(job.delivery_id)}")
        await pause()
        journal(log, f"done {job.delivery_id}")

    def listening(host: str, port: int) -> None:
        print(f"LISTENING {port}", flush=True)

    try:
        asyncio.run(run_service(settings, dispatch, on_listening=listening))
    finally:
        forge.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
