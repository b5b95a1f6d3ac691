"""Policy: layered Rego (constitution, packs, overlay) evaluated on regorus (DESIGN.md §3, §7).

`PolicyEngine.load(...)` compiles the layers once; `evaluate(proposal, profile, pr=...)` returns a
`Decision` and fails closed. Facts come from `bot.policy.facts.build_input`; rule metadata from
`bot.policy.rules_meta`; parameters merge strictest-wins in `bot.policy.params`.
"""

from bot.policy.engine import (
    POLICY_ERROR_ID,
    OverlayRejected,
    PolicyEngine,
    PolicyError,
    RegoEngine,
    Source,
    TestReport,
    TestResult,
    UnknownRule,
    available_packs,
    default_rules_dir,
)
from bot.policy.rules_meta import Requirement, RuleMeta

__all__ = [
    "POLICY_ERROR_ID",
    "OverlayRejected",
    "PolicyEngine",
    "PolicyError",
    "RegoEngine",
    "Requirement",
    "RuleMeta",
    "Source",
    "TestReport",
    "TestResult",
    "UnknownRule",
    "available_packs",
    "default_rules_dir",
]
