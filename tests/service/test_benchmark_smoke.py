"""The webhook benchmark still runs end to end (tiny, unbounded by timing: figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_webhooks_runs_and_prints_its_figures():
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_webhooks.py", "--count", "400", "--rate", "100", "--seconds", "1",
         "--rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "closed loop (64 in flight): rps" in out and "serve RSS after" in out and out.rstrip().splitlines()[-1].startswith("goals:")
    non_2xx = next(line for line in out.splitlines() if line.startswith("non-2xx answers")).split()[-2:]
    assert non_2xx == ["0", "0"]  # every signed delivery was accepted by both servers
