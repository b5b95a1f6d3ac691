"""What a merge returns to its caller: the text to propose (if any), the mode, and the notes for the PR.

`content` is None whenever there is nothing to write: the file is already what it should be, every
difference was kept as the human's, or the file could not be parsed. `final` is the file as it will be
after the proposal either way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from bot.models import MergeNote


class MergeMode(str, enum.Enum):
    """How a file was merged. A str enum: `result.mode == "preserve"` works."""

    CREATE = "create"  # the file did not exist
    PRESERVE = "preserve"  # the file exists and the bot's last output for it is unknown
    THREE_WAY = "three-way"  # the bot's last output (the base) is known
    UNCHANGED = "unchanged"  # nothing to do: already equal, or the generator's output did not change
    ERROR = "error"  # the file (or the generator's output) does not parse; never rewritten


@dataclass
class MergeResult:
    content: str | None
    changed: bool
    mode: MergeMode
    notes: list[MergeNote] = field(default_factory=list)  # kept-your-value notes
    conflicts: list[MergeNote] = field(default_factory=list)  # conflict=True, for a human to resolve
    error: str | None = None  # the parser's message for a file that does not parse
    strategy: str = ""  # "yaml" (structural splice) or "text" (line-wise three-way)
    original: str | None = field(default=None, repr=False)  # the `current` the merge was given

    @property
    def final(self) -> str | None:
        """The file after the proposal: the new content, else the file as it is."""
        return self.content if self.content is not None else self.original

    @property
    def record_base(self) -> bool:
        """Whether the generated text should become this path's base in the lock.

        Not after an error (the generator's output was not taken into account) and not when a
        line-wise conflict kept the whole human file (so the conflict is reported again next time).
        The lock is written in the same commit as the files, so a base only advances when the human
        merges the proposal.
        """
        if self.mode == MergeMode.ERROR:
            return False
        return not (self.strategy == "text" and self.conflicts)
