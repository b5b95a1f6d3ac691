"""Top-level segments: the speed shortcut must never change what a merge decides."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest

from bot.merge import merge_file
from bot.merge.segments import skippable_keys, split
from bot.merge.yamldoc import STUB, make_resolver, parse

from .helpers import FIXTURES, load_all, read_text

VALUES = "# header\nimage:\n  tag: '1'\n\n# about env\nenv:\n- name: A\n  value: b\nreplicas: 2\n"


def test_split_finds_top_level_entries_with_their_comments() -> None:
    segments = split(VALUES)
    assert [s.key for s in segments] == ["image", "env", "replicas"]
    assert VALUES[segments[0].start : segments[0].end] == "image:\n  tag: '1'\n\n# about env\n"
    assert VALUES[segments[1].start : segments[1].end] == "env:\n- name: A\n  value: b\n"


@pytest.mark.parametrize("text", [
    "- a\n- b\n",                      # the root is a list
    "a: 1\n---\nb: 2\n",               # several documents
    "%YAML 1.2\n---\na: 1\n",          # a directive
    "a: &x 1\nb: *x\n",                # anchors and aliases
    "a:\n  <<: {b: 1}\n",              # a merge key
    '"quoted": 1\n',                   # a key that is not plain
    "a: 1\na: 2\n",                    # a duplicate key
    "# only a comment\n",
])
def test_split_refuses_every_shape_it_cannot_vouch_for(text: str) -> None:
    assert split(text) is None


def test_skippable_keys_is_diff3_on_segments() -> None:
    base = "a: 1\nb: 1\nc: 1\nd: 1\n"
    current = "a: 1\nb: 2\nc: 2\nd: 1\n"
    generated = "a: 1\nb: 1\nc: 3\nd: 3\n"
    assert skippable_keys(current, generated) == {"a"}
    assert skippable_keys(current, generated, base) == {"a", "b", "d"}  # c changed on both sides
    assert skippable_keys("- x\n", generated, base) == frozenset()


def test_parsed_entries_have_the_positions_of_a_whole_parse() -> None:
    resolve = make_resolver()
    whole = parse(VALUES, resolve=resolve).docs[0].root
    parts = parse(VALUES, resolve=resolve, skip={"image"}).docs[0].root
    assert parts.items[0][1].kind == STUB
    for (k1, v1), (k2, v2) in zip(whole.items[1:], parts.items[1:]):
        assert (k1.start, k1.line, v1.start, v1.tend, v1.line, v1.col) == (k2.start, k2.line, v2.start, v2.tend, v2.line, v2.col)
        assert [i.dash for i in v1.items] == [i.dash for i in v2.items]


def test_a_broken_file_is_reported_even_where_it_would_be_skipped() -> None:
    current = "a: 1\nb: [1\n"
    result = merge_file("v.yaml", current=current, base="a: 1\nb: 1\n", generated="a: 2\nb: 1\n")
    assert result.mode == "error" and "flow sequence" in result.error


CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and (p / "case.json").exists())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_cases_decide_the_same_without_segments(case: Path) -> None:
    meta = json.loads((case / "case.json").read_text())
    texts = {n: read_text(case / n) if (case / n).exists() else None for n in ("current", "base", "generated")}
    fast = merge_file(meta["path"], **texts)
    with mock.patch("bot.merge.core.skippable_keys", return_value=frozenset()):
        slow = merge_file(meta["path"], **texts)
    assert (fast.mode, fast.changed) == (slow.mode, slow.changed)
    assert [n.key for n in fast.conflicts] == [n.key for n in slow.conflicts]
    assert [n.key for n in fast.notes] == [n.key for n in slow.notes]
    if fast.strategy == "yaml" and fast.error is None:
        assert load_all(fast.final) == load_all(slow.final)
