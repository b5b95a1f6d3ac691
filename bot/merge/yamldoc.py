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
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Collection, Iterable, Mapping

from ruamel.yaml import events as ev
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

MAP = "map"
SEQ = "seq"
SCALAR = "scalar"
ALIAS = "alias"
STUB = "stub"  # a top-level value that was not parsed because it is the same in every text (segments)

BOM = "\ufeff"
_CORE = "tag:yaml.org,2002:"
MERGE_KEY = ("merge", "<<")

_UNSET: Any = object()
_COMMENT = re.compile(r"(?:(?<=[ \t])|^)#", re.M)


class YamlError(ValueError):
    """The text is not YAML we can merge; `str()` is the parser's message (with line and column)."""


class Node:
    """One YAML node and its character span in the source text.

    `start`/`end` are the parser's marks (anchor and tag included). `tend` is the tight end: the end of
    the node's last content character (block scalars drop their trailing blank lines, block
    collections end where their last child ends, not at the next token as the parser reports).
    Attributes most nodes leave at their default live on the class, so building a node is cheap.
    """

    flow = False
    anchor: str | None = None
    tag: str | None = None
    style: str | None = None
    value = ""
    plain_implicit = False
    items: Any = ()  # seq: [Node]; map: [(key Node, value Node)]
    index: Mapping[Any, tuple[Node, Node]] = MappingProxyType({})  # map: canonical key -> local entry
    target: Node | None = None  # alias: the anchored node
    referenced = False  # an alias points at this node
    pure = True  # no alias or merge key anywhere inside (text equality implies equality)
    shared = False  # this node or a descendant is the target of an alias
    dash: int | None = None  # block sequence item: offset of its "-"
    close: int | None = None  # flow collection: offset of its closing bracket
    _canon: Any = _UNSET

    def __init__(self, kind: str, src: str, start: int, end: int, line: int, col: int) -> None:
        self.kind = kind
        self.src = src
        self.start = start
        self.end = end
        self.tend = end
        self.line = line
        self.col = col

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
    segmented: bool = False  # some top-level values are stubs (see `bot.merge.segments`)
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
    elif node.kind == STUB:
        result = (STUB, node.text)
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

    return iter(CParser(text).get_event, None)  # a C-level iterator: it ends after StreamEnd


def _py_events(text: str) -> Iterable[Any]:
    from ruamel.yaml import YAML

    return YAML(typ="rt", pure=True).parse(text)


def parse(
    text: str, *, resolve: Callable[[str], Any] | None = None, skip: Collection[str] = (), segments: Any = None
) -> Parsed:
    """Parse a (BOM-free) text into documents of positioned nodes, or raise YamlError.

    `skip`: top-level keys whose entries need no nodes (they are identical in the texts being merged);
    see `bot.merge.segments` (`segments`: its `split(text)`, if already known). The whole text is
    still checked by the parser.
    """
    resolve = resolve or make_resolver()
    if skip:
        from bot.merge.segments import parse_segmented

        parsed = parse_segmented(text, resolve=resolve, skip=skip, segments=segments)
        if parsed is not None:
            return parsed
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


