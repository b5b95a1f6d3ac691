"""The store's own threads: deliveries first, errors handed back."""

from __future__ import annotations

import threading

import pytest

from bot.store.core import NORMAL, URGENT, _PriorityExecutor


def test_deliveries_jump_the_queue_of_store_work():
    """The store thread runs a waiting enqueue before queued lease bookkeeping (the 202 stays fast)."""
    executor = _PriorityExecutor(1, name="t")
    gate = threading.Event()
    order: list[str] = []
    blocker = executor.submit(gate.wait)
    futures = [executor.submit(lambda n=n: order.append(n), priority=p)
               for n, p in (("lease-1", NORMAL), ("lease-2", NORMAL), ("enqueue", URGENT), ("lease-3", NORMAL))]
    gate.set()
    for f in [blocker, *futures]:
        f.result(timeout=5)
    executor.shutdown()
    assert order == ["enqueue", "lease-1", "lease-2", "lease-3"]
    failing = _PriorityExecutor(1, name="t2")
    with pytest.raises(ZeroDivisionError):
        failing.submit(lambda: 1 / 0).result(timeout=5)
    failing.shutdown()
