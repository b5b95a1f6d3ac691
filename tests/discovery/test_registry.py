"""The detector list is complete and consistent: one module per detector, each registered once."""

from __future__ import annotations

import importlib
import pkgutil

import bot.discovery as package
from bot.catalog import CATEGORIES, CATEGORY_NAMES
from bot.discovery import DETECTORS
from bot.discovery.base import KINDS, Detector, Rule

NOT_DETECTORS = {"base", "engine", "diff", "cli"}


def _detector_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in NOT_DETECTORS)


def test_every_detector_module_is_registered_exactly_once():
    registered = [d.detect.__module__.rsplit(".", 1)[-1] for d in DETECTORS]
    assert sorted(registered) == _detector_modules()
    assert len(set(registered)) == len(registered)


def test_every_detector_module_exports_its_detector():
    for name in _detector_modules():
        module = importlib.import_module(f"bot.discovery.{name}")
        assert isinstance(getattr(module, "DETECTOR", None), Detector), name
        assert module.DETECTOR in DETECTORS, name


def test_detector_names_are_unique_and_kinds_are_known():
    names = [d.name for d in DETECTORS]
    assert len(set(names)) == len(names)
    for d in DETECTORS:
        assert d.kinds and d.kinds <= KINDS, (d.name, d.kinds - KINDS)


def test_each_profile_category_is_owned_by_exactly_one_detector():
    owners: dict[str, list[str]] = {}
    for d in DETECTORS:
        for c in d.categories:
            owners.setdefault(c, []).append(d.name)
    assert sorted(owners) == sorted(CATEGORY_NAMES)
    assert all(len(v) == 1 for v in owners.values()), owners


def test_rule_tables_only_name_catalog_tools_of_their_detector_categories():
    for d in DETECTORS:
        module = importlib.import_module(d.detect.__module__)
        rules = [r for r in getattr(module, "RULES", ()) if isinstance(r, Rule)]
        names = list(getattr(module, "NAMES", {}).values())
        for r in [*rules, *names]:
            assert r.category in d.categories, (d.name, r.category)
            assert r.tool in CATEGORIES[r.category], (d.name, r.tool)
        for r in rules:
            assert r.kinds <= KINDS, (d.name, r.tool, r.kinds)
            assert all(k == k.lower() for k in r.keywords), (d.name, r.tool)


def test_every_catalog_tool_has_at_least_one_clue():
    """A tool in the catalog that no detector can emit would silently never be discovered."""
    emitted: set[tuple[str, str]] = set()
    sources = {}
    for d in DETECTORS:
        module = importlib.import_module(d.detect.__module__)
        emitted |= {(r.category, r.tool) for r in getattr(module, "RULES", ())}
        emitted |= {(r.category, r.tool) for r in getattr(module, "NAMES", {}).values()}
        sources[d.name] = (module.__file__ and open(module.__file__, encoding="utf-8").read()) or ""
    for category, tools in CATEGORIES.items():
        owner = next(d for d in DETECTORS if category in d.categories)
        for tool in tools:
            assert (category, tool) in emitted or f'"{tool}"' in sources[owner.name], (category, tool)