def _build(
    events: Iterable[Any], text: str, resolve: Callable[[str], Any], *, offset: int = 0, line_offset: int = 0
) -> list[Document]:
    """Nodes from parser events. Hot path (one pass per event): written for speed, not elegance.

    `offset`/`line_offset`: the events come from a slice of `text` starting there (see `segments`).
    """
    scalar_event, alias_event = ev.ScalarEvent, ev.AliasEvent
    map_start, seq_start = ev.MappingStartEvent, ev.SequenceStartEvent
    map_end, seq_end = ev.MappingEndEvent, ev.SequenceEndEvent
    doc_start, doc_end = ev.DocumentStartEvent, ev.DocumentEndEvent
    docs: list[Document] = []
    doc: Document | None = None
    stack: list[Node] = []
    pending: list[Node | None] = []  # per open mapping: the key waiting for its value
    anchors: dict[str, Node] = {}
    aliases = False
    for event in events:
        cls = type(event)
        if cls is scalar_event:
            mark = event.start_mark
            start, end = mark.index + offset, event.end_mark.index + offset
            node = Node(SCALAR, text, start, end, mark.line + line_offset, mark.column)
            node.value = event.value
            style = event.style
            if style:
                node.style = style
                if style == "|" or style == ">":
                    node.tend = start + len(text[start:end].rstrip())
                    if style == ">" and "\a" in node.value:
                        node.value = node.value.replace("\a", "")  # ruamel's pure parser marks folds
            if event.ctag is not None:  # `ctag`: the raw slot behind ruamel's (slow) `tag` property
                node.tag = str(event.ctag)
            elif not style and event.implicit[0]:
                node.plain_implicit = True
                if start == end:
                    _place_empty(node, text)
        elif cls is map_start or cls is seq_start:
            mark = event.start_mark
            node = Node(
                MAP if cls is map_start else SEQ, text, mark.index + offset, event.end_mark.index + offset,
                mark.line + line_offset, mark.column,
            )
            node.items = []
            if cls is map_start:
                node.index = {}
            if event.flow_style:
                node.flow = True
            if event.ctag is not None:
                node.tag = str(event.ctag)
        elif cls is map_end or cls is seq_end:
            node = stack.pop()
            pending.pop()
            items = node.items
            if node.flow:
                node.close = event.start_mark.index + offset
                node.tend = event.end_mark.index + offset
            elif items:
                if node.kind == MAP:
                    node.tend = items[-1][1].tend
                    node.col = items[0][0].col  # the map's mark may sit on an anchor a line above
                else:
                    node.tend = items[-1].tend
            if not node.pure and stack:
                stack[-1].pure = False
            continue
        elif cls is alias_event:
            target = anchors.get(event.anchor)
            if target is None:
                raise YamlError(f"found undefined alias {event.anchor!r} (line {event.start_mark.line + 1})")
            mark = event.start_mark
            node = Node(ALIAS, text, mark.index + offset, event.end_mark.index + offset, mark.line + line_offset, mark.column)
            node.target = target
            node.pure = False
            target.referenced = target.shared = True
            aliases = True
        elif cls is doc_start:
            doc = Document(root=None, start=event.start_mark.index + offset, explicit_start=bool(event.explicit))
            anchors = {}
            continue
        elif cls is doc_end:
            assert doc is not None
            doc.end = event.end_mark.index + offset
            docs.append(doc)
            doc = None
            continue
        else:
            continue
        if event.anchor is not None and cls is not alias_event:
            node.anchor = event.anchor
            anchors[event.anchor] = node
        # attach the new node to its parent
        if stack:
            parent = stack[-1]
            if parent.kind == SEQ:
                if not parent.flow:
                    node.dash = _find_dash(text, node.start)
                parent.items.append(node)
                if not node.pure:
                    parent.pure = False
            else:
                key = pending[-1]
                if key is None:
                    pending[-1] = node
                else:
                    pending[-1] = None
                    parent.items.append((key, node))
                    ckey = key._canon = resolve(key.value) if key.plain_implicit else canon(key, resolve)
                    if ckey in parent.index:
                        raise YamlError(
                            f"found duplicate key {key.text!r} in a mapping (line {key.line + 1}, "
                            f"column {key.col + 1}); first at line {parent.index[ckey][0].line + 1}"
                        )
                    parent.index[ckey] = (key, node)
                    if ckey == MERGE_KEY or not key.pure or not node.pure:
                        parent.pure = False
        else:
            assert doc is not None
            doc.root = node
        if cls is map_start or cls is seq_start:
            stack.append(node)
            pending.append(None)
    if aliases:  # `shared` was set on alias targets; propagate it to their ancestors
        for d in docs:
            if d.root is not None:
                _propagate_shared(d.root)
    return docs


def _place_empty(node: Node, text: str) -> None:
    """Put an empty value (`key:` / `- `) right after its indicator, whichever parser reported it.

    libyaml marks it just after the `:`; ruamel's pure parser at the next token, possibly on the next
    line, where a value spliced in would land in the wrong place.
    """
    pos = node.start
    while True:
        while pos > 0 and text[pos - 1] in " \t\r\n":
            pos -= 1
        line_start = text.rfind("\n", 0, pos) + 1
        comment = _COMMENT.search(text, line_start, pos)
        if comment is None:
            break
        pos = comment.start()  # step over a comment: on its own line or after the indicator
    if pos > 0 and text[pos - 1] in ":-?" and pos != node.start:
        node.start = node.end = node.tend = pos
        node.line = text.count("\n", 0, pos)
        node.col = pos - (text.rfind("\n", 0, pos) + 1)


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
