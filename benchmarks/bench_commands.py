"""Slash-command parser benchmark: `parse()` next to the bare minimum it must do, measured in the same run.

    .venv/bin/python benchmarks/bench_commands.py [--repeat 7]

Cases (each median of --repeat rounds, each round bounded by a time budget):
  1. a typical comment (prose plus one waive command): parse() vs `shlex.split` of the command line
     alone (the baseline every Atlantis-style parser pays). Goal: parse() < 100 us.
  2. a 1 MB comment with no command: parse() vs one `str.encode` of the text (the size check itself).
     Goal: parse() < 20 ms: a huge comment is refused after one substring scan.
  3. a 1 MB comment that starts with a command (refused as too large), same baseline.
  4. 60 KB of prose with ten command lines (the largest comment still read) vs splitting it into lines
     and shell-splitting the ten command lines.
The worker parses every comment on every PR it watches, so parse() must stay far below the cost of
the forge calls that follow it (tens of milliseconds).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.commands import parse  # noqa: E402

TODAY = date(2026, 11, 23)
BUDGET_S = 2.0


def timed(fn, *, budget: float = BUDGET_S, max_loops: int = 20_000) -> float:
    """Median seconds per call over as many calls as fit in `budget` (at least 3)."""
    samples = []
    deadline = time.perf_counter() + budget
    while len(samples) < 3 or (time.perf_counter() < deadline and len(samples) < max_loops):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    line = '/trustacks waive SOC2-CC6.1-IMAGE-SCAN --until 2027-01-31 --reason "base image CVE, no fix yet, SEC-42"'
    typical = "Thanks, looks good. The scanner flags a CVE we cannot fix yet.\n\n" + line + "\n"
    huge = ("lorem ipsum dolor sit amet, consectetur adipiscing elit " * 20 + "\n") * 900
    huge_cmd = "/trustacks rebase\n" + huge
    big_ok = "\n".join(["/trustacks help"] * 10) + "\n" + ("some review prose here " * 3 + "\n") * 850

    assert isinstance(parse(typical, today=TODAY), list)
    assert len(huge.encode()) > 1_000_000 and type(parse(huge, today=TODAY)).__name__ == "Ignore"
    assert type(parse(huge_cmd, today=TODAY)).__name__ == "Reply"
    assert isinstance(parse(big_ok, today=TODAY), list)

    cases = [
        ("typical comment", lambda: parse(typical, today=TODAY), lambda: shlex.split(line[len("/trustacks"):])),
        ("1 MB, no command", lambda: parse(huge, today=TODAY), lambda: huge.encode("utf-8")),
        ("1 MB, command", lambda: parse(huge_cmd, today=TODAY), lambda: huge_cmd.encode("utf-8")),
        ("60 KB, 10 commands", lambda: parse(big_ok, today=TODAY),
         lambda: [shlex.split(x[10:]) for x in big_ok.splitlines() if x.startswith("/trustacks")]),
    ]
    print(f"{'case':<22} {'parse()':>12} {'baseline':>12} {'ratio':>8}")
    results = {}
    for name, fn, base in cases:
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(timed(fn, budget=BUDGET_S / args.repeat))
            theirs.append(timed(base, budget=BUDGET_S / args.repeat))
        a, b = statistics.median(ours), statistics.median(theirs)
        results[name] = (a, b)
        print(f"{name:<22} {a * 1e6:>10.1f}us {b * 1e6:>10.1f}us {a / b:>7.1f}x")
    ok = results["typical comment"][0] < 100e-6 and results["1 MB, no command"][0] < 20e-3
    print("goals:", "met" if ok else "NOT met", "(typical < 100 us; 1 MB refused < 20 ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
