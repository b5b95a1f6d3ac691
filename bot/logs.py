"""Structured JSON logs for the service: one JSON object per line, keyed by delivery id and job id.

Modules log through the standard library (`logging.getLogger(__name__)`, fields via `extra=`); the
handler installed by `configure_logging` renders each record as JSON: context bound with
`log_context(delivery_id=..., job_id=...)` (a ContextVar, so each asyncio task keeps its own) is
merged into every line, `delivery_id` and `job_id` are always present (null outside
a delivery or job), and every configured secret value is replaced by `***` as a last line of defence.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from types import MappingProxyType
from typing import IO, Any, Iterator, Mapping, Sequence

#: keys present on every line, null when the line is not about a delivery or a job
ALWAYS = ("delivery_id", "job_id")
REDACTED = "***"


#: the fields bound by `log_context`; a ContextVar holds per-task context, not shared state
_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "trustacks_log_context", default=MappingProxyType({})
)

#: attributes every LogRecord has; anything else on a record came from `extra=`
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    """Render a record as one JSON object: ts, level, logger, msg, bound context, `extra=` fields.

    Hand-rolled over the stdlib: about half the cost per line of structlog's ProcessorFormatter
    chain, which matters on the 202 path (measured with benchmarks/bench_webhooks.py).
    """

    def __init__(self, *, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        # longest first so a secret that contains another is replaced whole
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **dict.fromkeys(ALWAYS),
        }
        line.update(_CONTEXT.get())
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return self.redact(json.dumps(line, default=str, ensure_ascii=False))

    def redact(self, rendered: str) -> str:
        """Replace each secret value wherever it appears in the line (message, fields, traceback)."""
        for secret in self._secrets:
            if secret in rendered:
                rendered = rendered.replace(secret, REDACTED)
        return rendered


def _iso(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1e6):06d}Z"


def json_formatter(*, secrets: Sequence[str] = ()) -> logging.Formatter:
    """A logging.Formatter that renders records as redacted JSON lines."""
    return JSONFormatter(secrets=secrets)


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
    """Bind fields (delivery_id, job_id, forge, forge_event) to every log line in this task.

    A ContextVar, so each asyncio task (which copies the context when created) keeps its own.
    """
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> Mapping[str, Any]:
    """The fields bound by the enclosing `log_context` blocks."""
    return _CONTEXT.get()
