"""Property tests (hypothesis) for the YAML merge, judged by what YAML 1.2 reads back.

- merging a file with itself, or with the same data written by another formatter, changes nothing;
- a file the human did not change since the base (or changed only by adding comments) ends up with
  exactly the generator's data;
- a change only the human made is never lost, while the generator's other changes all land;
- merging the result again is a no-op (the merge reaches a fixed point).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator
from unittest import mock

import pytest

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml.error import YAMLError

from bot.merge import merge_file
from bot.merge.identity import IDENTITY_KEYS

from .helpers import STYLES, dump, load

PATH = "values.yaml"
PROPERTY_SETTINGS = settings(max_examples=int(__import__("os").environ.get("MERGE_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(lambda k: k not in IDENTITY_KEYS)
TEXT = st.text(alphabet="abxyz 09:#-'\"./@{}[],!&*|>%`é", max_size=10)
TRICKY = st.sampled_from(
    ["true", "True", "on", "yes", "null", "~", "1.0", "1.10", "0o17", "012", "", " ", "a: b", "- x",
     "#x", "2024-01-01", "1_000", "${{ x }}", "multi\nline", "trailing "]
)
SCALAR = st.one_of(
    st.integers(-(10**6), 10**9), st.booleans(), st.none(), st.sampled_from([0.5, 1.25, -3.0, 1e20]), TEXT, TRICKY
)
NAMES = st.from_regex(r"[A-Z][a-z]{0,6}", fullmatch=True)


def _records(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[str, Any]]]:
    record = st.fixed_dictionaries({"name": NAMES}, optional={"run": SCALAR, "with": st.dictionaries(KEYS, SCALAR, max_size=2)})
    return st.lists(record, max_size=4, unique_by=lambda r: r["name"])


DATA = st.recursive(
    SCALAR,
    lambda children: st.one_of(
        st.lists(SCALAR, max_size=4, unique=True),
        st.dictionaries(KEYS, children, max_size=4),
        _records(children),
    ),
    max_leaves=12,
)
DOCS = st.dictionaries(KEYS, DATA, min_size=1, max_size=5)
STYLE = st.sampled_from(STYLES)


def _dump(data: Any, style: tuple) -> str:
    """`data` as YAML; examples ruamel cannot read back (it writes `{a: :0}` and bare tabs) are skipped."""
    text = dump(data, style)
    try:
        assume(load(text) == data)
    except YAMLError:
        assume(False)
    return text


# --------------------------------------------------------------------------- data paths and changes


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def _entries(data: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every mapping entry (a record's identity `name` excluded)."""
    out: list[tuple] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append(path + (key,))
            out.extend(_entries(value, path + (key,)))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            out.extend(p for p in _entries(item, path + (i,)) if not (isinstance(item, dict) and p == path + (i, "name")))
    return out


