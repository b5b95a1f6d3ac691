"""A YAML file as a tree of nodes that remember where they are in the original text.

This module owns parsing for the read-and-preserve merge (DESIGN.md §8). The merge never re-dumps a
file: it needs, for every mapping entry, sequence item and scalar, the exact character span in the
human's text so an edit can be spliced in and every other byte left alone. ruamel.yaml's parser events
carry those marks (`start_mark.index` / `end_mark.index`, in characters, CRLF counted as two).

We build our own small node tree from the events instead of ruamel's composer for two reasons: the
composer returns the anchored node itself for an alias, losing the alias's own position, and the
pure-Python composer takes ~150 ms on a 2,000-line values file. Events come from ruamel.yaml's C
parser (`ruamel.yaml.clib`, ~5 ms for the same file); if it is missing or refuses a file, the
pure-Python ruamel parser decides, and its message is the one reported. Implicit scalar types are
resolved with ruamel's YAML 1.2 resolver (`on`/`yes` are strings, as GitHub Actions reads them).

Like ruamel's round-trip loader, a mapping with a duplicate key is refused (reported, never merged).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ruamel.yaml import events as ev
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

MAP = "map"
SEQ = "seq"
SCALAR = "scalar"
ALIAS = "alias"

BOM = "\ufeff"
_CORE = "tag:yaml.org,2002:"
MERGE_KEY = ("merge", "<<")

_UNSET: Any = object()


class YamlError(ValueError):
    """The text is not YAML we can merge; `str()` is the parser's message (with line and column)."""


class Node:
    """One YAML node and its character span in the source text.

    `start`/`end` are the parser's marks (anchor and tag included). `tend` is the tight end: the end of
    the node's last content character (block scalars drop their trailing blank lines, block
    collections end where their last child ends, not at the next token as the parser reports).
    """

    __slots__ = (
        "kind", "src", "start", "end", "tend", "line", "col", "flow", "anchor", "tag", "style",
        "value", "plain_implicit", "items", "index", "target", "referenced", "pure", "shared",
        "dash", "close", "_canon",
    )

    def __init__(self, kind: str, src: str, start: Any, end: Any) -> None:
        self.kind = kind
        self.src = src
        self.start: int = start.index
        self.end: int = end.index
        self.tend: int = end.index
        self.line: int = start.line
        self.col: int = start.column
        self.flow = False
        self.anchor: str | None = None
        self.tag: str | None = None
        self.style: str | None = None
        self.value: str = ""
        self.plain_implicit = False
        self.items: list[Any] = []  # seq: [Node]; map: [(key Node, value Node)]
        self.index: dict[Any, tuple[Node, Node]] = {}  # map: canonical key -> local entry
        self.target: Node | None = None  # alias: the anchored node
        self.referenced = False  # an alias points at this node
        self.pure = True  # no alias or merge key anywhere inside (text equality implies equality)
        self.shared = False  # this node or a descendant is the target of an alias
        self.dash: int | None = None  # block sequence item: offset of its "-"
        self.close: int | None = None  # flow collection: offset of its closing bracket
        self._canon: Any = _UNSET

    @property
    def text(self) -> str:
        return self.src[self.start : self.tend]

    @property
    def multiline(self) -> bool:
        return "\n" in self.src[self.start : self.tend]

    def deref(self) -> Node:
        node = self
        while node.kind == ALIAS and node.target is not None:
            node = node.target
        return node

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<{self.kind} {self.line + 1}:{self.col + 1} {self.text[:30]!r}>"


@dataclass
class Document:
    """One document of a stream: its root node and where the document (with `---`) begins."""

    root: Node | None
    start: int
    explicit_start: bool
    end: int = 0


@dataclass
class Parsed:
    """A parsed YAML text (BOM already removed) with a line index for offset arithmetic."""

    text: str
    docs: list[Document]
    resolve: Callable[[str], Any] = field(repr=False)
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._line_starts = starts

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset) - 1

    def line_start(self, offset: int) -> int:
        return self._line_starts[self.line_of(offset)]

    def content_end(self, offset: int) -> int:
        """End of the line holding the character before `offset`, line break excluded."""
        pos = self.text.find("\n", max(offset - 1, 0))
        if pos == -1:
            return len(self.text)
        return pos - 1 if pos > 0 and self.text[pos - 1] == "\r" else pos

    def next_line_start(self, offset: int) -> int | None:
        """Start of the line after the one holding the character before `offset` (None at EOF)."""
        pos = self.text.find("\n", max(offset - 1, 0))
        return None if pos == -1 else pos + 1

    def col_of(self, offset: int) -> int:
        return offset - self.line_start(offset)

    def first_on_line(self, offset: int) -> bool:
        """Whether only blanks precede `offset` on its line."""
        return self.text[self.line_start(offset) : offset].strip(" \t") == ""


