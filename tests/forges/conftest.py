"""Shared by the forge client tests: a clock the fakes and the clients agree on."""

from __future__ import annotations

import pytest


class Clock:
    """Settable time, so rate-limit resets, token expiry and protection caches move without sleeping."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
