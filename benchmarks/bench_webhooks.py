"""Webhook ingress benchmark: `trustacks serve` next to a bare aiohttp handler, measured in the same run.

    .venv/bin/python benchmarks/bench_webhooks.py [--count 10000] [--rate 500] [--seconds 4]

Each server runs in its own process on loopback; this process is the load generator (aiohttp client).
Both servers run at once and the phases alternate between them, round by round (--rounds), so a
change in machine load (other jobs on shared cores) hits both; medians over the rounds are printed:
  1. open loop at --rate requests/s: p50/p99 latency of the answer (goal p99 < 25 ms);
  2. closed loop (64 in flight) with the rest of --count: throughput (goal >= 50% of the bare handler);
  3. server CPU time per delivery from /proc, the figure least sensitive to noisy neighbours.
The bare handler reads the body and answers 202 without other work. `trustacks serve` verifies the
signature, parses the JSON, persists to SQLite (WAL, synchronous=FULL, group commit) and answers 202,
with its worker pool draining the queue (JSON logs at INFO to a file) through a dispatcher that
awaits --handler-ms per job like a handler waiting on the forge API (0: a no-op handler, the worst
case, where draining a backlog competes with ingress for the CPU at full speed).
Every delivery is distinct and correctly signed. Afterwards serve's RSS is read from /proc (goal
< 150 MB after --count deliveries). Bounded: each phase stops after 120 s whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-not-for-production"
PHASE_LIMIT_SECONDS = 120.0
CONCURRENCY = 64


# --------------------------------------------------------------------------- servers (child processes)


def serve_bare() -> None:
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.router.add_post("/webhooks/github", handler)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"LISTENING {runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def serve_trustacks(handler_ms: float) -> None:
    sys.path.insert(0, str(ROOT))
    from bot.config import load_settings
    from bot.logs import configure_logging
    from bot.serve_cli import run_service

    settings = load_settings()
    configure_logging(settings.log_level, secrets=settings.secrets())

    async def dispatch(job: object) -> None:
        if handler_ms:
            await asyncio.sleep(handler_ms / 1000)  # a handler waiting on the forge API

    asyncio.run(run_service(settings, dispatch, on_listening=lambda h, p: print(f"LISTENING {p}", flush=True)))


def start(
    kind: str, workdir: Path, extra_env: dict[str, str], *, handler_ms: float = 0.0
) -> tuple[subprocess.Popen[str], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTACKS_")}
    env.update(
        {
            "TRUSTACKS_GITHUB_WEBHOOK_SECRET": SECRET,
            "TRUSTACKS_DATA_DIR": str(workdir / "data"),
            "TRUSTACKS_PORT": "0",
            "TRUSTACKS_LOG_LEVEL": "INFO",
            **extra_env,
        }
    )
    proc = subprocess.Popen(
        [sys.executable, __file__, f"--serve-{kind}", "--handler-ms", str(handler_ms)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=(workdir / f"{kind}.log").open("w"),
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("LISTENING"):
        proc.kill()
        raise SystemExit(f"{kind} server did not start: {(workdir / f'{kind}.log').read_text()[-2000:]}")
    return proc, int(line.split()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------- load generator


def make_deliveries(count: int, prefix: str) -> list[tuple[bytes, dict[str, str]]]:
    """Distinct, signed pull_request deliveries of ~10 KB (a typical payload size)."""
    sys.path.insert(0, str(ROOT))
    from bot.web import sign_github

    filler = "lorem ipsum " * 700
    out = []
    for i in range(count):
        body = json.dumps(
            {"action": "synchronize", "number": i, "pull_request": {"number": i, "body": filler},
             "repository": {"full_name": "acme/api"}, "installation": {"id": 1}}
        ).encode()
        out.append(
            (
                body,
                {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": f"{prefix}-{i:08d}",
                    "X-Hub-Signature-256": sign_github(body, SECRET),
                },
            )
        )
    return out


async def _send(session, url: str, body: bytes, headers: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return time.perf_counter() - t0, resp.status


async def open_loop(url: str, deliveries, rate: float) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        t0 = time.perf_counter()
        tasks = []
        for i, (body, headers) in enumerate(deliveries):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() - t0 > PHASE_LIMIT_SECONDS:
                break
            tasks.append(asyncio.create_task(_send(session, url, body, headers)))
        for latency, status in await asyncio.gather(*tasks):
            latencies.append(latency)
            statuses.append(status)
        elapsed = time.perf_counter() - t0
    return summarize(latencies, statuses, elapsed)


async def closed_loop(url: str, deliveries) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    statuses: list[int] = []
    queue = list(reversed(deliveries))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        t0 = time.perf_counter()

        async def client() -> None:
            while queue and time.perf_counter() - t0 < PHASE_LIMIT_SECONDS:
                body, headers = queue.pop()
                latency, status = await _send(session, url, body, headers)
                latencies.append(latency)
                statuses.append(status)

        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - t0
    return summarize(latencies, statuses, elapsed)


def summarize(latencies: list[float], statuses: list[int], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")

    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "non_2xx": sum(1 for s in statuses if not 200 <= s < 300),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (robust to noisy neighbours, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_of(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


async def bench_all(
    workdir: Path, *, count: int, rate: float, seconds: float, rounds: int, env: dict[str, str], handler_ms: float
) -> dict[str, dict[str, object]]:
    """Both servers up at once; phases interleaved round by round so drift in machine load hits both."""
    procs = {
        "bare": start("bare", workdir, {}),
        "trustacks": start("trustacks", workdir, env, handler_ms=handler_ms),
    }
    urls = {k: f"http://127.0.0.1:{port}/webhooks/github" for k, (_, port) in procs.items()}
    results: dict[str, dict[str, object]] = {k: {"rate": [], "throughput": [], "cpu": 0.0, "n": 0} for k in procs}
    try:
        for kind in procs:
            await closed_loop(urls[kind], make_deliveries(200, f"{kind}-warm"))
        n_rate = int(rate * seconds / rounds)
        n_closed = max(0, (count - n_rate * rounds) // rounds)
        for r in range(rounds):
            for phase, n in (("rate", n_rate), ("throughput", n_closed)):
                for kind, (proc, _) in procs.items():
                    deliveries = make_deliveries(n, f"{kind}-{phase}-{r}")
                    before = cpu_seconds(proc.pid)
                    if phase == "rate":
                        res = await open_loop(urls[kind], deliveries, rate)
                    else:
                        res = await closed_loop(urls[kind], deliveries)
                    results[kind]["cpu"] += cpu_seconds(proc.pid) - before  # type: ignore[operator]
                    results[kind]["n"] += res["n"]  # type: ignore[operator]
                    results[kind][phase].append(res)  # type: ignore[union-attr]
        await asyncio.sleep(1.0)
        proc = procs["trustacks"][0]
        results["trustacks"]["rss_mb"] = rss_mb(proc.pid)
        results["trustacks"]["deliveries"] = 200 + results["trustacks"]["n"]  # type: ignore[operator]
        return results
    finally:
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="deliveries per server (default 10000)")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop rate, requests/s (default 500)")
    parser.add_argument("--seconds", type=float, default=6.0, help="open-loop seconds in all (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="extra setting for the trustacks server, e.g. TRUSTACKS_DATABASE_URL=postgresql://...",
    )
    parser.add_argument(
        "--handler-ms", type=float, default=20.0,
        help="simulated handler time per job in serve's workers, awaiting like a forge API call "
        "(default 20; 0 = no-op handler, the worst case for worker overhead competing with ingress)",
    )
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-trustacks", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        return serve_bare()
    if args.serve_trustacks:
        return serve_trustacks(args.handler_ms)

    extra = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="trustacks-bench-") as tmp:
        workdir = Path(tmp)
        res = asyncio.run(
            bench_all(
                workdir, count=args.count, rate=args.rate, seconds=args.seconds, rounds=args.rounds, env=extra,
                handler_ms=args.handler_ms,
            )
        )
        from bot.store import open_store

        async def stored() -> dict[str, int]:
            url = extra.get("TRUSTACKS_DATABASE_URL", f"sqlite:///{workdir / 'data' / 'trustacks.db'}")
            store = open_store(url)
            try:
                return await store.counts()
            finally:
                await store.close()

        counts = asyncio.run(stored())

    bare, ours = res["bare"], res["trustacks"]
    print(f"webhook ingress, loopback, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), ~10 KB signed "
          f"deliveries, {args.rounds} interleaved rounds (medians); serve's handler {args.handler_ms:g} ms/job; "
          f"server env {extra or 'defaults'}")
    print(f"{'':34}{'bare aiohttp':>14}{'trustacks':>14}{'ratio':>9}")
    rows = [
        (f"open loop {args.rate:.0f}/s: achieved rps", "rate", "rps"),
        ("open loop: p50 ms", "rate", "p50_ms"),
        ("open loop: p99 ms", "rate", "p99_ms"),
        (f"closed loop ({CONCURRENCY} in flight): rps", "throughput", "rps"),
        ("closed loop: p50 ms", "throughput", "p50_ms"),
        ("closed loop: p99 ms", "throughput", "p99_ms"),
    ]
    for label, phase, key in rows:
        b, o = median_of(bare[phase], key), median_of(ours[phase], key)  # type: ignore[arg-type]
        print(f"{label:34}{b:14.1f}{o:14.1f}{(o / b if b else float('nan')):9.2f}")
    by_round = ", ".join(f"{r['p99_ms']:.1f}" for r in ours["rate"])  # type: ignore[union-attr]
    print(f"{'trustacks open-loop p99 by round':34}{by_round:>28}")
    cpu = [1e6 * r["cpu"] / max(1, r["n"]) for r in (bare, ours)]  # type: ignore[operator]
    print(f"{'server CPU per delivery, us':34}{cpu[0]:14.0f}{cpu[1]:14.0f}{cpu[1] / cpu[0]:9.2f}")
    errors = [sum(r["non_2xx"] for p in ("rate", "throughput") for r in side[p]) for side in (bare, ours)]  # type: ignore[union-attr]
    print(f"{'non-2xx answers':34}{errors[0]:14.0f}{errors[1]:14.0f}")
    print(f"serve RSS after {ours['deliveries']} deliveries: {ours['rss_mb']:.1f} MB (goal < 150 MB)")
    print(f"jobs in the store afterwards (workers drain in the background): {counts}")
    ratio = median_of(ours["throughput"], "rps") / median_of(bare["throughput"], "rps")  # type: ignore[arg-type]
    p99 = median_of(ours["rate"], "p99_ms")  # type: ignore[arg-type]
    print(
        f"goals: throughput >= 50% of bare: {'met' if ratio >= 0.5 else 'NOT met'} ({ratio:.0%}); "
        f"p99 < 25 ms at {args.rate:.0f}/s: {'met' if p99 < 25 else 'NOT met'} ({p99:.1f} ms); "
        f"RSS < 150 MB: {'met' if ours['rss_mb'] < 150 else 'NOT met'}"  # type: ignore[operator]
    )


if __name__ == "__main__":
    main()