# --------------------------------------------------------------------------- scalars


def make_resolver() -> Callable[[str], Any]:
    """A cached YAML 1.2 plain-scalar resolver: text -> canonical value (see `scalar_canon`)."""
    resolver = VersionedResolver()
    cache: dict[str, Any] = {}

    def resolve(value: str) -> Any:
        hit = cache.get(value, _UNSET)
        if hit is _UNSET:
            tag = str(resolver.resolve(ScalarNode, value, (True, False)))
            hit = cache[value] = _typed(tag, value)
        return hit

    return resolve


def _typed(tag: str, value: str) -> Any:
    """Canonical, hashable value of a scalar with a resolved tag.

    Strings stay `str`; other types become `(type, value)` tuples so that `true`, `1` and `1.0` never
    compare equal (Python's `True == 1 == 1.0` would merge them).
    """
    short = tag[len(_CORE) :] if tag.startswith(_CORE) else None
    if short == "str":
        return value
    if short == "null":
        return None
    if short == "bool":
        return ("bool", value.lower() == "true")
    if short == "int":
        digits = value.replace("_", "")
        try:
            return ("int", int(digits, 0))
        except ValueError:
            try:
                return ("int", int(digits, 10))
            except ValueError:
                return ("int", value)
    if short == "float":
        low = value.lower().replace("_", "")
        if low in (".nan", "+.nan", "-.nan"):
            return ("float", "nan")
        if low.endswith(".inf"):
            return ("float", "-inf" if low.startswith("-") else "inf")
        try:
            return ("float", float(low))
        except ValueError:
            return ("float", value)
    if short == "merge":
        return MERGE_KEY
    return (tag, value)


def scalar_canon(node: Node, resolve: Callable[[str], Any]) -> Any:
    if node.tag in (None, "!"):
        if node.plain_implicit and node.tag is None:
            return resolve(node.value)
        return node.value
    return _typed(node.tag, node.value)


# --------------------------------------------------------------------------- canonical values


def canon(node: Node | None, resolve: Callable[[str], Any]) -> Any:
    """A hashable value for semantic comparison: mappings compare unordered, `<<` merges applied."""
    if node is None:
        return _UNSET
    cached = node._canon
    if cached is not _UNSET:
        return cached
    if node.kind == SCALAR:
        result = scalar_canon(node, resolve)
    elif node.kind == ALIAS:
        result = canon(node.target, resolve)
    elif node.kind == SEQ:
        result = ("seq", tuple(canon(item, resolve) for item in node.items))
    else:
        result = ("map", frozenset((k, canon(v, resolve)) for k, (_, v) in effective(node, resolve).items()))
    node._canon = result
    return result


def effective(node: Node, resolve: Callable[[str], Any]) -> dict[Any, tuple[Node, Node]]:
    """A mapping's entries as YAML defines them: local keys, then keys merged in through `<<`."""
    merged = [v for k, v in node.index.items() if k == MERGE_KEY]
    if not merged:
        return node.index
    out = {k: e for k, e in node.index.items() if k != MERGE_KEY}
    for source in merged:
        source = source[1].deref()
        sources = [s.deref() for s in source.items] if source.kind == SEQ else [source]
        for src in sources:
            if src.kind != MAP:
                continue
            for k, entry in effective(src, resolve).items():
                out.setdefault(k, entry)
    return out


def to_plain(node: Node, resolve: Callable[[str], Any]) -> Any:
    """JSON-ready value (for rendering into flow context); raises ValueError for non-JSON types."""
    node = node.deref()
    if node.kind == SEQ:
        return [to_plain(i, resolve) for i in node.items]
    if node.kind == MAP:
        out = {}
        for k, (_, v) in effective(node, resolve).items():
            if not isinstance(k, str):
                raise ValueError("non-string key")
            out[k] = to_plain(v, resolve)
        return out
    value = canon(node, resolve)
    if value is None or isinstance(value, str):
        return value
    kind, inner = value
    if kind in ("bool", "int") or (kind == "float" and isinstance(inner, float)):
        return inner
    raise ValueError(f"cannot render {kind} in flow context")


# --------------------------------------------------------------------------- parsing


def _c_events(text: str) -> Iterable[Any]:
    from _ruamel_yaml import CParser  # ruamel.yaml.clib

    parser = CParser(text)
    while True:
        event = parser.get_event()
        yield event
        if isinstance(event, ev.StreamEndEvent):
            return


def _py_events(text: str) -> Iterable[Any]:
    from ruamel.yaml import YAML

    return YAML(typ="rt", pure=True).parse(text)


