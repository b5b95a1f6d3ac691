"""Real-world style YAML (fixtures/merge/corpus/): the merge leaves a human's bytes alone.

- a no-op merge (the generator wants the same data, written by another formatter) returns the file
  byte for byte: comments, quoting, flow spacing, anchors, `---`/`...`, CRLF and BOM included;
- a change to one value rewrites that value's line and nothing else, and the result reads back as the
  generator's data.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

import pytest
from ruamel.yaml import YAML

from bot.merge import merge_file
from bot.merge.identity import IDENTITY_KEYS
from bot.merge.splice import split_bom
from bot.merge.yamldoc import ALIAS, MAP, SCALAR, SEQ, Node, canon, parse

from .helpers import FIXTURES, load_all, read_text

CORPUS = sorted((FIXTURES / "corpus").iterdir())
LEAVES_PER_FILE = 6


def _roundtrip(text: str, change: tuple[int, tuple, Any] | None = None) -> str:
    """The file's data written by ruamel (a different layout), optionally with one value changed."""
    yaml = YAML(typ="rt")
    yaml.width = 4096
    docs = list(yaml.load_all(text))
    if change is not None:
        doc, path, value = change
        target = docs[doc]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    out = io.StringIO()
    yaml.dump_all(docs, out)
    return out.getvalue()


def _leaves(node: Node, path: tuple, resolve: Any) -> Iterator[tuple[tuple, Node]]:
    """Single-line scalar values of mapping entries that the generator could plausibly change."""
    if node.referenced or node.kind == ALIAS:
        return
    if node.kind == MAP:
        for key, value in node.items:
            name = canon(key, resolve)
            if not isinstance(name, str) or name in IDENTITY_KEYS or name == "kind" or key.kind != SCALAR:
                continue
            if value.kind == SCALAR and not value.referenced and value.style not in ("|", ">") and not value.multiline:
                if value.tag is None and _changeable(canon(value, resolve)):
                    yield path + (name,), value
            else:
                yield from _leaves(value, path + (name,), resolve)
    elif node.kind == SEQ:
        for i, item in enumerate(node.items):
            yield from _leaves(item, path + (i,), resolve)


def _changeable(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return value[0] in ("bool", "int") or (value[0] == "float" and isinstance(value[1], float))


def _new_value(node: Node, resolve: Any) -> Any:
    value = canon(node, resolve)
    if value is None:
        return "set-by-generator"
    if isinstance(value, str):
        return value + "-next"
    kind, inner = value
    if kind == "bool":
        return not inner
    if kind == "int":
        return inner + 1
    if kind == "float":
        return inner + 1.5
    raise AssertionError(value)


def _spread(items: list[Any], count: int) -> list[Any]:
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def test_corpus_has_the_kinds_of_file_the_issue_names() -> None:
    names = {p.name for p in CORPUS}
    for expected in ("gha-ci.yml", "helm-values.yaml", "kustomization.yaml", "argocd-application.yaml",
                     "docker-compose.yml", "gitlab-ci.yml", "k8s-manifests.yaml"):
        assert expected in names
    assert b"\r\n" in (FIXTURES / "corpus" / "values-crlf.yaml").read_bytes()
    assert (FIXTURES / "corpus" / "workflow-bom.yml").read_bytes().startswith(b"\xef\xbb\xbf")


def test_a_redump_would_not_preserve_the_corpus() -> None:
    """The premise of DESIGN.md §8, on our corpus: most files do not survive a ruamel round trip."""
    changed = [p.name for p in CORPUS if _roundtrip(split_bom(read_text(p))[1]) != read_text(p)]
    assert len(changed) >= len(CORPUS) // 2, changed


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_noop_merge_is_byte_identical(path: Path) -> None:
    original = read_text(path)
    reformatted = _roundtrip(split_bom(original)[1])
    assert load_all(reformatted) == load_all(original)
    for base in (None, reformatted):
        result = merge_file(path.name, current=original, base=base, generated=reformatted)
        assert result.content is None, result
        assert result.final == original
        assert not result.notes and not result.conflicts
    same = merge_file(path.name, current=original, base=None, generated=original)
    assert same.content is None and same.mode == "unchanged"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_one_changed_value_rewrites_only_its_line(path: Path) -> None:
    original = read_text(path)
    bom, body = split_bom(original)
    parsed = parse(body)
    candidates = [
        (d, leaf_path, node)
        for d, doc in enumerate(parsed.docs)
        if doc.root is not None
        for leaf_path, node in _leaves(doc.root, (), parsed.resolve)
    ]
    assert candidates, "every corpus file has values to change"
    base = _roundtrip(body)
    for doc, leaf_path, node in _spread(candidates, LEAVES_PER_FILE):
        generated = _roundtrip(body, (doc, leaf_path, _new_value(node, parsed.resolve)))
        result = merge_file(path.name, current=original, base=base, generated=generated)
        assert result.changed and not result.conflicts, (leaf_path, result)
        merged = result.content
        assert merged is not None
        assert load_all(merged) == load_all(generated), leaf_path
        start = len(bom) + parsed.line_start(node.start)
        end = len(bom) + parsed.content_end(node.tend)
        assert merged[:start] == original[:start], leaf_path
        assert merged.endswith(original[end:]), leaf_path
        assert "\n" not in merged[start : len(merged) - (len(original) - end)], leaf_path


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_many_changed_values_all_land_and_the_rest_is_kept(path: Path) -> None:
    original = read_text(path)
    bom, body = split_bom(original)
    parsed = parse(body)
    yaml = YAML(typ="rt")
    yaml.width = 4096
    docs = list(yaml.load_all(body))
    touched: set[int] = set()
    for d, doc in enumerate(parsed.docs):
        if doc.root is None:
            continue
        for leaf_path, node in _leaves(doc.root, (), parsed.resolve):
            target = docs[d]
            for part in leaf_path[:-1]:
                target = target[part]
            target[leaf_path[-1]] = _new_value(node, parsed.resolve)
            touched.add(parsed.line_of(node.start))
    out = io.StringIO()
    yaml.dump_all(docs, out)
    generated = out.getvalue()
    result = merge_file(path.name, current=original, base=_roundtrip(body), generated=generated)
    assert not result.conflicts, result.conflicts
    assert result.content is not None
    assert load_all(result.content) == load_all(generated)
    kept = [line for i, line in enumerate(body.split("\n")) if i not in touched]
    merged_lines = split_bom(result.content)[1].split("\n")
    assert len(merged_lines) == len(body.split("\n"))  # no line added or removed
    assert [line for i, line in enumerate(merged_lines) if i not in touched] == kept
    assert result.content.startswith(bom)
