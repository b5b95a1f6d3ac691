"""Load: bursts of signed deliveries from many installations against `trustacks serve`, beside a bare handler.

    .venv/bin/python benchmarks/load.py [--bursts 4] [--burst-size 1500] [--installations 200] [--handler-ms 20]

Both servers are started by benchmarks/bench_webhooks.py (imported, not copied) in their own
processes on loopback; this process is the forge. Each burst is `--burst-size` distinct deliveries,
the real event mix of an org (pushes, PRs, comments, installations) spread over `--installations`
installations and their repositories, built from fixtures/webhooks/ and signed like GitHub signs them,
sent with 64 in flight. Bursts alternate between the bare aiohttp handler and `trustacks serve`, so a
change in machine load hits both. Printed (medians over the bursts):
  - throughput of the acknowledgements (deliveries/s) and the ratio to the bare handler;
  - ack latency p50/p99 (the forge's view: time to the 202);
  - queue drain time: from the burst's last 202 until the store holds no queued or leased job, with
    serve's workers awaiting `--handler-ms` per job (a handler waiting on the forge API);
  - non-2xx answers (must be 0) and serve's RSS afterwards.
Runs on SQLite, then on PostgreSQL when TRUSTACKS_TEST_POSTGRES_URL is set (`.ci/postgres.sh` starts one;
a schema of its own is created and dropped). Bounded: every phase stops after 120 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import bench_webhooks as bw  # noqa: E402  (start, closed_loop pieces, summarize, rss_mb, PHASE_LIMIT_SECONDS)

PG_ENV = "TRUSTACKS_TEST_POSTGRES_URL"
MIX = [("push.default_branch", 4), ("pull_request.opened", 2), ("pull_request.synchronize", 3),
       ("issue_comment.created", 2), ("pull_request.closed_merged", 1), ("installation_repositories.added", 1)]


def make_burst(n: int, *, installations: int, prefix: str, rng: random.Random) -> list[tuple[bytes, dict[str, str]]]:
    """`n` distinct signed deliveries with the event mix above, over `installations` installations."""
    from bot.web import sign_github

    fixtures = {}
    for name, _ in MIX:
        d = ROOT / "fixtures" / "webhooks" / "github" / name
        fixtures[name] = (json.loads((d / "headers.json").read_text())["X-GitHub-Event"],
                          json.loads((d / "body.json").read_text()))
    names = [name for name, weight in MIX for _ in range(weight)]
    out = []
    for i in range(n):
        name = rng.choice(names)
        event, template = fixtures[name]
        body = json.loads(json.dumps(template))
        inst = rng.randrange(installations)
        body.setdefault("installation", {})["id"] = 10_000_000 + inst
        repo = f"org{inst}/service-{rng.randrange(20)}"
        if isinstance(body.get("repository"), dict):
            body["repository"]["full_name"] = repo
        data = json.dumps(body).encode()
        out.append((data, {"Content-Type": "application/json", "X-GitHub-Event": event,
                           "X-GitHub-Delivery": f"{prefix}-{i:07d}", "X-Hub-Signature-256": sign_github(data, bw.SECRET)}))
    return out


async def burst(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> dict[str, float]:
    t0 = time.perf_counter()
    res = await bw.closed_loop(url, deliveries)
    res["end"] = time.perf_counter()
    res["elapsed"] = res["end"] - t0
    return res


async def drained_after(store, since: float) -> float:
    """Seconds from `since` until no job is queued or leased (bounded by the phase limit)."""
    while True:
        counts = await store.counts()
        if counts.get("queued", 0) + counts.get("leased", 0) == 0:
            return time.perf_counter() - since
        if time.perf_counter() - since > bw.PHASE_LIMIT_SECONDS:
            return float("nan")
        await asyncio.sleep(0.02)


async def run_database(label: str, db_url: str, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    from bot.store import open_store

    env = {"TRUSTACKS_DATABASE_URL": db_url, "TRUSTACKS_WORKERS": str(args.workers)}
    procs = {"bare": bw.start("bare", workdir, {}), "trustacks": bw.start("trustacks", workdir, env,
                                                                          handler_ms=args.handler_ms)}
    urls = {k: f"http://127.0.0.1:{port}/webhooks/github" for k, (_, port) in procs.items()}
    store = open_store(db_url)
    await store.open()
    rng = random.Random(args.seed)
    results: dict[str, list[dict[str, float]]] = {"bare": [], "trustacks": []}
    drains: list[float] = []
    try:
        for kind in procs:  # warm up both (imports, connections, SQLite/PG caches)
            await bw.closed_loop(urls[kind], make_burst(200, installations=args.installations, prefix=f"{label}-{kind}-w",
                                                        rng=rng))
        await drained_after(store, time.perf_counter())
        for b in range(args.bursts):
            for kind in procs:
                deliveries = make_burst(args.burst_size, installations=args.installations, prefix=f"{label}-{kind}-{b}",
                                        rng=rng)
                res = await burst(urls[kind], deliveries)
                results[kind].append(res)
                if kind == "trustacks":
                    drains.append(await drained_after(store, res["end"]))
        counts = await store.counts()
        rss = bw.rss_mb(procs["trustacks"][0].pid)
    finally:
        await store.close()
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=30)
            except Exception:  # noqa: BLE001 - a benchmark cleaning up
                proc.kill()
    return {"results": results, "drains": drains, "counts": counts, "rss": rss}


def with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote('-csearch_path=' + schema)}"


def report(label: str, out: dict[str, object], args: argparse.Namespace) -> None:
    res: dict[str, list[dict[str, float]]] = out["results"]  # type: ignore[assignment]

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in res[kind])

    print(f"\n[{label}] {args.bursts} bursts x {args.burst_size} deliveries over {args.installations} installations, "
          f"64 in flight; serve: {args.workers} workers, handler {args.handler_ms:g} ms/job")
    print(f"{'':30}{'bare aiohttp':>14}{'trustacks':>14}{'ratio':>9}")
    for title, key in (("throughput, deliveries/s", "rps"), ("ack latency p50, ms", "p50_ms"),
                       ("ack latency p99, ms", "p99_ms")):
        b, o = med("bare", key), med("trustacks", key)
        print(f"{title:30}{b:14.1f}{o:14.1f}{o / b if b else float('nan'):9.2f}")
    drains: list[float] = out["drains"]  # type: ignore[assignment]
    ideal = args.burst_size * args.handler_ms / 1000 / args.workers
    print(f"{'queue drain after burst, s':30}{'-':>14}{statistics.median(drains):14.2f}"
          f"   (per burst: {', '.join(f'{d:.2f}' for d in drains)}; handler time alone {ideal:.2f} s, part of it during the burst)")
    errors = [sum(r["non_2xx"] for r in res[k]) for k in ("bare", "trustacks")]
    print(f"{'non-2xx answers':30}{errors[0]:14.0f}{errors[1]:14.0f}")
    print(f"serve RSS afterwards: {out['rss']:.1f} MB; jobs in the store: {out['counts']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=4)
    parser.add_argument("--burst-size", type=int, default=1500)
    parser.add_argument("--installations", type=int, default=200)
    parser.add_argument("--handler-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    print(f"load benchmark, loopback, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="trustacks-load-") as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        out = asyncio.run(run_database("sqlite", f"sqlite:///{sqlite_dir / 'queue.db'}", args, sqlite_dir))
        report("SQLite", out, args)
        admin = os.environ.get(PG_ENV)
        if not admin:
            print(f"\n[PostgreSQL] skipped: set {PG_ENV} (export {PG_ENV}=$(bash .ci/postgres.sh))")
            return
        import psycopg

        schema = "load_" + secrets.token_hex(5)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            pg_dir = Path(tmp) / "pg"
            pg_dir.mkdir()
            out = asyncio.run(run_database("pg", with_schema(admin, schema), args, pg_dir))
            report("PostgreSQL", out, args)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
