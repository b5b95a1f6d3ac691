"""A small Dockerfile reader for the image tests: instructions with their stage, continuations joined.

Only what the tests need: the instruction keyword, its raw argument text, exec-form (JSON array)
arguments, and `ENV`/`LABEL` key=value pairs. Parsing follows the Dockerfile reference: `\\` at the
end of a line continues it, `#` starts a comment only at the beginning of a line.
https://docs.docker.com/reference/dockerfile/
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY ...
    args: str  # the text after the keyword, continuations joined by a space
    stage: int  # index of the FROM this instruction belongs to
    line: int  # 1-based line of the keyword

    def exec_form(self) -> list[str] | None:
        """The JSON-array form of CMD/ENTRYPOINT/RUN (and HEALTHCHECK's CMD), or None (shell form)."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            _, _, text = text.partition("CMD ")
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    def pairs(self) -> dict[str, str]:
        """key=value pairs of ENV, LABEL or ARG (shell-quoted values unquoted)."""
        out = {}
        for word in shlex.split(self.args):
            key, sep, value = word.partition("=")
            if sep:
                out[key] = value
        return out


def parse(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    stage = -1
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        line = pending + stripped
        pending = ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, args.strip(), stage, start))
    return out


def read(path: Path) -> list[Instruction]:
    return parse(path.read_text(encoding="utf-8"))
