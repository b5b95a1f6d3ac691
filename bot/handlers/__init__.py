"""Event handlers: route one leased job (a stored webhook delivery) to the function for its event.

`build_dispatcher(settings)` is what `trustacks serve` gives its worker pool. Handlers are small and
idempotent: a retried job updates the same PR instead of opening another.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

Dispatcher = Callable[[Any], Awaitable[None]]


def build_dispatcher(settings: Any) -> Dispatcher:
    """Return the coroutine the worker calls for each job. (Event routing lands with issue #9.)"""

    async def dispatch(job: Any) -> None:
        log.info("event %s acknowledged; no handler yet", getattr(job, "event", "?"))

    return dispatch
