"""The dashboard issue: one issue per platform repo that shows what TruStacks is doing, with checkboxes to act.

Modelled on Renovate's Dependency Dashboard. One idempotent verb, `ensure_dashboard`, finds the issue
by its hidden marker (never by a database row, so losing the database never makes a second copy),
renders the current state, and writes only when the text between its own markers changed; anything
people wrote above or below the markers is kept byte for byte. Dry-run is honoured by the forge.

What it shows, and where each piece comes from:
- the Profile (read from the platform repo) and the open Profile PR (found by branch and marker);
- open bot PRs in the platform repo and every repo the Profile names, with the verdict and rules read
  back from their bodies (`bot.citations` wrote them), and the PRs whose branch a human edited (the
  bot said so in a comment and stopped pushing);
- proposals denied by policy or held back (noise limits): these have no PR, so the outcomes passed to
  `ensure_dashboard` are remembered in a hidden JSON block inside the issue itself;
- opt-out (the latest Profile PR closed unmerged), failed and dead-lettered jobs of this org (from the
  store, when the caller has one), and the top gaps (`bot.policy.gaps`).
Checkbox lines carry a hidden action id (`<!-- trustacks:action=discover -->`); `new_ticks` compares
the body before and after a human edit to find boxes that went from empty to ticked.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from bot.forges.base import Forge, ForgeError
from bot.models import BRANCH_PREFIX, ChangeRequest, ChangeRequestState, Issue
from bot.pr_identity import parse_marker
from bot.reports.templating import markdown_env

log = logging.getLogger(__name__)

TITLE = "TruStacks Dashboard"
START = "<!-- trustacks:dashboard:start -->"
END = "<!-- trustacks:dashboard:end -->"
#: the marker the dashboard is found by
MARKER = START
STATE_OPEN = "<!-- trustacks:dashboard:state "
STATE_CLOSE = " -->"
_STATE_RE = re.compile(r"<!-- trustacks:dashboard:state (\{.*?\}) -->", re.S)
_ACTION_RE = re.compile(r"^[ \t]*[-*] \[([ xX])\] <!-- trustacks:action=([a-z]+(?::[0-9]{1,18})?) -->", re.M)
#: items per section; the rest are counted ("and 4 more")
MAX_ITEMS = 20
#: remembered action results shown under "Recent actions"
MAX_ACTIONS = 5
#: GitHub's issue body limit is 65,536 characters
MAX_BODY_CHARS = 60_000
MAX_STATE_CHARS = 40_000
EDITED_MARK = "You edited this branch"  # the sentence bot.pipeline posts when it stops updating a branch
TRUNCATED = "\n\n_The dashboard was cut here to fit the issue size limit._\n"

#: ticking these runs the slash command of the same name; `retry:<job id>` re-queues a job
ACTION_DISCOVER = "discover"
ACTION_GENERATE = "generate"
ACTION_RETRY = "retry"
ACTIONS = (ACTION_DISCOVER, ACTION_GENERATE, ACTION_RETRY)

_VERDICTS = {
    "**Verdict: pass.**": "pass",
    "**Verdict: pass with warnings.**": "warn",
    "**Verdict: denied.**": "deny",
}
_FINDING_RE = re.compile(r"^- (❌|⚠️) `([^`\n]{1,80})`", re.M)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")


# ============================================================================ data


@dataclass(frozen=True)
class PullRow:
    """An open bot PR as the dashboard lists it."""

    repo: str
    number: int
    title: str
    kind: str
    verdict: str  # pass | warn | deny | unknown
    rules: tuple[str, ...]
    url: str = ""
    edited: bool = False
    head: str = ""

    @property
    def link(self) -> str:
        sep = "!" if "/-/merge_requests/" in self.url else "#"
        return f"{self.repo}{sep}{self.number}"


@dataclass(frozen=True)
class Pending:
    """A proposal with no PR: denied by policy or held back. Remembered in the issue's hidden state."""

    key: str  # "<kind> <repo>" for remembered outcomes; the limiter's proposal key for its held queue
    status: str  # denied | held
    title: str
    rules: tuple[str, ...] = ()
    reason: str = ""
    repo: str = ""  # derived from the key when not given
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.repo and " " in self.key:
            object.__setattr__(self, "kind", self.kind or self.key.split(" ", 1)[0])
            object.__setattr__(self, "repo", self.key.split(" ", 1)[1])


