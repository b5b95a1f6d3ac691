"""Splicing edits into the human's text, and the text conventions a splice must respect.

An edit replaces one character range of the original text; everything outside the ranges is copied
byte for byte (DESIGN.md §8). The helpers here keep a file's own conventions: its line break (LF or
CRLF), its byte-order mark, and the indentation of the block an edit lands in.
"""

from __future__ import annotations

from dataclasses import dataclass

BOM = "\ufeff"


class OverlapError(ValueError):
    """Two edits touch the same characters: a bug in the merge, never applied half-way."""


@dataclass(frozen=True)
class Edit:
    """Replace `text[start:end]` with `new`. `order` keeps insertions at one offset in sequence."""

    start: int
    end: int
    new: str
    order: int = 0


def apply_edits(text: str, edits: list[Edit]) -> str:
    """The text with every edit applied; raises OverlapError rather than guess."""
    if not edits:
        return text
    out: list[str] = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end, e.order)):
        if edit.start < pos or edit.end < edit.start:
            raise OverlapError(f"overlapping edits at offset {edit.start}")
        out.append(text[pos : edit.start])
        out.append(edit.new)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def split_bom(text: str) -> tuple[str, str]:
    """(bom, rest): the merge works on the text after the mark and puts it back unchanged."""
    return (BOM, text[1:]) if text.startswith(BOM) else ("", text)


def newline_of(text: str) -> str:
    """The file's line break: CRLF if the file uses it, else LF."""
    return "\r\n" if "\r\n" in text else "\n"


def to_newline(text: str, newline: str) -> str:
    """Text written with LF, converted to the target file's line break."""
    return text.replace("\n", newline) if newline != "\n" else text


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def reindent(block: str, delta: int) -> str:
    """Shift every line after the first by `delta` columns (the first line is placed by the caller).

    Blank lines stay empty; a negative shift removes at most the blanks a line has, so a comment
    indented less than its block is moved left as far as it can go but never loses text.
    """
    if delta == 0 or "\n" not in block:
        return block
    lines = block.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            out.append(line.strip(" \t"))
        elif delta > 0:
            out.append(" " * delta + line)
        else:
            blanks = len(line) - len(line.lstrip(" "))
            out.append(line[min(blanks, -delta) :])
    return "\n".join(out)
