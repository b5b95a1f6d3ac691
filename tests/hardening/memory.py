"""Memory bounds for fuzz runs: the peak of Python allocations and what stays allocated afterwards.

tracemalloc sees every Python allocation (ruamel, json, tarfile, the engines' own objects), so a YAML
bomb that expands, or a cache that grows with each input, shows up as peak or retained bytes. The
process's peak RSS (`resource.getrusage`) is reported beside it for native allocations.
"""

from __future__ import annotations

import contextlib
import gc
import resource
import tracemalloc
from dataclasses import dataclass
from typing import Iterator

MB = 1024 * 1024


@dataclass
class MemoryReport:
    peak_bytes: int = 0
    retained_bytes: int = 0
    rss_growth_kb: int = 0

    def __str__(self) -> str:
        return (f"peak {self.peak_bytes / MB:.1f} MB, retained {self.retained_bytes / MB:.1f} MB, "
                f"max RSS +{self.rss_growth_kb / 1024:.1f} MB")


@contextlib.contextmanager
def bounded_memory(*, peak_mb: float, retained_mb: float) -> Iterator[MemoryReport]:
    """Fail when the block's Python allocations peak above `peak_mb` or keep more than `retained_mb`."""
    report = MemoryReport()
    was_tracing = tracemalloc.is_tracing()
    gc.collect()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        yield report
    finally:
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        if not was_tracing:
            tracemalloc.stop()
        report.peak_bytes = peak - start
        report.retained_bytes = current - start
        report.rss_growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start
    assert report.peak_bytes < peak_mb * MB, f"memory peaked too high: {report}"
    assert report.retained_bytes < retained_mb * MB, f"memory grew over the run: {report}"
