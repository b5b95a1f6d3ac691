"""Line-wise three-way merge for files that are not plain YAML (Dockerfile, Jenkinsfile, Helm templates).

`git merge-file` semantics, by running `git merge-file -p --diff3` on temporary files: changes from
base to generated are applied to the human's file where they do not overlap the human's own changes.
A conflict never reaches a proposal as markers: the human's file is kept whole and each conflicting
hunk is reported with what the generator wanted. Without a base there is nothing to merge against, so
the human's file is kept and the difference reported (preserve mode).

Line breaks are normalised to LF for the merge and restored to the human's convention afterwards,
so a CRLF file does not conflict on every line; a BOM is set aside and put back.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import tempfile
from dataclasses import dataclass, field

from bot.merge import messages as msg
from bot.merge.splice import normalize_newlines, split_bom, to_newline
from bot.models import MergeNote

MARKER_SIZE = 17  # longer than any marker a human is likely to have typed into a file
GIT_TIMEOUT_SECONDS = 30


class TextMergeError(RuntimeError):
    """git is missing or `git merge-file` failed (not a conflict)."""


@dataclass
class TextOutcome:
    content: str | None
    notes: list[MergeNote] = field(default_factory=list)
    conflicts: list[MergeNote] = field(default_factory=list)


def merge_text(path: str, *, current: str, base: str | None, generated: str) -> TextOutcome:
    """Merge line-wise; `content` is None when the human's file stays as it is."""
    bom, body = split_bom(current)
    newline = "\r\n" if "\r\n" in body else "\n"
    ours = normalize_newlines(body)
    theirs = normalize_newlines(split_bom(generated)[1])
    if ours == theirs:
        return TextOutcome(None)
    if base is None:
        changed = sum(
            1 for line in difflib.ndiff(ours.splitlines(), theirs.splitlines()) if line[:1] in "+-"
        )
        note = MergeNote(path, "(file)", msg.TEXT_PRESERVED.format(count=changed))
        return TextOutcome(None, notes=[note])
    merged, count = git_merge_file(ours, normalize_newlines(split_bom(base)[1]), theirs)
    if count:
        return TextOutcome(None, conflicts=_conflicts(path, ours, merged))
    result = bom + to_newline(merged, newline)
    return TextOutcome(result if result != current else None)


def git_merge_file(ours: str, base: str, theirs: str) -> tuple[str, int]:
    """(merged text, number of conflicts) from `git merge-file -p --diff3`."""
    with tempfile.TemporaryDirectory(prefix="trustacks-merge-") as tmp:
        paths = []
        for name, text in (("yours", ours), ("last-generated", base), ("generator", theirs)):
            file_path = os.path.join(tmp, name)
            with open(file_path, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            paths.append(file_path)
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": tmp}
        try:
            proc = subprocess.run(
                ["git", "merge-file", "-p", "--diff3", f"--marker-size={MARKER_SIZE}",
                 "-L", "yours", "-L", "last-generated", "-L", "generator", *paths],
                capture_output=True,
                env=env,
                timeout=GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TextMergeError(f"git merge-file could not run: {exc}") from exc
    if proc.returncode < 0 or proc.returncode > 127:
        raise TextMergeError(f"git merge-file failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8"), proc.returncode


def _conflicts(path: str, ours: str, merged: str) -> list[MergeNote]:
    """One note per conflict hunk: where it is in the human's file and what the generator wanted."""
    start, mid, sep, end = ("<" * MARKER_SIZE, "|" * MARKER_SIZE, "=" * MARKER_SIZE, ">" * MARKER_SIZE)
    ours_lines = ours.split("\n")
    notes: list[MergeNote] = []
    section: str | None = None
    mine: list[str] = []
    wanted: list[str] = []
    search_from = 0
    for line in merged.split("\n"):
        if line.startswith(start + " ") or line == start:
            section, mine, wanted = "ours", [], []
        elif section and (line.startswith(mid + " ") or line == mid):
            section = "base"
        elif section and line == sep:
            section = "theirs"
        elif section and (line.startswith(end + " ") or line == end):
            first = _find(ours_lines, mine, search_from)
            if first is None:
                where = "lines (unlocated)"
            else:
                last = first + max(len(mine), 1)
                where = f"lines {first + 1}-{last}" if len(mine) > 1 else f"line {first + 1}"
                search_from = first + len(mine)
            shown = "\n".join(wanted) if wanted else msg.ABSENT
            notes.append(MergeNote(path, where, msg.TEXT_CONFLICT.format(where=where, theirs=shown), conflict=True))
            section = None
        elif section == "ours":
            mine.append(line)
        elif section == "theirs":
            wanted.append(line)
    return notes


def _find(lines: list[str], block: list[str], start: int) -> int | None:
    if not block:
        return start if start <= len(lines) else None
    for i in range(start, len(lines) - len(block) + 1):
        if lines[i : i + len(block)] == block:
            return i
    return None
