"""Fixtures for the spine tests: a fresh local forge in a temp dir."""

from __future__ import annotations

import pytest

from bot.forges.local import LocalForge, LocalForgeAdmin


@pytest.fixture
def local_forge(tmp_path):
    forge = LocalForge(tmp_path / "forge")
    yield forge
    forge.close()


@pytest.fixture
def admin(local_forge):
    return LocalForgeAdmin(local_forge)


@pytest.fixture
def app_repo(admin):
    admin.create_repo(
        "acme/app",
        files={"README.md": "# app\n", "src/main.py": "print('hi')\n"},
        protected=["release/*"],
    )
    return "acme/app"
