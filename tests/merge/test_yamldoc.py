"""Positioned YAML nodes: both parsers (libyaml via ruamel.yaml.clib, ruamel's pure Python) agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.merge import yamldoc
from bot.merge.splice import split_bom
from bot.merge.yamldoc import MAP, SEQ, canon, parse

from .helpers import FIXTURES, read_text

CORPUS = sorted((FIXTURES / "corpus").iterdir())


def _nodes(text: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []

    def walk(node: yamldoc.Node) -> None:
        out.append((node.kind, node.start, node.tend, node.line, node.col, node.dash, node.close, node.value,
                    canon(node, parsed.resolve) if node.kind != MAP else None))
        if node.kind == MAP:
            for key, value in node.items:
                walk(key)
                walk(value)
        elif node.kind == SEQ:
            for item in node.items:
                walk(item)

    parsed = parse(text)
    for doc in parsed.docs:
        if doc.root is not None:
            walk(doc.root)
    return out


def _pure_only(text: str) -> Any:
    raise ImportError("pretend ruamel.yaml.clib is missing")


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_both_parsers_give_the_same_positions_and_values(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = split_bom(read_text(path))[1]
    with_c = _nodes(text)
    monkeypatch.setattr(yamldoc, "_c_events", _pure_only)
    assert _nodes(text) == with_c


def test_empty_values_sit_right_after_their_indicator(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a:\n\nb:   \n  # c\nc:\n- \n- x\n"
    expected = [n for n in _nodes(text) if n[0] == "scalar" and n[7] == ""]
    assert [(n[1], n[3]) for n in expected] == [(2, 0), (6, 2), (20, 5)]
    monkeypatch.setattr(yamldoc, "_c_events", _pure_only)
    assert [n for n in _nodes(text) if n[0] == "scalar" and n[7] == ""] == expected


def test_tight_ends_exclude_trailing_blank_lines_and_comments() -> None:
    text = "run: |\n  make\n\n# next\nlist:\n- a  # c\n\nafter: 1\n"
    root = parse(text).docs[0].root
    run, lst = root.items[0][1], root.items[1][1]
    assert text[run.start : run.tend] == "|\n  make"
    assert text[lst.start : lst.tend] == "- a"
    assert root.items[1][1].items[0].dash == text.index("- a")


def test_canonical_values_follow_yaml_1_2() -> None:
    root = parse("a: on\nb: yes\nc: true\nd: 012\ne: 0o17\nf: 1.0\ng: '1'\nh: ~\ni: !!str 3\n").docs[0].root
    values = {k.value: canon(v, lambda s: yamldoc.make_resolver()(s)) for k, v in root.items}
    assert values == {"a": "on", "b": "yes", "c": ("bool", True), "d": ("int", 12), "e": ("int", 15),
                      "f": ("float", 1.0), "g": "1", "h": None, "i": "3"}


def test_merge_keys_and_aliases_are_resolved_for_comparison() -> None:
    parsed = parse("base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\nsame: {x: 1, y: 3}\n")
    root = parsed.docs[0].root
    child, same = root.index["child"][1], root.index["same"][1]
    assert canon(child, parsed.resolve) == canon(same, parsed.resolve)
    assert root.index["base"][1].referenced and root.shared and not child.pure
