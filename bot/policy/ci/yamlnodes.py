"""YAML to plain Python with line numbers, via libyaml's composer (fast, no object construction).

CI facts need each step's line for `path:line` evidence, and they need it fast (a proposal may hold
dozens of pipeline files). PyYAML's C composer yields nodes with start marks; this module turns them
into `LMap` / `LList` (dict / list subclasses carrying `.line`) and plain strings. Scalars stay
strings (`"true"`, `"1"`): the classifiers compare text. Merge keys (`<<`) are applied, aliases are
expanded under a node budget so an alias bomb cannot exhaust memory, and tags (GitLab `!reference`)
are ignored rather than refused.
"""

from __future__ import annotations

from typing import Any, Iterator

import yaml

try:  # libyaml when present (it is in the pinned wheels); the pure loader otherwise
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader

MAX_NODES = 50_000
_TAGS = {yaml.ScalarNode: "tag:yaml.org,2002:str", yaml.SequenceNode: "tag:yaml.org,2002:seq",
         yaml.MappingNode: "tag:yaml.org,2002:map"}


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """The composer without PyYAML's implicit-tag resolver, which runs in Python for every node.

    Nothing here reads tags (scalars stay strings, `<<` is found by its text), so each node gets its
    kind's default tag: ~30% off composing a workflow.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return _TAGS[kind]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class YamlError(ValueError):
    """Text that is not YAML, or too large once aliases are expanded."""


class LMap(dict):
    """A mapping with the line (1-based) where it starts and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class LList(list):
    line: int = 0


def load_all(text: str) -> list[Any]:
    """Every document of `text`, as LMap/LList/str trees. Raises YamlError."""
    budget = [MAX_NODES]
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise YamlError(f"{where}{getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise YamlError("nesting too deep") from None
    return [_build(n, budget, 0) for n in nodes if n is not None]


def _build(node: Any, budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlError(f"more than {MAX_NODES} nodes once aliases are expanded")
    if depth > 100:
        raise YamlError("nesting too deep")
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        out = LList(_build(n, budget, depth + 1) for n in node.value)
        out.line = node.start_mark.line + 1
        return out
    if isinstance(node, yaml.MappingNode):
        m = LMap()
        m.line = node.start_mark.line + 1
        m.key_lines = {}
        merged: list[LMap] = []
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(_build(k, budget, depth + 1))
            if key == "<<":
                value = _build(v, budget, depth + 1)
                merged.extend(x for x in (value if isinstance(value, list) else [value]) if isinstance(x, dict))
                continue
            m[key] = _build(v, budget, depth + 1)
            m.key_lines[key] = k.start_mark.line + 1
        for src in merged:
            for key, value in src.items():
                if key not in m:
                    m[key] = value
                    m.key_lines[key] = getattr(src, "key_lines", {}).get(key, src.line)
        return m
    return None


def walk_maps(node: Any) -> Iterator[LMap]:
    """Every mapping in a tree, depth first."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            yield cur  # type: ignore[misc]
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            stack.extend(reversed(cur))


def line_of(node: Any, key: str | None = None, default: int = 0) -> int:
    if key is not None and isinstance(node, LMap):
        return node.key_lines.get(key, node.line)
    return getattr(node, "line", default) or default


def text(value: Any) -> str:
    """A scalar or list of scalars as one shell-ish text (lists joined by newlines)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(text(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(f"{k}={text(v)}" for k, v in value.items())
    return str(value)


def str_map(value: Any) -> dict[str, str]:
    """A mapping of scalars as {str: str} (non-mappings give {})."""
    if not isinstance(value, dict):
        return {}
    return {str(k): text(v) for k, v in value.items()}
