"""Read-and-preserve merge (issue #5, DESIGN.md §8): update a human's file without losing their work.

Public API, used by the pipeline before any generated file is proposed:

- `merge_file(path, *, current, base, generated) -> MergeResult`: create, preserve, three-way merge,
  or report a file that does not parse (never rewritten).
- `GeneratedLock` and `LOCK_PATH`: the bot's record, in the platform repo, of exactly what it last
  generated per path (the base of the next three-way merge).
- `plan_merge(generated, *, read, generators, version) -> MergePlan`: a whole generator run, the
  lock update included, as file changes for one commit plus the notes for the PR body.

Modules: `core` (the decision order and strategy choice), `yamldoc` (positioned YAML nodes),
`yamlmerge` (structural merge by splicing), `identity` (which list items are the same), `textmerge`
(line-wise `git merge-file`), `splice` (edits and text conventions), `lock`, `plan`, `segments` (speed), `result`, `messages`.
"""

from bot.merge.core import STRATEGIES, merge_file, strategy_for
from bot.merge.lock import LOCK_PATH, GeneratedLock
from bot.merge.plan import MergePlan, plan_merge
from bot.merge.result import MergeMode, MergeResult

__all__ = [
    "LOCK_PATH",
    "STRATEGIES",
    "GeneratedLock",
    "MergeMode",
    "MergePlan",
    "MergeResult",
    "merge_file",
    "plan_merge",
    "strategy_for",
]