def parse(text: str, *, resolve: Callable[[str], Any] | None = None) -> Parsed:
    """Parse a (BOM-free) text into documents of positioned nodes, or raise YamlError."""
    resolve = resolve or make_resolver()
    try:
        docs = _build(_c_events(text), text, resolve)
    except ImportError:  # pragma: no cover - clib is a dependency of ruamel.yaml on CPython
        docs = None
    except YAMLError:
        docs = None  # libyaml is stricter in places: let ruamel's own parser decide
    if docs is None:
        try:
            docs = _build(_py_events(text), text, resolve)
        except YAMLError as exc:
            raise YamlError(str(exc).strip()) from None
    return Parsed(text=text, docs=docs, resolve=resolve)


def _build(events: Iterable[Any], text: str, resolve: Callable[[str], Any]) -> list[Document]:
    docs: list[Document] = []
    doc: Document | None = None
    stack: list[Node] = []
    pending: list[Node | None] = []  # per open mapping: the key waiting for its value
    anchors: dict[str, Node] = {}

    def attach(node: Node) -> None:
        if not stack:
            assert doc is not None
            doc.root = node
            return
        parent = stack[-1]
        if parent.kind == SEQ:
            if not parent.flow:
                node.dash = _find_dash(text, node.start)
            parent.items.append(node)
        elif pending[-1] is None:
            pending[-1] = node
        else:
            key = pending[-1]
            pending[-1] = None
            parent.items.append((key, node))
            ckey = canon(key, resolve)
            if ckey in parent.index:
                raise YamlError(
                    f"found duplicate key {key.text!r} in a mapping (line {key.line + 1}, column {key.col + 1}); "
                    f"first at line {parent.index[ckey][0].line + 1}"
                )
            parent.index[ckey] = (key, node)

    for event in events:
        cls = type(event)
        if cls is ev.ScalarEvent:
            node = Node(SCALAR, text, event.start_mark, event.end_mark)
            node.value = event.value
            node.style = event.style or None
            node.tag = None if event.tag is None else str(event.tag)
            node.plain_implicit = bool(event.implicit and event.implicit[0]) and node.style is None
            if node.style in ("|", ">"):
                node.tend = node.start + len(text[node.start : node.end].rstrip())
            _anchor(node, event, anchors)
            attach(node)
        elif cls is ev.MappingStartEvent or cls is ev.SequenceStartEvent:
            node = Node(MAP if cls is ev.MappingStartEvent else SEQ, text, event.start_mark, event.end_mark)
            node.flow = bool(event.flow_style)
            node.tag = None if event.tag is None else str(event.tag)
            _anchor(node, event, anchors)
            attach(node)
            stack.append(node)
            pending.append(None)
        elif cls is ev.MappingEndEvent or cls is ev.SequenceEndEvent:
            node = stack.pop()
            pending.pop()
            _finish(node, event)
        elif cls is ev.AliasEvent:
            target = anchors.get(event.anchor)
            if target is None:
                raise YamlError(f"found undefined alias {event.anchor!r} (line {event.start_mark.line + 1})")
            node = Node(ALIAS, text, event.start_mark, event.end_mark)
            node.target = target
            node.pure = False
            target.referenced = True
            target.shared = True
            attach(node)
        elif cls is ev.DocumentStartEvent:
            doc = Document(root=None, start=event.start_mark.index, explicit_start=bool(event.explicit))
            anchors = {}
        elif cls is ev.DocumentEndEvent:
            assert doc is not None
            doc.end = event.end_mark.index
            docs.append(doc)
            doc = None
    # `shared` was set on targets as aliases appeared; propagate it to ancestors
    for d in docs:
        if d.root is not None:
            _propagate_shared(d.root)
    return docs


def _anchor(node: Node, event: Any, anchors: dict[str, Node]) -> None:
    if event.anchor is not None:
        node.anchor = event.anchor
        anchors[event.anchor] = node


def _finish(node: Node, event: Any) -> None:
    if node.flow:
        node.close = event.start_mark.index
        node.tend = event.end_mark.index
    elif node.items:
        last = node.items[-1]
        node.tend = (last[1] if node.kind == MAP else last).tend
    if node.kind == MAP:
        pure = all(k.pure and v.pure for k, v in node.items) and MERGE_KEY not in node.index
        if node.items and not node.flow:
            node.col = node.items[0][0].col  # the map's mark may sit on an anchor a line above
    else:
        pure = all(i.pure for i in node.items)
    node.pure = node.pure and pure


def _propagate_shared(node: Node) -> bool:
    children: list[Node] = []
    if node.kind == MAP:
        for k, v in node.items:
            children.extend((k, v))
    elif node.kind == SEQ:
        children = node.items
    shared = node.shared
    for child in children:
        shared = _propagate_shared(child) or shared
    node.shared = shared
    return shared


def _find_dash(text: str, start: int) -> int | None:
    """Offset of the `-` that introduces a block sequence item starting at `start`."""
    pos = start - 1
    while pos >= 0 and text[pos] in " \t\r\n":
        pos -= 1
    return pos if pos >= 0 and text[pos] == "-" else None
