"""Benchmark: read-and-preserve merge of a 2,000-line Helm values file with 50 changed keys.

Printed next to a plain ruamel.yaml round-trip load+dump of the same file, measured in the same run
(the thing DESIGN.md §8 says we must not do, and the cost floor of anything ruamel-based).
Goal (issue #5): a merge under 50 ms. Bounded: a fixed number of repetitions, median reported.

Run: .venv/bin/python benchmarks/bench_merge.py
"""

from __future__ import annotations

import io
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ruamel.yaml import YAML  # noqa: E402

from bot.merge import merge_file  # noqa: E402

LINES = 2000
CHANGED_KEYS = 50
REPEAT = 15
GOAL_MS = 50.0


def values_file(lines: int = LINES, *, seed: int = 7) -> str:
    """A realistic values file: commented sections, nested maps, env lists, flow lists, quoted tags."""
    rnd = random.Random(seed)
    out = ["# Default values for the platform umbrella chart.", "# This is a YAML-formatted file.", ""]
    i = 0
    while len(out) < lines:
        out += [
            f"# -- service {i}: owned by team-{i % 7}",
            f"svc{i}:",
            "  enabled: true  # toggled per environment",
            f"  replicaCount: {rnd.randint(1, 5)}",
            "  image:",
            f"    repository: ghcr.io/acme/svc{i}",
            f'    tag: "1.{i}.0"',
            "    pullPolicy: IfNotPresent",
            "  service:",
            "    type: ClusterIP",
            f"    port: {8000 + i}",
            "  ports: [ 80, 443 ]",
            "  resources:",
            "    limits: {cpu: 500m, memory: 512Mi}",
            "  env:",
            "    - name: LOG_LEVEL",
            "      value: info",
            "    - name: PORT",
            f"      value: '{8000 + i}'",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]).rstrip("\n") + "\n"


def change(text: str, count: int, *, key: str, fmt: Callable[[int], str], seed: int, near: list[int] | None = None) -> str:
    """Change `count` occurrences of `key:` lines (spread over the file, or the first after each `near` line)."""
    lines = text.split("\n")
    hits = [n for n, line in enumerate(lines) if line.strip().startswith(key + ":")]
    if near is not None:
        chosen = [next(h for h in hits if h > n) for n in near]
    else:
        chosen = sorted(random.Random(seed).sample(hits, min(count, len(hits))))
    for n in chosen:
        indent = lines[n][: len(lines[n]) - len(lines[n].lstrip())]
        lines[n] = f"{indent}{key}: {fmt(n)}"
    return "\n".join(lines)


def changed_lines(a: str, b: str) -> list[int]:
    return [n for n, (x, y) in enumerate(zip(a.split("\n"), b.split("\n"))) if x != y]


def median_ms(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    fn()  # warm caches (imports, resolver regexes)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    base = values_file()
    generated = change(base, CHANGED_KEYS, key="tag", fmt=lambda n: f'"2.{n}.0"', seed=1)
    human = change(base, 5, key="replicaCount", fmt=lambda n: "9  # raised by on-call", seed=2)
    human = human.replace("# Default values", "# Platform team: see RUNBOOK.md\n# Default values", 1)

    check = merge_file("values.yaml", current=human, base=base, generated=generated)
    assert check.content is not None and not check.conflicts
    assert check.content.count('"2.') == CHANGED_KEYS and "raised by on-call" in check.content
    # worst case: the human also edited every entry the generator changed (another key in each),
    # so no top-level entry can be decided from its text and every one is merged node by node
    busy = change(base, CHANGED_KEYS, key="pullPolicy", fmt=lambda n: "Always  # debugging", seed=3,
                  near=changed_lines(base, generated))
    worst = merge_file("values.yaml", current=busy, base=base, generated=generated)
    assert worst.content is not None and not worst.conflicts
    assert worst.content.count('"2.') == CHANGED_KEYS and worst.content.count("Always  # debugging") == CHANGED_KEYS

    yaml = YAML(typ="rt")
    yaml.width = 4096

    def roundtrip() -> str:
        out = io.StringIO()
        yaml.dump(yaml.load(human), out)
        return out.getvalue()

    baseline = median_ms(roundtrip)
    three_way = median_ms(lambda: merge_file("values.yaml", current=human, base=base, generated=generated))
    busy_ms = median_ms(lambda: merge_file("values.yaml", current=busy, base=base, generated=generated))
    preserve = median_ms(lambda: merge_file("values.yaml", current=human, base=None, generated=generated))
    noop = median_ms(lambda: merge_file("values.yaml", current=human, base=None, generated=human + ""))

    print(f"file: {LINES} lines, {len(base)} bytes; generator changed {CHANGED_KEYS} keys; human changed 5")
    print(f"ruamel round-trip load+dump (baseline): {baseline:7.1f} ms")
    print(f"merge, three-way:                       {three_way:7.1f} ms  ({three_way / baseline:.2f}x baseline)")
    print(f"merge, three-way, both edited all 50:   {busy_ms:7.1f} ms  ({busy_ms / baseline:.2f}x baseline)")
    print(f"merge, preserve (no base):              {preserve:7.1f} ms  ({preserve / baseline:.2f}x baseline)")
    print(f"merge, no-op (identical text):          {noop:7.2f} ms")
    ok = max(three_way, preserve) < GOAL_MS
    print(f"goal < {GOAL_MS:.0f} ms (three-way and preserve): {'met' if ok else 'NOT met'}"
          f"{'' if ok else ' (compare the ratios: timings scale with machine load)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