def _dicts(data: Any, path: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(data, dict):
        out.append(path)
        for key, value in data.items():
            out.extend(_dicts(value, path + (key,)))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            out.extend(_dicts(item, path + (i,)))
    return out


def _scalar_lists(data: Any, path: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(data, list):
        if all(not isinstance(i, (dict, list)) for i in data):
            out.append(path)
        for i, item in enumerate(data):
            out.extend(_scalar_lists(item, path + (i,)))
    elif isinstance(data, dict):
        for key, value in data.items():
            out.extend(_scalar_lists(value, path + (key,)))
    return out


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _related(a: tuple, b: tuple) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _apply(data: Any, change: tuple) -> None:
    kind, path, value = change
    if kind == "set":
        _get(data, path[:-1])[path[-1]] = copy.deepcopy(value)
    elif kind == "delete":
        del _get(data, path[:-1])[path[-1]]
    elif kind == "append":
        _get(data, path).append(copy.deepcopy(value))


def _draw_change(draw: Any, data: Any, *, avoid: list[tuple], with_delete: bool) -> tuple | None:
    """One random change to `data`, on a path unrelated to every path in `avoid`."""
    kinds = ["set", "add", "append"] + (["delete"] if with_delete else [])
    kind = draw(st.sampled_from(kinds))
    if kind in ("set", "delete"):
        paths = [p for p in _entries(data) if not any(_related(p, a) for a in avoid)]
        if not paths:
            return None
        path = draw(st.sampled_from(paths))
        if kind == "delete":
            return ("delete", path, None), path
        value = draw(SCALAR | st.dictionaries(KEYS, SCALAR, min_size=1, max_size=2))
        return ("set", path, value), path
    if kind == "add":
        parents = [p for p in _dicts(data) if not any(_related(p, a) for a in avoid)]
        if not parents:
            return None
        parent = draw(st.sampled_from(parents))
        key = draw(KEYS)
        assume(key not in _get(data, parent))
        value = draw(SCALAR | st.dictionaries(KEYS, SCALAR, min_size=1, max_size=2) | st.lists(SCALAR, max_size=2, unique=True))
        return ("set", parent + (key,), value), parent + (key,)
    lists = [p for p in _scalar_lists(data) if not any(_related(p, a) for a in avoid)]
    if not lists:
        return None
    path = draw(st.sampled_from(lists))
    value = draw(SCALAR)
    assume(all(not (type(v) is type(value) and v == value) for v in _get(data, path)) and value not in _get(data, path))
    return ("append", path, value), path


# --------------------------------------------------------------------------- properties

SEGMENTS = pytest.mark.parametrize("segments", [True, False], ids=["segments", "whole-file"])


@contextlib.contextmanager
def _segments(enabled: bool) -> Iterator[None]:
    """Run with the top-level segment shortcut (the default) or force every text to be parsed whole."""
    if enabled:
        yield
    else:
        with mock.patch("bot.merge.core.skippable_keys", return_value=frozenset()):
            yield


@SEGMENTS
@PROPERTY_SETTINGS
@given(data=DOCS, ours=STYLE, theirs=STYLE)
def test_merging_the_same_data_changes_nothing(data: dict, ours: tuple, theirs: tuple, segments: bool) -> None:
    with _segments(segments):
        current = _dump(data, ours)
        generated = _dump(data, theirs)  # same data, possibly another layout
        for base in (None, generated):
            result = merge_file(PATH, current=current, base=base, generated=generated)
            assert result.content is None and not result.changed, result
            assert result.final == current
            assert not result.conflicts and not result.notes
        # the human never touched the bot's file: the generator's layout is taken as is
        assert merge_file(PATH, current=current, base=current, generated=generated).final == generated


@SEGMENTS
@PROPERTY_SETTINGS
@given(draw=st.data())
def test_untouched_file_takes_the_generator_update(draw: st.DataObject, segments: bool) -> None:
    with _segments(segments):
        base_data = draw.draw(DOCS)
        gen_data = copy.deepcopy(base_data)
        for _ in range(draw.draw(st.integers(1, 4))):
            change = _draw_change(draw.draw, gen_data, avoid=[], with_delete=True)
            if change is not None:
                _apply(gen_data, change[0])
        style = draw.draw(STYLE)
        base = _dump(base_data, style)
        generated = _dump(gen_data, style)

        exact = merge_file(PATH, current=base, base=base, generated=generated)
        assert exact.final == generated  # byte for byte when nobody touched the file

        # the human only added comments: the data becomes the generator's, the comments stay
        current = "# owned by the platform team\n" + base + "# end of file\n"
        result = merge_file(PATH, current=current, base=base, generated=generated)
        assert not result.conflicts, result.conflicts
        assert load(result.final) == load(generated)
        assert result.final.startswith("# owned by the platform team\n")
        assert "# end of file\n" in result.final
        again = merge_file(PATH, current=result.final, base=base, generated=generated)
        assert again.content is None, again


@SEGMENTS
@PROPERTY_SETTINGS
@given(draw=st.data())
def test_human_only_change_is_never_lost(draw: st.DataObject, segments: bool) -> None:
    with _segments(segments):
        base_data = draw.draw(DOCS)
        human = _draw_change(draw.draw, base_data, avoid=[], with_delete=False)
        assume(human is not None and human[0][0] == "set")
        human_change, human_path = human
        assume(not (isinstance(_get(base_data, human_path[:-1]), dict) and human_path[-1] in _get(base_data, human_path[:-1])
                    and _get(base_data, human_path) == human_change[2]))
        gen_data = copy.deepcopy(base_data)
        gen_changes = []
        avoid = [human_path]
        for _ in range(draw.draw(st.integers(1, 3))):
            change = _draw_change(draw.draw, gen_data, avoid=avoid, with_delete=True)
            if change is not None:
                _apply(gen_data, change[0])
                gen_changes.append(change[0])
                avoid.append(change[1])
        human_data = copy.deepcopy(base_data)
        _apply(human_data, human_change)
        expected = copy.deepcopy(human_data)
        for change in gen_changes:
            _apply(expected, change)

        gen_style = draw.draw(STYLE)
        base = _dump(base_data, gen_style)
        generated = _dump(gen_data, gen_style)
        current = _dump(human_data, draw.draw(STYLE))

        result = merge_file(PATH, current=current, base=base, generated=generated)
        assert not result.conflicts, result.conflicts
        assert load(result.final) == expected
        again = merge_file(PATH, current=result.final, base=base, generated=generated)
        assert again.content is None, again


@SEGMENTS
@PROPERTY_SETTINGS
@given(data=DOCS, extra=st.dictionaries(KEYS, SCALAR, min_size=1, max_size=3), ours=STYLE, theirs=STYLE)
def test_preserve_mode_adds_only_what_is_missing(data: dict, extra: dict, ours: tuple, theirs: tuple, segments: bool) -> None:
    """No base: every existing value is kept, and the generator's missing keys are added."""
    with _segments(segments):
        wanted = copy.deepcopy(data)
        for key, value in extra.items():
            wanted[key] = value
        current = _dump(data, ours)
        result = merge_file(PATH, current=current, base=None, generated=_dump(wanted, theirs))
        merged = load(result.final)
        for key, value in data.items():
            assert merged[key] == value  # kept, even where the generator wanted another value
        for key, value in extra.items():
            if key not in data:
                assert merged[key] == value
        differing = [k for k in extra if k in data and (type(data[k]) is not type(extra[k]) or data[k] != extra[k])]
        assert {n.key for n in result.notes} == set(differing)
