"""Every forge module is registered in FORGES, and every registration imports."""

from __future__ import annotations

import importlib
import pkgutil

import bot.forges
from bot.forges import FORGES
from bot.forges.base import Forge

HELPERS = {"base", "github_auth", "ratelimit"}


def test_every_forge_module_is_registered():
    modules = {m.name for m in pkgutil.iter_modules(bot.forges.__path__)} - HELPERS
    registered = {target.split(":")[0].rsplit(".", 1)[1] for target in FORGES.values()}
    assert modules == registered


def test_registrations_are_forges():
    for name, target in FORGES.items():
        module, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        assert issubclass(cls, Forge) and cls.name == name
