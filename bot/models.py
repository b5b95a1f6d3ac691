"""Forge-neutral data objects shared by the engines, the forges and the handlers (DESIGN.md §2).

Plain dataclasses with no behaviour beyond small derived properties: the engines pass these around,
the forges translate them to and from GitHub/GitLab/local shapes.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

BRANCH_PREFIX = "trustacks/"


def as_dict(obj: Any) -> Any:
    """JSON-ready view of a model (enums as their values)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [as_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): as_dict(v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class Evidence:
    """Where a finding was seen: `path:line` plus the line itself."""

    path: str
    line: int
    snippet: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Finding:
    """One detected tool (or a problem such as `unparseable`) with its evidence."""

    category: str
    tool: str
    evidence: tuple[Evidence, ...]
    confidence: float
    detector: str
    details: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.tool)


@dataclass
class Service:
    """One deployable application found in a repo (monorepos yield several)."""

    name: str
    repo: str
    path: str = "."
    language: str | None = None
    framework: str | None = None
    runtime_version: str | None = None
    port: int | None = None
    dockerfile: str | None = None
    chart: str | None = None
    evidence: list[Evidence] = field(default_factory=list)


# --------------------------------------------------------------------------- proposals


class ProposalKind(str, enum.Enum):
    PROFILE = "profile"
    GENERATE = "generate"
    WAIVER = "waiver"


@dataclass
class FileChange:
    """One file of a proposal. `new=None` deletes the file; `old=None` means it did not exist."""

    path: str
    new: str | None
    old: str | None = None

    @property
    def action(self) -> str:
        if self.new is None:
            return "delete"
        return "create" if self.old is None else "update"


@dataclass(frozen=True)
class ToolChoice:
    """Why a generated file uses a tool: the Profile entry that decided it."""

    category: str
    tool: str
    profile_ref: str  # e.g. ".trustacks/profile.yaml#tooling.registry[0]"
    path: str = ""  # the generated file that uses it


@dataclass(frozen=True)
class MergeNote:
    """A read-and-preserve outcome to show in the PR body (kept value or conflict)."""

    path: str
    key: str
    message: str
    conflict: bool = False


@dataclass
class Proposal:
    """A change the bot wants to make, before policy and before any forge write."""

    kind: ProposalKind
    repo: str
    base_branch: str
    head_branch: str
    title: str
    summary: str
    files: list[FileChange] = field(default_factory=list)
    tool_choices: list[ToolChoice] = field(default_factory=list)
    merge_notes: list[MergeNote] = field(default_factory=list)
    blast_radius: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)
    details: str = ""  # kind-specific Markdown (e.g. the Profile diff with evidence)
    input_hash: str = ""
    citations: list[str] = field(default_factory=list)  # rule IDs that motivated the proposal
    citations: list[str] = field(default_factory=list)  # IDs of the rules that motivated it (TS-CITE-001)

    @property
    def changed_paths(self) -> list[str]:
        return [f.path for f in self.files]


# --------------------------------------------------------------------------- policy


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True)
class Violation:
    rule: str
    layer: str
    severity: str
    msg: str
    because: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waived:
    """A pack or overlay violation a signed, unexpired waiver covers: reported, not enforced."""

    violation: Violation
    #: the waiver's audit record (rule, repo, path, approver, expires, reason)
    waiver: dict[str, str]
    #: "deny" or "warn": what the violation would have been
    was: str = "deny"


@dataclass
class Decision:
    """The policy verdict on one proposal. Any deny means the proposal is not opened."""

    deny: list[Violation] = field(default_factory=list)
    warn: list[Violation] = field(default_factory=list)
    required_tooling: list[str] = field(default_factory=list)
    bundle_revisions: dict[str, str] = field(default_factory=dict)
    rules_evaluated: list[str] = field(default_factory=list)
    #: violations lifted by a signed waiver (never a constitution rule)
    waived: list[Waived] = field(default_factory=list)
    #: waivers in the waiver file that did not apply to anything because they are invalid, and why
    waivers_ignored: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.deny

    @property
    def verdict(self) -> str:
        if self.deny:
            return "deny"
        return "warn" if self.warn else "pass"

    @property
    def cited_rules(self) -> list[str]:
        seen: dict[str, None] = {}
        for v in [*self.deny, *self.warn]:
            seen.setdefault(v.rule, None)
        return list(seen)


# --------------------------------------------------------------------------- forge objects


class Permission(str, enum.Enum):
    """Repository permission of a user, ordered from least to most."""

    NONE = "none"
    READ = "read"
    TRIAGE = "triage"
    WRITE = "write"
    MAINTAIN = "maintain"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _PERMISSION_ORDER.index(self.value)

    @property
    def can_write(self) -> bool:
        return self.rank >= _PERMISSION_ORDER.index("write")


_PERMISSION_ORDER = ("none", "read", "triage", "write", "maintain", "admin")


class ChangeRequestState(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass
class ChangeRequest:
    """A GitHub pull request, a GitLab merge request, or a local-forge PR."""

    repo: str
    number: int
    title: str
    body: str
    head: str
    base: str
    state: ChangeRequestState
    author: str
    head_sha: str = ""
    url: str = ""
    labels: list[str] = field(default_factory=list)
    merged_by: str | None = None
    head_repo: str = ""  # the repo the head branch lives in; differs from `repo` for fork PRs


@dataclass(frozen=True)
class Comment:
    id: int
    author: str
    body: str


@dataclass
class Issue:
    """A GitHub issue, a GitLab issue or a local-forge issue (the dashboard lives in one)."""

    repo: str
    number: int
    title: str
    body: str
    author: str
    state: str = "open"  # open | closed
    url: str = ""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author_email: str
    committer_email: str
    message: str


class CheckConclusion(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    PENDING = "pending"


@dataclass(frozen=True)
class Annotation:
    path: str
    line: int
    message: str
    level: str = "failure"  # notice | warning | failure


@dataclass
class CheckRun:
    repo: str
    sha: str
    name: str
    conclusion: CheckConclusion
    title: str
    summary: str
    annotations: list[Annotation] = field(default_factory=list)
    id: int = 0
