"""Dashboard, Gap Analysis Report and status page, each next to the bare work it cannot avoid, same run.

    .venv/bin/python benchmarks/bench_dashboard.py [--prs 30]

Cases (median seconds per call; each case bounded by a time budget):
  1. ensure_dashboard on an unchanged dashboard (the common case after every event: reads, renders,
     writes nothing) with --prs bot PRs over 3 repos on the local forge, vs the reads it must make by
     hand: the issue by marker, the Profile, each repo's PRs, each PR's comments, plus gap_report.
     Goal: under 2x.
  2. The HTML report (view, two pygal charts, template compiled each time: a one-off CLI artifact) vs
     gap_report alone. Goal: under 15x; pygal takes ~25 ms a chart, and the report is made on demand,
     never per event.
  3. The status page (gather + render) with 25 jobs and 20 decisions vs the store and audit reads
     it makes (counts, depth, two job listings, audit tail and verify). Goal: under 3x (both are ~2 ms;
     the page adds rendering 45 table rows, which the reads alone do not do).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import dashboard, pipeline, status_page  # noqa: E402
from bot.audit import AuditLog  # noqa: E402
from bot.forges.local import LocalForge, LocalForgeAdmin  # noqa: E402
from bot.models import Decision, FileChange, Proposal, ProposalKind, Violation  # noqa: E402
from bot.policy import PolicyEngine, available_packs  # noqa: E402
from bot.policy.gaps import gap_report  # noqa: E402
from bot.pr_identity import input_hash  # noqa: E402
from bot.profile import PROFILE_PATH, Profile  # noqa: E402
from bot.reports import render  # noqa: E402
from bot.store import Delivery, open_store  # noqa: E402

BUDGET_S = 3.0
PLATFORM = "acme/platform"
REPOS = ("acme/a", "acme/b", "acme/c")


def profile() -> Profile:
    p = Profile.new(PLATFORM)
    p.set_tools("ci", [{"tool": "github-actions", "source": "declared"}])
    p.set_tools("registry", [{"tool": "ghcr", "source": "declared"}])
    p.set_services([{"name": r.split("/")[1], "repo": r, "path": "."} for r in REPOS])
    return p


async def timed(fn, *, budget: float = BUDGET_S, max_runs: int = 50) -> float:
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < 3 or (time.perf_counter() < deadline and len(times) < max_runs):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def case_dashboard(tmp: Path, engine: PolicyEngine, prs: int) -> tuple[float, float]:
    forge = LocalForge(tmp / "forge")
    admin = LocalForgeAdmin(forge)
    prof = profile()
    admin.create_repo(PLATFORM, files={PROFILE_PATH: prof.dumps()})
    for r in REPOS:
        admin.create_repo(r, files={"README.md": "x\n"})
    flow = pipeline.Flow(forge=forge, policy=engine, platform_repo=PLATFORM)
    for i in range(prs):
        repo = REPOS[i % len(REPOS)]
        branch = f"trustacks/generate/bench-{i}"
        p = Proposal(kind=ProposalKind.GENERATE, repo=repo, base_branch="main", head_branch=branch,
                     title=f"TruStacks: ci #{i}", summary="bench", files=[FileChange(f"f{i}.txt", f"{i}\n")],
                     blast_radius=["x"], rollback=["revert"])
        p.input_hash = input_hash("generate", repo, i)
        decision = Decision(warn=[Violation("TS-SUPPLY-001", "constitution", "medium", "w")]) if i % 2 else Decision()
        await pipeline.open_proposal(flow, p, decision, profile=None)
    await dashboard.ensure_dashboard(forge, platform_repo=PLATFORM, policy=engine)

    async def ours():
        result = await dashboard.ensure_dashboard(forge, platform_repo=PLATFORM, policy=engine)
        assert result.action == "unchanged"

    async def baseline():
        await forge.find_issues(PLATFORM, marker=dashboard.MARKER)
        loaded = await pipeline.load_profile(forge, PLATFORM)
        for repo in (PLATFORM, *REPOS):
            for pr in await forge.find_change_requests(repo, state="open"):
                await forge.list_comments(repo, pr.number)
        await forge.find_change_requests(PLATFORM, head=pipeline.profile_branch(PLATFORM), state="all")
        gap_report(loaded, engine)

    result = (await timed(ours), await timed(baseline))
    forge.close()
    return result


async def case_report(engine: PolicyEngine) -> tuple[float, float]:
    prof = profile()
    report = gap_report(prof, engine)

    async def ours():
        render(gap_report(prof, engine), engine=engine, profile=prof, fmt="html")

    async def baseline():
        gap_report(prof, engine)

    assert report.gaps
    return await timed(ours), await timed(baseline)


async def case_status(tmp: Path, engine: PolicyEngine) -> tuple[float, float]:
    store = open_store(f"sqlite:///{tmp / 'q.db'}")
    await store.open()
    audit = AuditLog(tmp / "audit.db")
    for i in range(25):
        await store.enqueue(Delivery("github", f"d{i}", "push", b'{"ref": "refs/heads/main"}'))
    for i in range(20):
        audit.append_decision(Decision(deny=[Violation("TS-CRED-001", "constitution", "high", "m")] if i % 3 == 0 else []),
                              input_digest="x" * 64, actor="bot", repo=f"acme/r{i}", subject=f"PR {i}")

    from bot.reports.templating import html_env

    template = html_env().get_template("status.html.j2")  # as status_routes does, once per app

    async def ours():
        status_page.render(await status_page.gather(store=store, audit=audit, policy=engine), template=template)

    async def baseline():
        await store.counts()
        await store.queue_depth()
        await store.list_jobs(None, limit=status_page.RECENT_JOBS)
        await store.list_jobs(None, limit=status_page.INSTALLATION_SCAN)
        await asyncio.to_thread(audit.tail, status_page.RECENT_DECISIONS * 3)
        await asyncio.to_thread(audit.verify)

    result = (await timed(ours), await timed(baseline))
    audit.close()
    await store.close()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prs", type=int, default=30)
    args = parser.parse_args()
    engine = PolicyEngine.load(packs=available_packs(), isolate=False)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            (f"1. ensure_dashboard unchanged, {args.prs} PRs", await case_dashboard(Path(tmp), engine, args.prs), 2.0),
            ("2. HTML gap report (charts + template)", await case_report(engine), 15.0),
            ("3. status page gather + render", await case_status(Path(tmp), engine), 3.0),
        ]
    import os

    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine skews both columns)")
    print(f"{'case':<42} {'ours ms':>9} {'baseline ms':>12} {'ratio':>7}  goal")
    for name, (ours, base), goal in rows:
        ratio = ours / base if base else float("inf")
        print(f"{name:<42} {ours * 1000:>9.2f} {base * 1000:>12.2f} {ratio:>6.2f}x  <{goal:g}x {'ok' if ratio < goal else 'MISSED'}")


if __name__ == "__main__":
    asyncio.run(main())
