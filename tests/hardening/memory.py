"""Memory bounds for fuzz runs: how high memory peaks during a run and how much stays afterwards.

Two ways to measure, both from the standard library:
- `traced=True`: tracemalloc sees every Python allocation, so a cache that grows with each input
  shows up exactly; it slows allocation-heavy code two to three times, so the cheap targets use it.
- `traced=False`: the process's resident set from /proc (retained) and `getrusage` peak RSS (peak),
  which also see native allocations (regorus, libyaml) at no cost; the allocator may keep freed
  memory, so these are upper bounds.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import tracemalloc
from dataclasses import dataclass
from typing import Iterator

MB = 1024 * 1024
#: What hypothesis itself keeps per generated case (its tree of explored choices), measured with RSS over
#: 10,000 cases: up to ~16 KB retained and ~35 KB at peak for text-heavy strategies. The engines alone
#: retain nothing measurable over the same inputs (test_fuzz_engines.test_engines_keep_no_memory_per_input).
HYPOTHESIS_PEAK_KB_PER_CASE = 40
HYPOTHESIS_RETAINED_KB_PER_CASE = 20


@dataclass
class MemoryReport:
    traced: bool
    peak_bytes: int = 0
    retained_bytes: int = 0

    def __str__(self) -> str:
        kind = "Python allocations" if self.traced else "RSS"
        return f"{kind}: peak +{self.peak_bytes / MB:.1f} MB, retained +{self.retained_bytes / MB:.1f} MB"


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


@contextlib.contextmanager
def bounded_memory(*, peak_mb: float, retained_mb: float, traced: bool = False, cases: int = 0) -> Iterator[MemoryReport]:
    """Fail when the block's memory peaks above `peak_mb` or keeps more than `retained_mb` (both growth),
    plus hypothesis' own allowance for `cases` generated cases when the block is a hypothesis run."""
    report = MemoryReport(traced=traced)
    peak_mb += cases * HYPOTHESIS_PEAK_KB_PER_CASE / 1024
    retained_mb += cases * HYPOTHESIS_RETAINED_KB_PER_CASE / 1024
    gc.collect()
    started_tracing = traced and not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    if traced:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
    else:
        start, peak_start = rss_bytes(), peak_rss_bytes()
    try:
        yield report
    finally:
        gc.collect()
        if traced:
            current, peak = tracemalloc.get_traced_memory()
            if started_tracing:
                tracemalloc.stop()
            report.peak_bytes, report.retained_bytes = peak - start, current - start
        else:
            report.peak_bytes = max(0, peak_rss_bytes() - max(peak_start, start))
            report.retained_bytes = rss_bytes() - start
    assert report.peak_bytes < peak_mb * MB, f"memory peaked too high: {report}"
    assert report.retained_bytes < retained_mb * MB, f"memory grew over the run: {report}"
