"""Shared helpers for the merge tests: loading YAML as plain data and dumping it in several styles."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import MappingNode, SequenceNode

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "merge"

#: (mapping indent, sequence indent, sequence dash offset, default_flow_style)
STYLES = [(2, 2, 0, False), (2, 4, 2, False), (4, 4, 2, False), (2, 2, 0, None)]


class _LocalTags(SafeConstructor):
    """The safe constructor, plus `!local` tags (GitLab's `!reference`, CloudFormation's `!Ref`) as pairs."""


def _local_tag(constructor: SafeConstructor, suffix: str, node: Any) -> Any:
    if isinstance(node, SequenceNode):
        return (f"!{suffix}", constructor.construct_sequence(node, deep=True))
    if isinstance(node, MappingNode):
        return (f"!{suffix}", constructor.construct_mapping(node, deep=True))
    return (f"!{suffix}", constructor.construct_scalar(node))


_LocalTags.add_multi_constructor("!", _local_tag)


def load_all(text: str) -> list[Any]:
    """Plain data as YAML 1.2 reads it (ruamel's safe loader); the reference the merge is judged by."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _LocalTags
    return list(yaml.load_all(text))


def load(text: str) -> Any:
    docs = load_all(text)
    assert len(docs) == 1, docs
    return docs[0]


def dump(data: Any, style: tuple[int, int, int, bool | None] = STYLES[0]) -> str:
    """`data` written by ruamel in one of several layouts (a different formatter than the human's)."""
    yaml = YAML(typ="rt")
    yaml.width = 4096
    mapping, sequence, offset, flow = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def dump_all(docs: list[Any]) -> str:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump_all(docs, out)
    return out.getvalue()


def read_text(path: Path) -> str:
    """A fixture exactly as stored: no newline translation, BOM kept."""
    return path.read_bytes().decode("utf-8")
