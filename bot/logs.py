"""Structured JSON logs for the service: one JSON object per line, keyed by delivery id and job id.

Modules log through the standard library (`logging.getLogger(__name__)`, fields via `extra=`); the
handler installed by `configure_logging` renders each record with structlog's ProcessorFormatter:
context bound with `log_context(delivery_id=..., job_id=...)` (contextvars, so each asyncio task
keeps its own) is merged into every line, `delivery_id` and `job_id` are always present (null outside
a delivery or job), and every configured secret value is replaced by `***` as a last line of defence.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import IO, Any, Iterator, Sequence

import structlog

#: keys present on every line, null when the line is not about a delivery or a job
ALWAYS = ("delivery_id", "job_id")
REDACTED = "***"


def _always_keys(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in ALWAYS:
        event_dict.setdefault(key, None)
    return event_dict


class _Redactor:
    """Replace each secret value wherever it appears in the rendered line (message, fields, traceback)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        # longest first so a secret that contains another is replaced whole
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, _logger: Any, _name: str, rendered: str) -> str:
        for secret in self._secrets:
            if secret in rendered:
                rendered = rendered.replace(secret, REDACTED)
        return rendered


def json_formatter(*, secrets: Sequence[str] = ()) -> logging.Formatter:
    """A logging.Formatter that renders records as redacted JSON lines."""
    pre_chain = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _always_keys,
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("msg"),
            structlog.processors.JSONRenderer(sort_keys=False, default=str),
            _Redactor(secrets),
        ],
    )


def configure_logging(
    level: str = "INFO",
    *,
    secrets: Sequence[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send all stdlib logging to `stream` (stderr) as JSON lines. Called once by `trustacks serve`.

    Returns the installed handler so callers (tests) can remove it again.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(json_formatter(secrets=secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_trustacks", False)]:
        root.removeHandler(old)
    handler._trustacks = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log duplicates our own delivery lines and can carry query strings
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind fields (delivery_id, job_id, forge, forge_event) to every log line in this task."""
    with structlog.contextvars.bound_contextvars(**fields):
        yield
