"""Merging a generator run's whole output: every file through `merge_file`, plus the lock update.

The pipeline hands over `{path: generated text}` and a way to read the target repo; it gets back the
file changes for one commit (the lock included, so a base only advances when the proposal merges),
the notes for the PR body, and the files left alone because they do not parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from bot.merge.core import merge_file
from bot.merge.lock import LOCK_PATH, GeneratedLock
from bot.merge.result import MergeResult
from bot.models import FileChange, MergeNote


@dataclass
class MergePlan:
    files: list[FileChange] = field(default_factory=list)  # changed files, then the lock if it changed
    notes: list[MergeNote] = field(default_factory=list)  # kept values and conflicts, by path
    errors: dict[str, str] = field(default_factory=dict)  # path -> why it was left alone
    results: dict[str, MergeResult] = field(default_factory=dict)
    lock: GeneratedLock = field(default_factory=GeneratedLock)

    @property
    def conflicts(self) -> list[MergeNote]:
        return [n for n in self.notes if n.conflict]

    @property
    def only_lock(self) -> bool:
        """Nothing but the lock changed (e.g. the first run over files already as generated): the
        pipeline may fold it into the next proposal instead of opening one for it."""
        return bool(self.files) and all(f.path == LOCK_PATH for f in self.files)


def plan_merge(
    generated: Mapping[str, str],
    *,
    read: Callable[[str], str | None],
    generators: Mapping[str, str] | str,
    version: str,
) -> MergePlan:
    """Merge each generated file into what `read(path)` returns (None: absent) and update the lock.

    `generators` names the generator of each path (or one name for all); `version` is recorded with
    each base so a later run can tell which generator release produced it.
    """
    lock_text = read(LOCK_PATH)
    lock = GeneratedLock.loads(lock_text)
    plan = MergePlan(lock=lock)
    for path in sorted(generated):
        text = generated[path]
        current = read(path)
        result = merge_file(path, current=current, base=lock.base_for(path), generated=text)
        plan.results[path] = result
        if result.error is not None:
            plan.errors[path] = result.error
        if result.changed and result.content is not None:
            plan.files.append(FileChange(path=path, new=result.content, old=current))
        plan.notes.extend([*result.notes, *result.conflicts])
        if result.record_base:
            name = generators if isinstance(generators, str) else generators.get(path, "unknown")
            lock.record(path, text, generator=name, version=version)
    new_lock = lock.dumps()
    if new_lock != lock_text:
        plan.files.append(FileChange(path=LOCK_PATH, new=new_lock, old=lock_text))
    return plan
