"""Top-level segments: build nodes only for the entries of a large file that actually differ.

Parsing is most of a merge's cost (parser events are Python objects: ~2 µs each, and a 2,000-line
values file has ~5,000). Large files are nearly always one block mapping at column 0 (Helm values,
compose files, umbrella charts), and a merge changes few of its entries. So when both texts have
that simple shape, each top-level entry is a *segment* (its key line up to the next key line), and a
segment whose text is identical in the human's file and in the generator's output needs no nodes:
it becomes a stub that compares equal to its twin and is never edited. With a base, the same goes
for segments only one side changed: the merge keeps the human's segment, or puts the generator's
whole segment in its place (diff3 at the level of top-level entries).

Correctness guards, each falling back to a normal full parse:
- the whole text must pass libyaml's parser first (`raw_parse`, no Python objects, ~1 ms), so a
  broken file is still reported with the parser's message;
- no anchors, aliases or `<<` merge keys anywhere (a segment could depend on another), no `---`,
  `...` or `%` directives (one document only), every column-0 line must be a plain `key:`;
- every parsed segment must read back as exactly one mapping entry.
Nested duplicate keys inside an identical (skipped) segment are not detected: that segment is copied
unchanged anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Collection, Sequence

from ruamel.yaml.error import YAMLError

from bot.merge.yamldoc import MAP, SCALAR, STUB, Document, Node, Parsed, _build, _c_events

# anchors (&a) and aliases (*a) anywhere; several documents or directives
_ANCHOR_OR_ALIAS = re.compile(r"[\s\[\{,][&*][^\s,\[\]\{\}]")
_DOCUMENT_MARKERS = re.compile(r"^(?:---|\.\.\.|%)", re.M)
_COLUMN0 = re.compile(r"^[^\s#]", re.M)
_PLAIN_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.\-/]*)[ \t]*:(?=[ \t\r\n]|$)")


@dataclass(frozen=True)
class Segment:
    """One top-level entry: `text[start:end]` (key line to the next key line) and where its value starts."""

    key: str
    start: int
    value_start: int
    end: int


def split(text: str) -> list[Segment] | None:
    """The top-level segments of a single block mapping at column 0, or None for any other shape."""
    if "<<" in text or text[:1] in ("&", "*") or _ANCHOR_OR_ALIAS.search(text) or _DOCUMENT_MARKERS.search(text):
        return None
    segments: list[Segment] = []
    seen: set[str] = set()
    starts: list[tuple[str, int, int]] = []
    for line in _COLUMN0.finditer(text):
        pos = line.start()
        if text[pos] == "-":
            if not starts:
                return None  # the root is a sequence
            continue  # an indentless sequence under the previous key
        match = _PLAIN_KEY.match(text, pos)
        if match is None or match.group(1) in seen:
            return None
        seen.add(match.group(1))
        starts.append((match.group(1), pos, match.end()))
    if not starts:
        return None
    for i, (key, start, value_start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(text)
        segments.append(Segment(key, start, value_start, end))
    return segments


def skippable_keys(
    current: str, generated: str, base: str | None = None, *, segments: Sequence[list[Segment] | None] | None = None
) -> frozenset[str]:
    """Top-level keys the merge can decide from segment texts alone, without nodes.

    Without a base: keys whose segment is identical in both texts. With a base (diff3 on segments):
    also keys the generator did not change (the human's text stands) and keys the human did not change
    (the generator's text replaces the segment whole). Empty when a text does not qualify.
    """
    texts = [current, generated] + ([base] if base is not None else [])
    split_texts = [split(t) for t in texts]
    if any(s is None for s in split_texts):
        return frozenset()
    maps = [{seg.key: t[seg.start : seg.end] for seg in segs or ()} for t, segs in zip(texts, split_texts)]
    cur, gen = maps[0], maps[1]
    keys = set(cur) & set(gen)
    if base is None:
        return frozenset(k for k in keys if cur[k] == gen[k])
    old = maps[2]
    return frozenset(
        k for k in keys & set(old) if cur[k] == gen[k] or gen[k] == old[k] or cur[k] == old[k]
    )


def parse_segmented(
    text: str, *, resolve: Callable[[str], Any], skip: Collection[str], segments: list[Segment] | None = None
) -> Parsed | None:
    """Like `yamldoc.parse`, with stubs for the `skip` keys; None when the text does not qualify."""
    segments = segments if segments is not None else split(text)
    if segments is None or not _libyaml_accepts(text):
        return None
    parsed = Parsed(text=text, docs=[], resolve=resolve, segmented=True)
    root = Node(MAP, text, segments[0].start, len(text), parsed.line_of(segments[0].start), 0)
    root.items = []
    root.index = {}
    for seg in segments:
        entry = _stub(parsed, seg, resolve) if seg.key in skip else _parse_segment(parsed, seg, resolve)
        if entry is None:
            return None
        key, value = entry
        ckey = key._canon if key.plain_implicit else None
        if ckey is None or ckey in root.index:
            return None
        root.items.append(entry)
        root.index[ckey] = entry
        if not (key.pure and value.pure):
            root.pure = False
    root.tend = root.items[-1][1].tend
    parsed.docs = [Document(root=root, start=root.start, explicit_start=False, end=len(text))]
    return parsed


def _libyaml_accepts(text: str) -> bool:
    from _ruamel_yaml import CParser

    try:
        CParser(text).raw_parse()
    except YAMLError:
        return False
    return True


def _parse_segment(parsed: Parsed, seg: Segment, resolve: Callable[[str], Any]) -> tuple[Node, Node] | None:
    text = parsed.text
    try:
        docs = _build(
            _c_events(text[seg.start : seg.end]), text, resolve, offset=seg.start, line_offset=parsed.line_of(seg.start)
        )
    except (YAMLError, ValueError):
        return None
    if len(docs) != 1 or docs[0].root is None or docs[0].root.kind != MAP or len(docs[0].root.items) != 1:
        return None
    key, value = docs[0].root.items[0]
    if key.kind != SCALAR or not key.plain_implicit or key.value != seg.key:
        return None
    return key, value


def _stub(parsed: Parsed, seg: Segment, resolve: Callable[[str], Any]) -> tuple[Node, Node]:
    text = parsed.text
    line = parsed.line_of(seg.start)
    key = Node(SCALAR, text, seg.start, seg.start + len(seg.key), line, 0)
    key.value = seg.key
    key.plain_implicit = True
    key._canon = resolve(seg.key)
    # the value runs to the last line that is neither blank nor a column-0 comment (a comment at
    # column 0 cannot belong to the value; an indented one may be block-scalar content)
    tend = seg.value_start
    cursor = seg.end
    while cursor > seg.value_start:
        newline = text.rfind("\n", seg.value_start, cursor - 1)
        line_start = newline + 1 if newline != -1 else seg.value_start
        piece = text[line_start:cursor]
        if piece.strip() and (line_start == seg.value_start or not piece.startswith("#")):
            tend = parsed.content_end(line_start + 1)
            break
        cursor = line_start
    value = Node(STUB, text, seg.value_start, tend, parsed.line_of(seg.value_start), parsed.col_of(seg.value_start))
    return key, value
