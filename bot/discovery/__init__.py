"""Discovery: detect a repository's stack with evidence and propose Environment Profile changes (issue #3).

`discover(tree, repo=...)` runs every detector in `DETECTORS` over a FileTree and returns Findings
(category, canonical tool id, `path:line` evidence, confidence, detector) and Services. `profile_diff`
compares results with the current Profile and proposes additions, changes and stale entries.
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
