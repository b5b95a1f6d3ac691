"""Discovery: detect a repository's stack with evidence and propose Environment Profile changes (issue #3).

`discover(tree, repo=...)` runs every detector in `DETECTORS` over a FileTree and returns Findings
(category, canonical tool id, `path:line` evidence, confidence, detector) and Services. `profile_diff`
compares results with the current Profile and proposes additions, changes and stale entries.

How to add a detector: write `bot/discovery/<name>.py` with a pure `detect(ctx)` (a `RULES` table of
`base.rule(...)` lines and `scan()` covers most tools) and a `DETECTOR = Detector(...)` naming the file
kinds it reads and the categories it owns; add one line to `DETECTORS` in `engine.py`; add a case to a
fixture app or to `tests/discovery/test_detectors.py`. `test_registry.py` fails until the line is there.
A new kind of file is one more branch in `base.classify` and one more entry in `base.KINDS`.
"""

from bot.discovery.diff import ProfileDiff, ServiceDiff, ToolDiff, profile_diff
from bot.discovery.engine import DETECTORS, DiscoveryResult, candidate_paths, discover

__all__ = [
    "DETECTORS",
    "DiscoveryResult",
    "ProfileDiff",
    "ServiceDiff",
    "ToolDiff",
    "candidate_paths",
    "discover",
    "profile_diff",
]
