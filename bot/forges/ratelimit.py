"""Retry decisions for forge HTTP calls: rate limits (primary, secondary, 429) and transient 5xx.

Pure: `decide()` takes a status, the response headers, the error message, the attempt number and
the current time, and says whether to retry and after how long. The GitHub and GitLab clients call
it from their transports and sleep through an injectable coroutine, so tests never really sleep.

GitHub documents the rules this follows:
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
(`retry-after` first; `x-ratelimit-remaining: 0` means wait until `x-ratelimit-reset`; a secondary limit
without either means wait at least a minute, then exponentially longer, and give up after a few tries).
GitLab sends `Retry-After` and `RateLimit-Remaining`/`RateLimit-Reset` on 429:
https://docs.gitlab.com/ee/administration/settings/user_and_ip_rate_limits.html#response-headers
"""

from __future__ import annotations

import email.utils
import enum
from dataclasses import dataclass
from typing import Mapping

from bot.forges.base import ForgeError

#: statuses worth retrying as transient server trouble
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})

_SECONDARY_MARKERS = ("secondary rate limit", "abuse detection", "abuse-rate-limits")


class Limit(str, enum.Enum):
    """Why a response may be retried."""

    PRIMARY = "primary rate limit"
    SECONDARY = "secondary rate limit"
    TOO_MANY = "too many requests"
    TRANSIENT = "server error"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one request. The defaults suit a webhook worker holding a job lease."""

    #: total attempts for one request, the first one included
    max_attempts: int = 5
    #: the longest single wait; a longer one gives up with RateLimitedError (the job is retried later)
    max_wait: float = 300.0
    #: GitHub's floor for a secondary limit that names no wait
    secondary_min_wait: float = 60.0
    #: 5xx backoff: base * 2**(attempt-1), capped
    backoff_base: float = 1.0
    backoff_max: float = 30.0


@dataclass(frozen=True)
class Decision:
    """`retry` with `delay` seconds, or give up (`retry=False`) with the time the limit lifts if known."""

    kind: Limit
    retry: bool
    delay: float = 0.0
    retry_at: float | None = None


class RateLimitedError(ForgeError):
    """The forge keeps refusing for rate reasons; `retry_at` (epoch seconds) says when to try again."""

    def __init__(self, message: str, *, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def classify(status: int, headers: Mapping[str, str] | None, message: str = "") -> Limit | None:
    """Which kind of retryable refusal this response is, or None when retrying cannot help."""
    h = _lower(headers)
    remaining = h.get("x-ratelimit-remaining", h.get("ratelimit-remaining"))
    if status in (403, 429):
        if remaining is not None and _number(remaining) == 0:
            return Limit.PRIMARY
        text = (message or "").lower()
        if any(marker in text for marker in _SECONDARY_MARKERS) or "retry-after" in h:
            return Limit.SECONDARY
        if status == 429:
            return Limit.TOO_MANY
        return None  # a plain 403 is a permission problem: retrying cannot help
    if status in TRANSIENT_STATUSES:
        return Limit.TRANSIENT
    return None


def decide(
    status: int,
    headers: Mapping[str, str] | None,
    *,
    message: str = "",
    attempt: int,
    now: float,
    policy: RetryPolicy,
    idempotent: bool = True,
) -> Decision | None:
    """Retry or not after a failed attempt (`attempt` is 1-based and counts the one that failed).

    None: not a retryable failure (the caller raises its usual error). Rate refusals are always
    safe to retry (the forge did not act); a 5xx is retried only when `idempotent`, because a
    create behind a 502 may have happened.
    """
    kind = classify(status, headers, message)
    if kind is None or (kind is Limit.TRANSIENT and not idempotent):
        return None
    h = _lower(headers)
    after = retry_after_seconds(h.get("retry-after"), now=now)
    reset = _number(h.get("x-ratelimit-reset", h.get("ratelimit-reset")))
    until_reset = None if reset is None else max(0.0, reset - now) + 1.0  # +1: the reset second itself

    if kind is Limit.PRIMARY:
        delay = after if after is not None else (until_reset if until_reset is not None else policy.secondary_min_wait)
    elif kind in (Limit.SECONDARY, Limit.TOO_MANY):
        if after is not None:
            delay = after
        elif until_reset is not None and _number(h.get("x-ratelimit-remaining", h.get("ratelimit-remaining"))) == 0:
            delay = until_reset
        else:
            delay = policy.secondary_min_wait * 2 ** (attempt - 1)
    else:
        delay = after if after is not None else min(policy.backoff_max, policy.backoff_base * 2 ** (attempt - 1))

    if attempt >= policy.max_attempts or delay > policy.max_wait:
        return Decision(kind=kind, retry=False, delay=delay, retry_at=now + delay)
    return Decision(kind=kind, retry=True, delay=delay, retry_at=now + delay)