@dataclass(frozen=True)
class JobRow:
    id: int
    event: str
    state: str
    attempts: int
    repo: str
    error: str


@dataclass(frozen=True)
class ActionRecord:
    """What a tick did, shown under "Recent actions" (most recent first)."""

    action: str
    actor: str
    result: str


@dataclass
class State:
    """What the issue remembers between runs (it has no other storage)."""

    pending: dict[str, Pending] = field(default_factory=dict)
    actions: list[ActionRecord] = field(default_factory=list)

    def to_json(self) -> str:
        doc = {
            "v": 1,
            "pending": {k: {"status": p.status, "title": p.title, "rules": list(p.rules), "reason": p.reason}
                        for k, p in sorted(self.pending.items())},
            "actions": [{"action": a.action, "actor": a.actor, "result": a.result} for a in self.actions],
        }
        text = json.dumps(doc, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
        # no '<' or '>' inside: the block can never end the HTML comment early or open another
        return text.replace("<", "\\u003c").replace(">", "\\u003e")

    @classmethod
    def from_body(cls, body: str | None) -> "State":
        """The state in an issue body; an empty state when absent, oversized or unreadable."""
        m = _STATE_RE.search(_region(body or "") or "")
        if not m or len(m.group(1)) > MAX_STATE_CHARS:
            return cls()
        try:
            doc = json.loads(m.group(1))
        except ValueError:
            return cls()
        state = cls()
        if not isinstance(doc, dict):
            return state
        for key, item in (doc.get("pending") or {}).items() if isinstance(doc.get("pending"), dict) else ():
            if not isinstance(item, dict) or item.get("status") not in ("denied", "held"):
                continue
            rules = tuple(str(r) for r in item.get("rules") or () if _ID_RE.match(str(r)))
            state.pending[str(key)[:300]] = Pending(str(key)[:300], item["status"], str(item.get("title", ""))[:300],
                                                    rules[:20], str(item.get("reason", ""))[:500])
        for a in doc.get("actions") or () if isinstance(doc.get("actions"), list) else ():
            if isinstance(a, dict):
                state.actions.append(ActionRecord(str(a.get("action", ""))[:40], str(a.get("actor", ""))[:100],
                                                  str(a.get("result", ""))[:500]))
        state.actions = state.actions[:MAX_ACTIONS]
        return state

    def record_outcomes(self, outcomes: Iterable[Any]) -> None:
        """Remember denied and held-back proposals; forget one once it gets a PR (or nothing to do)."""
        for o in outcomes:
            proposal = o.proposal
            key = f"{proposal.kind.value} {proposal.repo}"
            if o.action == "denied":
                rules = tuple(dict.fromkeys(v.rule for v in o.decision.deny))
                self.pending[key] = Pending(key, "denied", proposal.title, rules)
            elif o.action == "held":
                reason = "; ".join(getattr(o, "notes", ()) or ()) or "held back by the noise limits"
                self.pending[key] = Pending(key, "held", proposal.title, (), reason)
            else:
                self.pending.pop(key, None)

    def record_action(self, record: ActionRecord) -> None:
        self.actions = [record, *self.actions][:MAX_ACTIONS]


@dataclass
class DashboardData:
    platform_repo: str
    profile_status: str = "absent"  # absent | ok | invalid
    profile_error: str = ""
    profile_tools: int = 0
    profile_categories: int = 0
    profile_services: int = 0
    profile_pr: PullRow | None = None
    proposals: list[PullRow] = field(default_factory=list)
    edited: list[PullRow] = field(default_factory=list)
    denied: list[Pending] = field(default_factory=list)
    held: list[Pending] = field(default_factory=list)
    opted_out: PullRow | None = None
    jobs: list[JobRow] = field(default_factory=list)
    jobs_note: str = ""
    gaps: list[Any] = field(default_factory=list)
    gaps_total: int = 0
    gaps_note: str = ""
    actions: list[ActionRecord] = field(default_factory=list)

    @property
    def nothing_to_show(self) -> bool:
        return not (self.profile_pr or self.proposals or self.edited or self.denied or self.held
                    or self.opted_out or self.jobs or self.gaps or self.gaps_note or self.jobs_note
                    or self.profile_status != "ok")


@dataclass(frozen=True)
class EnsureResult:
    action: str  # created | updated | unchanged | unsupported
    issue: Issue | None
    body: str = ""


# ============================================================================ body helpers


def _region(body: str) -> str | None:
    """The text between the bot's markers (to the end when the end marker was deleted), or None."""
    start = body.find(START)
    if start < 0:
        return None
    end = body.find(END, start)
    return body[start:] if end < 0 else body[start:end + len(END)]


def splice(body: str, region: str) -> str:
    """`body` with the bot's region replaced by `region`; text outside the markers is kept as is."""
    start = body.find(START)
    if start < 0:
        return region
    end = body.find(END, start)
    tail = "" if end < 0 else body[end + len(END):]
    return body[:start] + region + tail


def checked_actions(body: str | None) -> dict[str, bool]:
    """Action id -> ticked, for the checkboxes inside the bot's region."""
    region = _region(body or "")
    if region is None:
        return {}
    return {action: mark.lower() == "x" for mark, action in _ACTION_RE.findall(region)}


def new_ticks(old: str | None, new: str | None) -> list[str]:
    """Actions whose box is ticked in `new` and was not ticked in `old`, in the order they appear."""
    before = checked_actions(old)
    return [a for a, ticked in checked_actions(new).items() if ticked and not before.get(a, False)]


def parse_action(action: str) -> tuple[str, int | None]:
    """`discover` -> ("discover", None); `retry:42` -> ("retry", 42). Unknown names raise ValueError."""
    name, colon, arg = action.partition(":")
    if name not in ACTIONS or (name == ACTION_RETRY) != bool(colon) or (colon and not arg.isdigit()):
        raise ValueError(f"unknown dashboard action {action!r}")
    return name, int(arg) if arg else None


def _verdict(body: str) -> tuple[str, tuple[str, ...]]:
    verdict = next((v for line, v in _VERDICTS.items() if line in body), "unknown")
    rules = tuple(dict.fromkeys(r for _, r in _FINDING_RE.findall(body) if _ID_RE.match(r)))
    return verdict, rules


def one_line(text: str, limit: int = 300) -> str:
    text = text.replace("**", "").replace("`", "")  # plain text: the template escapes what is left
    flat = " · ".join(line.strip(" -") for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ============================================================================ collecting


async def find_dashboard(forge: Forge, repo: str) -> Issue | None:
    """The bot's dashboard issue in `repo` (the oldest, if a race ever made two), or None."""
    issues = await forge.find_issues(repo, marker=MARKER, state="all")
    own = [i for i in issues if i.author == forge.bot_login and MARKER in i.body]
    return min(own, key=lambda i: i.number) if own else None


async def _bot_prs(forge: Forge, repo: str, *, state: str = "open") -> list[ChangeRequest]:
    prs = await forge.find_change_requests(repo, state=state)
    return [p for p in prs if p.author == forge.bot_login and p.head.startswith(BRANCH_PREFIX) and parse_marker(p.body)]


async def _row(forge: Forge, pr: ChangeRequest) -> PullRow:
    ident = parse_marker(pr.body)
    verdict, rules = _verdict(pr.body)
    edited = False
    if pr.state is ChangeRequestState.OPEN:
        comments = await forge.list_comments(pr.repo, pr.number)
        edited = any(c.author == forge.bot_login and EDITED_MARK in c.body for c in comments)
    return PullRow(repo=pr.repo, number=pr.number, title=pr.title, kind=ident.kind if ident else "?",
                   verdict=verdict, rules=rules, url=pr.url, edited=edited, head=pr.head)


def _job_repos(job: Any) -> list[str]:
    from bot.handlers.events import normalize

    try:
        event = normalize(job.forge, job.event, job.payload)
    except Exception:  # noqa: BLE001 - a job that cannot be read belongs to nobody we can show it to
        return []
    if event is None:
        return []
    return [r for r in [event.repo, *event.repos] if r]


async def org_jobs(store: Any, platform_repo: str, *, limit: int = MAX_ITEMS) -> list[JobRow]:
    """Failed and dead jobs whose event came from the platform repo's org (never another tenant's)."""
    owner = platform_repo.rsplit("/", 1)[0] + "/" if "/" in platform_repo else ""
    rows: list[JobRow] = []
    for state in ("dead", "failed"):
        for listed in await store.list_jobs(state, limit=200):
            job = await store.get_job(listed.id)
            if job is None:
                continue
            repos = _job_repos(job)
            mine = [r for r in repos if r == platform_repo or (owner and r.startswith(owner))]
            if not mine:
                continue
            error = (job.last_error or "").strip().splitlines()
            rows.append(JobRow(id=job.id, event=job.event, state=job.state, attempts=job.attempts,
                               repo=mine[0], error=error[0][:200] if error else ""))
            if len(rows) >= limit:
                return rows
    return rows


async def collect(
    forge: Forge,
    *,
    platform_repo: str,
    policy: Any = None,
    store: Any = None,
    state: State | None = None,
    limiter: Any = None,
) -> DashboardData:
    """Everything the dashboard shows, read from the forge, the store, the noise limiter and the policy engine."""
    from bot import pipeline
    from bot.catalog import CATEGORY_NAMES
    from bot.profile import ProfileError

    state = state or State()
    data = DashboardData(platform_repo=platform_repo, actions=list(state.actions))
    profile = None
    try:
        profile = await pipeline.load_profile(forge, platform_repo)
    except ProfileError as exc:
        data.profile_status, data.profile_error = "invalid", str(exc).splitlines()[0][:300]
    if profile is not None:
        data.profile_status = "ok"
        counts = [len(profile.tools(c)) for c in CATEGORY_NAMES]
        data.profile_tools, data.profile_categories = sum(counts), sum(1 for n in counts if n)
        data.profile_services = len(profile.services())

    repos = [platform_repo]
    if profile is not None:
        repos += sorted({s.repo for s in profile.services()} - {platform_repo})
    repos += sorted({p.repo for p in state.pending.values()} - set(repos))
    for repo in repos:
        try:
            prs = await _bot_prs(forge, repo)
        except ForgeError as exc:
            log.warning("dashboard: cannot list PRs of %s: %s", repo, exc)
            continue
        for pr in prs:
            row = await _row(forge, pr)
            if repo == platform_repo and row.kind == "profile" and pr.head == pipeline.profile_branch(platform_repo):
                data.profile_pr = row
            else:
                data.proposals.append(row)
            if row.edited:
                data.edited.append(row)
    open_keys = {f"{r.kind} {r.repo}" for r in [*data.proposals, *([data.profile_pr] if data.profile_pr else [])]}
    for key, p in sorted(state.pending.items()):
        if key in open_keys and p.status == "held":
            continue  # the held-back proposal got its PR since
        (data.denied if p.status == "denied" else data.held).append(p)
    if limiter is not None:
        try:
            queued = await limiter.held()
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            log.warning("dashboard: cannot read the held-back queue: %s", exc)
            queued = []
        shown = {(p.repo, p.title) for p in data.held}
        for h in queued:
            if (h.repo, h.title) not in shown:
                data.held.append(Pending(key=h.key, status="held", title=h.title, reason=h.reason or "noise limits",
                                         repo=h.repo))

    profile_prs = [p for p in await forge.find_change_requests(
        platform_repo, head=pipeline.profile_branch(platform_repo), state="all")
        if p.author == forge.bot_login and parse_marker(p.body)]
    if profile_prs:
        latest = max(profile_prs, key=lambda p: p.number)
        if latest.state is ChangeRequestState.CLOSED:
            data.opted_out = await _row(forge, latest)

    if store is not None:
        try:
            data.jobs = await org_jobs(store, platform_repo)
        except Exception as exc:  # noqa: BLE001 - the store being down must not stop the dashboard
            data.jobs_note = f"the job queue could not be read ({type(exc).__name__}); the next event retries"

    if profile is not None and policy is not None and hasattr(policy, "effective"):
        from bot.policy.gaps import gap_report
        from bot.policy.rules_meta import severity_rank

        try:
            report = gap_report(profile, policy)
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            data.gaps_note = f"gap analysis failed: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
        else:
            data.gaps_total = len(report.gaps)
            data.gaps = sorted(report.gaps, key=lambda g: (-severity_rank(g.severity), g.rule, g.category))[:10]
    return data


# ============================================================================ rendering


def render(data: DashboardData, state: State) -> str:
    """The bot's region of the issue body (markers included). Pure."""
    template = markdown_env().get_template("dashboard.md.j2")
    body = template.render(d=data, max_items=MAX_ITEMS, start=START, end=END,
                           state=STATE_OPEN + state.to_json() + STATE_CLOSE,
                           retry=ACTION_RETRY, discover=ACTION_DISCOVER, generate=ACTION_GENERATE)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    if len(body) > MAX_BODY_CHARS:
        keep = MAX_BODY_CHARS - len(TRUNCATED) - len(state.to_json()) - 200
        body = body[:keep] + TRUNCATED + STATE_OPEN + state.to_json() + STATE_CLOSE + "\n" + END
    return body  # ends exactly at END, so splicing it back is a fixed point


# ============================================================================ the one write verb


async def ensure_dashboard(
    forge: Forge,
    *,
    platform_repo: str,
    policy: Any = None,
    store: Any = None,
    outcomes: Sequence[Any] = (),
    action: ActionRecord | None = None,
    limiter: Any = None,
) -> EnsureResult:
    """Create the dashboard issue or bring it up to date; write nothing when it already matches.

    `outcomes` are `pipeline.Outcome`s of the run that just happened (denied and held-back proposals
    are remembered in the issue); `action` is a tick's result to show under "Recent actions";
    `limiter` (a `bot.limits.NoiseLimiter`) adds its held-back queue.
    """
    try:
        existing = await find_dashboard(forge, platform_repo)
    except NotImplementedError as exc:
        log.info("dashboard skipped: %s", exc)
        return EnsureResult("unsupported", None)
    state = State.from_body(existing.body if existing else None)
    state.record_outcomes(outcomes)
    if action is not None:
        state.record_action(action)
    data = await collect(forge, platform_repo=platform_repo, policy=policy, store=store, state=state, limiter=limiter)
    region = render(data, state)
    if existing is None:
        issue = await forge.create_issue(platform_repo, title=TITLE, body=region + "\n")
        # Two workers racing could both create one: keep the oldest, close ours. Nothing is lost,
        # since both were rendered from the same forge state.
        if issue.number:
            oldest = await find_dashboard(forge, platform_repo)
            if oldest is not None and oldest.number != issue.number:
                await forge.update_issue(platform_repo, issue.number,
                                         body=f"Superseded by #{oldest.number}.", state="closed")
                return EnsureResult("unchanged", oldest, oldest.body)
        return EnsureResult("created", issue, issue.body)
    body = splice(existing.body, region)
    if body == existing.body:
        return EnsureResult("unchanged", existing, body)
    issue = await forge.update_issue(platform_repo, existing.number, body=body)
    return EnsureResult("updated", issue, body)


__all__ = [
    "ACTIONS",
    "ActionRecord",
    "DashboardData",
    "EnsureResult",
    "MARKER",
    "State",
    "TITLE",
    "checked_actions",
    "collect",
    "ensure_dashboard",
    "find_dashboard",
    "new_ticks",
    "org_jobs",
    "parse_action",
    "render",
    "splice",
]
