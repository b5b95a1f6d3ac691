"""Structural merge of YAML files by splicing: the human's file is edited, never re-dumped.

Given the human's file (`current`), the bot's last output for it (`base`, or None in preserve mode)
and the generator's new output (`generated`), walk the three trees together and decide per key and per
list item (diff3 rules):

- equal in current and generated, or unchanged by the generator since the base: keep the human's;
- unchanged by the human since the base: take the generator's;
- changed by both: keep the human's and record a conflict (no base: a "kept your value" note);
- added by the generator only: insert; added by the human only: keep;
- removed by the generator and untouched by the human: remove; otherwise keep and record it.

Every decision to change something becomes an `Edit` on the human's text at the positions the parser
reported: a scalar is replaced in place (keeping the human's quoting style when the new value allows
it); a new key or list item is inserted after its predecessor as the generator wrote it, re-indented
to the human's indentation; a removed entry takes its lines with it. Bytes outside the edited ranges
(comments, blank lines, key order, quoting, anchors, other documents, CRLF) are copied unchanged, and
the result is parsed again before it is returned: a splice that does not parse is never proposed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.merge import messages as msg
from bot.merge.identity import document_identity, label, match, match_documents
from bot.merge.splice import Edit, OverlapError, apply_edits, reindent, to_newline
from bot.merge.yamldoc import (
    ALIAS,
    MAP,
    MERGE_KEY,
    SCALAR,
    SEQ,
    STUB,
    Document,
    Node,
    Parsed,
    YamlError,
    canon,
    effective,
    parse,
    to_plain,
)
from bot.models import MergeNote

_BLOCK_STYLES = ("|", ">")
SHOW_MAX = 80  # characters of a value shown in a note


@dataclass
class Slot:
    """Where a node sits: the value of a mapping entry, a list item, or a document root."""

    kind: str  # "entry" | "item" | "root"
    node: Node
    key: Node | None = None  # entry: the key node
    flow: bool = False  # the parent collection is written in flow style ([...] / {...})


@dataclass
class Outcome:
    """What the structural merge decided: the new text (None: nothing to write) and the notes."""

    content: str | None
    notes: list[MergeNote] = field(default_factory=list)
    conflicts: list[MergeNote] = field(default_factory=list)


def merge_yaml(path: str, *, current: Parsed, base: Parsed | None, generated: Parsed, newline: str) -> Outcome:
    """Merge three parsed texts (BOM removed; `generated` and `base` with LF line breaks)."""
    merger = _Merger(path, current, base, generated, newline)
    merger.run()
    if not merger.edits:
        return Outcome(None, merger.notes, merger.conflicts)
    try:
        merged = apply_edits(current.text, merger.edits)
        if merger.structural:
            parse(merged, resolve=current.resolve)
    except (OverlapError, YamlError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        merger.conflicts.append(MergeNote(path, "(file)", msg.UNSAFE_RESULT.format(why=why), conflict=True))
        return Outcome(None, merger.notes, merger.conflicts)
    return Outcome(merged if merged != current.text else None, merger.notes, merger.conflicts)


class _Merger:
    def __init__(self, path: str, cur: Parsed, base: Parsed | None, gen: Parsed, newline: str) -> None:
        self.path = path
        self.cur = cur
        self.base = base
        self.gen = gen
        self.three_way = base is not None
        self.resolve = cur.resolve
        self.nl = newline
        self.edits: list[Edit] = []
        self.notes: list[MergeNote] = []
        self.conflicts: list[MergeNote] = []
        self._filled: dict[int, int] = {}  # empty flow collections -> items inserted so far
        self.structural = False  # an edit other than a checked scalar splice: re-parse the result

    # ------------------------------------------------------------------ documents

    def run(self) -> None:
        gdocs = [d for d in self.gen.docs if d.root is not None]
        cdocs = [d for d in self.cur.docs if d.root is not None and not _empty(d.root)]
        if not gdocs:
            return
        if not cdocs:  # a file of comments only: the generator's content goes after them
            text = self.gen.text
            sep = "" if not self.cur.text or self.cur.text.endswith("\n") else "\n"
            self._edit(len(self.cur.text), len(self.cur.text), sep + text)
            return
        bdocs = [d for d in self.base.docs if d.root is not None] if self.base else []
        g2c = match_documents(_roots(gdocs), _roots(cdocs), self.resolve)
        g2b = match_documents(_roots(gdocs), _roots(bdocs), self.resolve) if bdocs else [None] * len(gdocs)
        c2b = match_documents(_roots(cdocs), _roots(bdocs), self.resolve) if bdocs else [None] * len(cdocs)
        multi = len(gdocs) > 1 or len(cdocs) > 1
        for gi, gdoc in enumerate(gdocs):
            name = self._doc_label(gdoc, gi)
            prefix = name + ": " if multi else ""
            ci, bi = g2c[gi], g2b[gi]
            groot = gdoc.root
            assert groot is not None
            if ci is not None:
                self.merge_value(
                    Slot("root", cdocs[ci].root), bdocs[bi].root if bi is not None else None, Slot("root", groot), prefix
                )
            elif bi is not None:
                if not self.equal(bdocs[bi].root, groot):
                    self.conflict(name, msg.YOU_REMOVED, theirs=groot)
            else:
                self.append_document(gdoc)
        matched = set(g2c)
        for ci, cdoc in enumerate(cdocs):
            bi = c2b[ci]
            if ci in matched or bi is None:
                continue  # still generated, or added by the human
            if self.equal(cdoc.root, bdocs[bi].root):
                self.delete_document(cdoc)
            else:
                self.conflict(self._doc_label(cdoc, ci), msg.GENERATOR_REMOVED, ours=cdoc.root)

    def delete_document(self, doc: Document) -> None:
        """Remove a document from its `---` (or its first line) up to the next document."""
        cur = self.cur
        docs = cur.docs
        i = docs.index(doc)
        start = cur.line_start(doc.start if doc.explicit_start else doc.root.start)  # type: ignore[union-attr]
        if i + 1 < len(docs):
            nxt = docs[i + 1]
            end = cur.line_start(nxt.start if nxt.explicit_start else nxt.root.start)  # type: ignore[union-attr]
        else:
            end = len(cur.text)
        self._edit(start, end, "")

    def _doc_label(self, doc: Document, position: int) -> str:
        ident = document_identity(doc.root, self.resolve)
        if ident is None:
            return f"document {position + 1}"
        kind, namespace, name = ident
        return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"

    def append_document(self, gdoc: Document) -> None:
        root = gdoc.root
        assert root is not None
        gen = self.gen
        start = root.start
        if not (gdoc.explicit_start and gen.line_of(root.start) == gen.line_of(gdoc.start)):
            start = gen.line_start(root.start)
        body = gen.text[start : gen.content_end(root.tend)]
        end = len(self.cur.text)
        sep = "" if self.cur.text.endswith("\n") else "\n"
        self._edit(end, end, f"{sep}---\n{body}\n")

    # ------------------------------------------------------------------ decisions

    def same(self, a: Node, b: Node) -> bool:
        """Cheap sufficient test for equality: the same text at the same column (no aliases inside)."""
        return (
            a.pure
            and b.pure
            and a.kind == b.kind
            and a.col == b.col
            and a.tend - a.start == b.tend - b.start
            and a.src[a.start : a.tend] == b.src[b.start : b.tend]
        )

    def equal(self, a: Node | None, b: Node | None) -> bool:
        """Semantic equality (what YAML 1.2 reads), whatever the layout."""
        if a is None or b is None:
            return a is b
        return self.same(a, b) or canon(a, self.resolve) == canon(b, self.resolve)

    def merge_value(self, cs: Slot, b: Node | None, gs: Slot, path: str) -> None:
        c, g = cs.node, gs.node
        if self.same(c, g) or (b is not None and self.same(g, b)):
            return  # nothing to do, or the generator did not change this since the base
        gd = g.deref()
        if not c.referenced:
            # collections are walked rather than compared whole: equal subtrees are skipped by `same`
            if c.kind == MAP and gd.kind == MAP:
                self.merge_map(cs, b, gs, path)
                return
            if c.kind == SEQ and gd.kind == SEQ:
                self.merge_seq(cs, b, gs, path)
                return
        if self.equal(c, g) or (b is not None and self.equal(g, b)):
            return
        if c.referenced:
            self.conflict(path, msg.SHARED, ours=c, theirs=g, anchor=c.anchor or "")
        elif b is not None and self.equal(c, b):
            self.replace(cs, gs, path)
        else:
            self.keep(path, c, g, b)

    def keep(self, path: str, c: Node, g: Node, b: Node | None) -> None:
        if b is not None:
            self.conflict(path, msg.BOTH_CHANGED, ours=c, theirs=g, base=b)
        elif self.three_way:
            self.conflict(path, msg.BOTH_ADDED, ours=c, theirs=g)
        else:
            self.note(path, msg.KEPT, ours=c, theirs=g)

    def merge_map(self, cs: Slot, b: Node | None, gs: Slot, path: str) -> None:
        c, g = cs.node, gs.node.deref()
        bm = b.deref() if b is not None and b.deref().kind == MAP else None
        ceff = effective(c, self.resolve)
        geff = effective(g, self.resolve)
        beff = effective(bm, self.resolve) if bm is not None else {}
        prev: tuple[Node, Node] | None = None
        for key, value in c.items:  # new keys go after leading `<<: *anchor` lines, as overrides do
            if canon(key, self.resolve) != MERGE_KEY:
                break
            prev = (key, value)
        added = 0
        for gk, (gkey, gval) in geff.items():
            sub = _join(path, gkey)
            bentry = beff.get(gk)
            bval = bentry[1] if bentry else None
            centry = ceff.get(gk)
            gslot = Slot("entry", gval, key=gkey, flow=g.flow)
            if centry is not None and c.index.get(gk) is centry:
                self.merge_value(Slot("entry", centry[1], key=centry[0], flow=c.flow), bval, gslot, sub)
                prev = centry
            elif centry is not None:  # inherited through `<<: *anchor`: never edited in place
                cval = centry[1]
                if self.equal(cval, gval) or (bval is not None and self.equal(gval, bval)):
                    continue
                if bval is not None and self.equal(cval, bval):
                    self.insert_entry(c, prev, gslot, sub)  # a local key overrides the merged one
                    added += 1
                else:
                    self.keep(sub, cval, gval, bval)
            elif bval is not None:
                if not self.equal(bval, gval):
                    self.conflict(sub, msg.YOU_REMOVED, theirs=gval)
            else:
                self.insert_entry(c, prev, gslot, sub)
                added += 1
        if bm is None:
            return
        doomed: list[int] = []
        for i, (ckey, cval) in enumerate(c.items):
            ck = canon(ckey, self.resolve)
            if ck in geff or ck == MERGE_KEY:
                continue
            bentry = beff.get(ck)
            if bentry is None:
                continue  # the human added it
            if self.equal(cval, bentry[1]):
                doomed.append(i)
            else:
                self.conflict(_join(path, ckey), msg.GENERATOR_REMOVED, ours=cval)
        self.delete_entries(c, doomed, path, root=cs.kind == "root", refilled=added > 0)

    def merge_seq(self, cs: Slot, b: Node | None, gs: Slot, path: str) -> None:
        c, g = cs.node, gs.node.deref()
        bs = b.deref() if b is not None and b.deref().kind == SEQ else None
        citems, gitems = c.items, g.items
        bitems = bs.items if bs is not None else []
        g2c = match(gitems, citems, self.resolve)
        g2b = match(gitems, bitems, self.resolve, by_shape=True) if bs is not None else [None] * len(gitems)
        c2b = match(citems, bitems, self.resolve, by_shape=True) if bs is not None else [None] * len(citems)
        if bs is not None:
            # items that descend from the same base item are the same item, even if both changed it
            b2c = {bi: ci for ci, bi in enumerate(c2b) if bi is not None}
            taken = {ci for ci in g2c if ci is not None}
            for gi, bi in enumerate(g2b):
                ci = b2c.get(bi) if bi is not None else None
                if g2c[gi] is None and ci is not None and ci not in taken:
                    g2c[gi] = ci
                    taken.add(ci)
        scalars = all(i.deref().kind == SCALAR for i in (*citems, *gitems))
        if bs is not None and self.equal(c, bs):
            # untouched by the human: if keeping the human's order (and appending) would not give the
            # generator's list, take the generator's list as a whole
            order = [ci for ci in g2c if ci is not None]
            if order != sorted(order) or (scalars and not self._appending_gives(citems, gitems, g2c)):
                self.replace(cs, gs, path)
                return
        after: int | None = None
        added = 0
        matched: set[int] = set()
        for gi, gitem in enumerate(gitems):
            ci, bi = g2c[gi], g2b[gi]
            sub = path + label(gitem, self.resolve, gi)
            gslot = Slot("item", gitem, flow=g.flow)
            if ci is not None:
                matched.add(ci)
                bitem = bitems[bi] if bi is not None else None
                self.merge_value(Slot("item", citems[ci], flow=c.flow), bitem, gslot, sub)
                after = ci
            elif bi is not None:
                if not self.equal(bitems[bi], gitem):
                    self.conflict(sub, msg.YOU_REMOVED, theirs=gitem)
            else:
                # plain lists keep the human's order and grow at the end; lists of records take the
                # new item after the one the generator put before it
                where = (len(citems) - 1 if citems else None) if scalars else after
                self.insert_item(c, where, gslot, sub)
                added += 1
        if bs is None:
            return
        doomed: list[int] = []
        for ci, citem in enumerate(citems):
            bi = c2b[ci]
            if ci in matched or bi is None:
                continue
            if self.equal(citem, bitems[bi]):
                doomed.append(ci)
            else:
                self.conflict(path + label(citem, self.resolve, ci), msg.GENERATOR_REMOVED, ours=citem)
        self.delete_items(c, doomed, path, root=cs.kind == "root", refilled=added > 0)

    def _appending_gives(self, citems: list[Node], gitems: list[Node], g2c: list[int | None]) -> bool:
        kept = sorted(ci for ci in g2c if ci is not None)
        new = [gi for gi, ci in enumerate(g2c) if ci is None]
        predicted = [canon(citems[ci], self.resolve) for ci in kept] + [canon(gitems[gi], self.resolve) for gi in new]
        return predicted == [canon(g, self.resolve) for g in gitems]

    # ------------------------------------------------------------------ edits

    def replace(self, cs: Slot, gs: Slot, path: str) -> None:
        c, g = cs.node, gs.node
        cur = self.cur
        if c.shared:
            self.conflict(path, msg.SHARED, ours=c, theirs=g, anchor=_first_anchor(c))
            return
        gd = g.deref()
        if _inline_scalar(c) and _inline_scalar(gd) and g.kind != ALIAS:
            new = self.scalar_text(c, gd, flow=cs.flow)
            if new is None:
                self.conflict(path, msg.CANNOT_EDIT, ours=c, theirs=g, why="value cannot be written inline")
                return
            if c.start == c.end:  # an empty value (`key:`): keep a blank after the colon
                new = " " + new
            self._edit(c.start, c.end, new, checked=cs.kind != "root")
            return
        if cs.flow:
            flow = self.render_flow(g)
            if flow is None:
                self.conflict(path, msg.CANNOT_EDIT, ours=c, theirs=g, why="value cannot be written in flow style")
                return
            self._edit(c.start, c.tend, flow)
            return
        if c.kind == STUB and gd.kind == STUB and cs.kind == "entry" and cs.key is not None and gs.key is not None:
            # a whole top-level entry the human left as last generated: the generator's entry replaces it
            region = self.gen.text[gs.key.start : self.gen.content_end(gd.tend)]
            self._edit(cs.key.start, cur.content_end(c.tend), region, checked=True)
            return
        if cs.kind == "entry":
            assert cs.key is not None
            start, block = cs.key.start, self.block_entry(gs, cs.key.col)
        elif cs.kind == "item":
            if c.dash is None:
                self.conflict(path, msg.CANNOT_EDIT, ours=c, theirs=g, why="unusual list layout")
                return
            start = c.dash
            block = self.block_item(gs, cur.col_of(c.dash))
        else:
            start = c.start
            block = reindent(self.gen.text[g.start : self.gen.content_end(g.tend)], cur.col_of(c.start) - g.col)
        if block is None:
            self.conflict(path, msg.CANNOT_EDIT, ours=c, theirs=g, why="value cannot be rendered")
            return
        self._edit(start, cur.content_end(c.tend), block)

    def insert_entry(self, c: Node, prev: tuple[Node, Node] | None, gs: Slot, path: str) -> None:
        if c.flow:
            flow = self.render_flow(gs.node)
            if flow is None:
                self.conflict(path, msg.CANNOT_EDIT, ours=None, theirs=gs.node, why="value cannot be written in flow style")
                return
            assert gs.key is not None
            text = f"{self.gen.text[gs.key.start:gs.key.end]}: {flow}"
            if prev is not None:
                self._edit(prev[1].tend, prev[1].tend, ", " + text)
            elif c.items:
                self._edit(c.items[0][0].start, c.items[0][0].start, text + ", ")
            else:
                self._fill_empty_flow(c, text)
            return
        col = c.col
        block = self.block_entry(gs, col)
        if block is None:
            self.conflict(path, msg.CANNOT_EDIT, ours=None, theirs=gs.node, why="value cannot be rendered")
        elif prev is not None:
            i = next(n for n, entry in enumerate(c.items) if entry[1] is prev[1])
            anchors = [k.start for k, _ in c.items]
            ends = [v.tend for _, v in c.items]
            self._insert_after(prev[1].tend, col, block, **self._neighbours(anchors, ends, i))
        else:
            self._insert_before(c.items[0][0].start, col, block)

    def insert_item(self, c: Node, after: int | None, gs: Slot, path: str) -> None:
        if c.flow:
            flow = self.render_flow(gs.node)
            if flow is None:
                self.conflict(path, msg.CANNOT_EDIT, ours=None, theirs=gs.node, why="item cannot be written in flow style")
            elif after is not None:
                self._edit(c.items[after].tend, c.items[after].tend, ", " + flow)
            elif c.items:
                self._edit(c.items[0].start, c.items[0].start, flow + ", ")
            else:
                self._fill_empty_flow(c, flow)
            return
        dash = c.items[0].dash
        if dash is None:
            self.conflict(path, msg.CANNOT_EDIT, ours=None, theirs=gs.node, why="unusual list layout")
            return
        col = self.cur.col_of(dash)
        block = self.block_item(gs, col)
        if block is None:
            self.conflict(path, msg.CANNOT_EDIT, ours=None, theirs=gs.node, why="item cannot be rendered")
        elif after is not None:
            anchors = [item.dash if item.dash is not None else item.start for item in c.items]
            ends = [item.tend for item in c.items]
            self._insert_after(c.items[after].tend, col, block, **self._neighbours(anchors, ends, after))
        else:
            self._insert_before(dash, col, block)

    def _fill_empty_flow(self, c: Node, text: str) -> None:
        assert c.close is not None
        count = self._filled.get(id(c), 0)
        self._filled[id(c)] = count + 1
        self._edit(c.close, c.close, (", " if count else "") + text)

    def delete_entries(self, c: Node, doomed: list[int], path: str, *, root: bool, refilled: bool) -> None:
        if not doomed:
            return
        spans = [(k.start, v.tend) for k, v in c.items]
        if c.flow:
            self._delete_flow(spans, doomed)
            return
        if len(doomed) == len(c.items) and not refilled:
            self._empty_block(c, "{}", path, root=root)
            return
        cur = self.cur
        gone = set(doomed)
        first_key = c.items[0][0]
        if 0 in gone and not cur.first_on_line(first_key.start):
            # the first key shares its line with "- ": cut up to the next surviving key instead
            run = 0
            while run + 1 in gone:
                run += 1
            if run + 1 < len(c.items):
                end = c.items[run + 1][0].start
            else:
                end = cur.content_end(c.items[run][1].tend)
            self._edit(first_key.start, end, "")
            gone -= set(range(run + 1))
        for i in sorted(gone):
            key, value = c.items[i]
            self._delete_lines(key.start, value.tend)

    def delete_items(self, c: Node, doomed: list[int], path: str, *, root: bool, refilled: bool) -> None:
        if not doomed:
            return
        if c.flow:
            self._delete_flow([(i.start, i.tend) for i in c.items], doomed)
            return
        if len(doomed) == len(c.items) and not refilled:
            self._empty_block(c, "[]", path, root=root)
            return
        for i in doomed:
            item = c.items[i]
            if item.dash is None or not self.cur.first_on_line(item.dash):
                self.conflict(path + label(item, self.resolve, i), msg.CANNOT_EDIT, ours=item, theirs=None, why="unusual list layout")
                continue
            self._delete_lines(item.dash, item.tend)

    def _empty_block(self, c: Node, empty: str, path: str, *, root: bool) -> None:
        """Every entry of a block collection goes: write `key: {}` / `- []` instead of a dangling null."""
        text = self.cur.text
        first = c.items[0][0].start if c.kind == MAP else c.items[0].dash
        if first is None:
            self.conflict(path, msg.CANNOT_EDIT, ours=c, theirs=None, why="unusual layout")
            return
        end = self.cur.content_end(c.tend)
        back = first - 1
        while back >= 0 and text[back] in " \t\r\n":
            back -= 1
        if root or back < 0:
            self._edit(first, end, empty)  # a document root stands alone
        elif text[back] in ":-" and "#" not in text[self.cur.line_start(back) : back]:
            self._edit(back + 1, end, " " + empty)
        else:
            self.conflict(path, msg.CANNOT_EDIT, ours=c, theirs=None, why="a comment sits before the value")

    def _delete_flow(self, spans: list[tuple[int, int]], doomed: list[int]) -> None:
        gone = set(doomed)
        n = len(spans)
        if len(gone) == n:
            self._edit(spans[0][0], spans[-1][1], "")
            return
        i = 0
        while i < n:
            if i not in gone:
                i += 1
                continue
            j = i
            while j + 1 < n and j + 1 in gone:
                j += 1
            if j + 1 < n:  # a survivor follows: cut "item, " up to it
                self._edit(spans[i][0], spans[j + 1][0], "")
            else:  # the run ends the collection: cut ", item" after the last survivor
                self._edit(spans[i - 1][1], spans[j][1], "")
            i = j + 1

    def _neighbours(self, anchors: list[int], ends: list[int], i: int) -> dict[str, Any]:
        """Where the sibling after item `i` starts, and whether the human separates siblings by blank lines."""
        if i + 1 < len(anchors):
            return {"next_start": anchors[i + 1], "spaced": False}
        spaced = i > 0 and self._gap_starts_blank(ends[i - 1], anchors[i])
        return {"next_start": None, "spaced": spaced}

    def _gap_starts_blank(self, tend: int, next_start: int) -> bool:
        pos = self.cur.next_line_start(tend)
        if pos is None:
            return False
        stop = self.cur.line_start(next_start)
        return pos < stop and self._blank_at(pos)

    def _blank_at(self, line_start: int) -> bool:
        end = self.cur.text.find("\n", line_start)
        return not self.cur.text[line_start : len(self.cur.text) if end == -1 else end].strip()

    def _delete_lines(self, start: int, tend: int) -> None:
        """Remove whole lines; where siblings are separated by blank lines, one separator goes too."""
        cur = self.cur
        text = cur.text
        begin = cur.line_start(start)
        end = cur.next_line_start(tend)
        end = len(text) if end is None else end
        if begin > 0 and self._blank_at(cur.line_start(begin - 1)):
            after = end
            while after < len(text) and self._blank_at(after):
                nxt = cur.next_line_start(after + 1)
                after = len(text) if nxt is None else nxt
            if end < after < len(text):
                end = after  # eat the blank lines that separated this entry from the next
            elif after >= len(text):
                while begin > 0 and self._blank_at(cur.line_start(begin - 1)):
                    begin = cur.line_start(begin - 1)  # the last entry: eat the blank lines before it
        self._edit(begin, end, "")

    def _insert_after(
        self, tend: int, col: int, block: str, *, next_start: int | None = None, spaced: bool = False
    ) -> None:
        """Insert a block on the lines after `tend`, keeping the human's blank-line separation."""
        cur = self.cur
        pos = cur.next_line_start(tend)
        if pos is None:
            self._edit(len(cur.text), len(cur.text), "\n" + ("\n" if spaced else "") + " " * col + block)
            return
        if next_start is not None:
            stop = cur.line_start(next_start)
            blank_end = pos
            while blank_end < stop and self._blank_at(blank_end):
                nxt = cur.next_line_start(blank_end + 1)
                blank_end = stop if nxt is None else nxt
            if blank_end > pos:  # siblings are separated by blank lines: do the same
                self._edit(blank_end, blank_end, " " * col + block + "\n\n")
                return
        self._edit(pos, pos, ("\n" if spaced else "") + " " * col + block + "\n")

    def _insert_before(self, start: int, col: int, block: str) -> None:
        if self.cur.first_on_line(start):
            pos = self.cur.line_start(start)
            self._edit(pos, pos, " " * col + block + "\n")
        else:
            self._edit(start, start, block + "\n" + " " * col)

    def _edit(self, start: int, end: int, new: str, *, checked: bool = False) -> None:
        """Record an edit. `checked`: a scalar already proven to read back as intended in its context."""
        self.edits.append(Edit(start, end, to_newline(new, self.nl), order=len(self.edits)))
        if not checked:
            self.structural = True

    # ------------------------------------------------------------------ rendering the generator's text

    def block_entry(self, gs: Slot, col: int) -> str | None:
        """`key: value` as the generator wrote it, re-indented so the key lands at `col`."""
        key, value = gs.key, gs.node
        assert key is not None
        if gs.flow or not value.pure or not key.pure:
            flow = self.render_flow(value)
            return None if flow is None else f"{self.gen.text[key.start:key.end]}: {flow}"
        region = self.gen.text[key.start : self.gen.content_end(value.tend)]
        return reindent(region, col - key.col)

    def block_item(self, gs: Slot, col: int) -> str | None:
        """`- item` as the generator wrote it, re-indented so the dash lands at `col`."""
        item = gs.node
        if not gs.flow and item.dash is not None and item.pure:
            region = self.gen.text[item.dash : self.gen.content_end(item.tend)]
            return reindent(region, col - self.gen.col_of(item.dash))
        flow = self.render_flow(item)
        return None if flow is None else "- " + flow

    def render_flow(self, node: Node) -> str | None:
        """The value on one line, usable inside `[...]`/`{...}` (JSON is valid YAML flow)."""
        if node.kind == SCALAR and node.start == node.tend:
            return "null"  # an empty value (`key:` or `- `) has no text of its own
        if node.pure and node.anchor is None and not node.multiline:
            if node.kind == SCALAR and node.style not in _BLOCK_STYLES:
                if node.style is not None or not any(ch in node.text for ch in ",[]{}"):
                    return node.text
            elif node.kind in (MAP, SEQ) and node.flow:
                return node.text
        try:
            return json.dumps(to_plain(node, self.resolve), ensure_ascii=False)
        except ValueError:
            return None

    def scalar_text(self, c: Node, g: Node, *, flow: bool) -> str | None:
        """The new value written the way the human writes this scalar (quotes kept) when it means the same."""
        value = canon(g, self.resolve)
        candidates: list[str] = []
        if isinstance(value, str) and "\n" not in value and "\r" not in value:
            if c.style == '"':
                candidates.append(json.dumps(value, ensure_ascii=False))
            elif c.style == "'":
                candidates.append("'" + value.replace("'", "''") + "'")
            elif c.style is None and c.kind == SCALAR and c.tag is None:
                candidates.append(value)
        if g.anchor is None:
            candidates.append(g.text)
        rendered = self.render_flow(g)
        if rendered is not None:
            candidates.append(rendered)
        for text in candidates:
            if self._means(text, value, flow=flow):
                return text
        return None

    def _means(self, text: str, value: Any, *, flow: bool) -> bool:
        if not text or "\n" in text:
            return False
        probe = f"[{text}]" if flow else f"k: {text}"
        try:
            parsed = parse(probe, resolve=self.resolve)
        except YamlError:
            return False
        if len(parsed.docs) != 1 or parsed.docs[0].root is None:
            return False
        root = parsed.docs[0].root
        items = root.items if flow else [v for _, v in root.items]
        return len(items) == 1 and items[0].kind == SCALAR and canon(items[0], self.resolve) == value

    # ------------------------------------------------------------------ notes

    def note(self, key: str, template: str, **values: Any) -> None:
        self.notes.append(MergeNote(self.path, key or "(document)", self._format(key, template, values)))

    def conflict(self, key: str, template: str, **values: Any) -> None:
        self.conflicts.append(
            MergeNote(self.path, key or "(document)", self._format(key, template, values), conflict=True)
        )

    def _format(self, key: str, template: str, values: dict[str, Any]) -> str:
        shown = {k: (self._show(v) if isinstance(v, Node) or v is None else v) for k, v in values.items()}
        return template.format(key=key or "(document)", **{"ours": "", "theirs": "", "base": "", **shown})

    def _show(self, node: Node | None) -> str:
        """A value on one line for a PR body: its own text, or a compact flow form if it spans lines."""
        if node is None:
            return msg.ABSENT
        text = node.text.strip()
        if "\n" in text:
            try:
                text = json.dumps(to_plain(node, self.resolve), ensure_ascii=False)
            except ValueError:
                text = text.split("\n", 1)[0].rstrip("\r") + " ..."
        if len(text) > SHOW_MAX:
            text = text[: SHOW_MAX - 3] + "..."
        return f"`{text}`"


def _join(path: str, key: Node) -> str:
    name = key.value if key.kind == SCALAR else key.text
    if "." in name or " " in name:
        name = f'"{name}"'
    return f"{path}.{name}" if path and not path.endswith(": ") else f"{path}{name}"


def _roots(docs: list[Document]) -> list[Node]:
    return [d.root for d in docs if d.root is not None]


def _inline_scalar(node: Node) -> bool:
    return node.kind in (SCALAR, ALIAS) and node.style not in _BLOCK_STYLES and not node.multiline


def _empty(node: Node) -> bool:
    return node.kind == SCALAR and node.value == "" and node.plain_implicit


def _first_anchor(node: Node) -> str:
    if node.referenced and node.anchor:
        return node.anchor
    children = [x for kv in node.items for x in kv] if node.kind == MAP else list(node.items)
    for child in children:
        if child.shared:
            return _first_anchor(child)
    return node.anchor or ""
