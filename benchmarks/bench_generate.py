"""Benchmark: generating every artifact for one typical service, beside a plain YAML dump of the same objects.

Run: `.venv/bin/python benchmarks/bench_generate.py [--profile FILE] [--service NAME] [--seconds S]`.
Goal: a typical service (CI, Dockerfile, Helm chart with per-environment values, Argo CD) in under 100 ms.
The baseline dumps the very objects the generated YAML files contain with PyYAML's C dumper, measured in
the same run, so the ratio says what generation costs beyond serialising its output. Bounded in time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.generate import generate  # noqa: E402
from bot.profile import Profile  # noqa: E402

GOAL_MS = 100.0
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _timed(fn, *, seconds: float, max_runs: int = 2000) -> list[float]:
    """Per-call milliseconds, after one warm-up call, for about `seconds`."""
    fn()
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(out) < max_runs and (len(out) < 5 or time.perf_counter() < deadline):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=str(ROOT / "fixtures/profiles/github-aws.yaml"))
    parser.add_argument("--service", default="pay-api")
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement")
    args = parser.parse_args(argv)

    profile = Profile.loads(Path(args.profile).read_bytes(), path=args.profile)
    service = profile.service(args.service)
    if service is None:
        print(f"no service {args.service!r} in {args.profile}", file=sys.stderr)
        return 2
    result = generate(profile, service)
    docs = [d for f in result.files if f.path.endswith((".yml", ".yaml")) and "/templates/" not in f.path
            for d in yaml.safe_load_all(f.content)]
    texts = [f.content for f in result.files if not f.path.endswith((".yml", ".yaml")) or "/templates/" in f.path]
    size = sum(len(f.content) for f in result.files)

    gen_ms = _timed(lambda: generate(profile, service), seconds=args.seconds)
    dump_ms = _timed(lambda: ([yaml.dump(d, Dumper=Dumper, sort_keys=False) for d in docs], "".join(texts)),
                     seconds=args.seconds)

    all_services = [(s, profile) for s in profile.services()]
    t = time.perf_counter()
    for s, p in all_services:
        generate(p, s)
    every_ms = (time.perf_counter() - t) * 1000

    g, d = statistics.median(gen_ms), statistics.median(dump_ms)
    p95 = sorted(gen_ms)[int(0.95 * (len(gen_ms) - 1))]
    print(f"service {service.name} ({service.framework}) from {Path(args.profile).name}: "
          f"{len(result.files)} files, {size / 1024:.1f} KiB, {len(docs)} YAML documents")
    print(f"generate      median {g:7.2f} ms   p95 {p95:7.2f} ms   ({len(gen_ms)} runs)")
    print(f"plain dump    median {d:7.2f} ms   (PyYAML C dumper, same objects, {len(dump_ms)} runs)")
    print(f"ratio         {g / d:7.2f} x the plain dump")
    print(f"all {len(all_services)} services of the Profile: {every_ms:.1f} ms")
    print(f"goal          < {GOAL_MS:.0f} ms: {'met' if g < GOAL_MS else 'NOT met'}")
    return 0 if g < GOAL_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
