"""Turn a GitHub or GitLab webhook payload into one forge-neutral `Event` (pure, no I/O).

The handlers then run the same flow whichever forge the event came from. A payload missing a field the
bot needs raises `PayloadError` (the job fails with that message; the worker never crashes); events
the bot does not act on return None and are acknowledged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

from bot.worker import PermanentError


class PayloadError(PermanentError, ValueError):
    """The payload lacks a field the bot needs: retrying cannot help, so the job is dead-lettered at once."""


class Kind(str, enum.Enum):
    ONBOARD = "onboard"  # installation created / repositories added
    PUSH = "push"  # push to a branch
    PR_OPENED = "pr_opened"  # opened, reopened, synchronize, edited
    PR_MERGED = "pr_merged"
    PR_CLOSED = "pr_closed"  # closed without merge
    COMMENT = "comment"  # a PR/MR comment
    ISSUE_EDITED = "issue_edited"  # dashboard checkbox ticks


@dataclass
class Event:
    kind: Kind
    forge: str
    repo: str = ""
    repos: list[str] = field(default_factory=list)  # onboarding: every repo in the installation event
    installation_id: int | None = None
    actor: str = ""
    actor_is_bot: bool = False
    branch: str = ""  # push: the branch pushed
    default_branch: str = ""
    number: int = 0  # PR / MR / issue number
    head: str = ""
    base: str = ""
    head_sha: str = ""
    pr_author: str = ""
    pr_body: str = ""
    is_fork: bool = False
    comment_id: int = 0
    comment_body: str = ""
    action: str = ""
    #: issue edited: the body before the edit (`changes.body.from`); None when the body did not change
    previous_body: str | None = None


def _get(payload: Mapping[str, Any], *path: str) -> Any:
    cur: Any = payload
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            raise PayloadError(f"payload lacks {'.'.join(path)}")
        cur = cur[key]
    return cur


def _opt(payload: Mapping[str, Any], *path: str, default: Any = None) -> Any:
    try:
        return _get(payload, *path)
    except PayloadError:
        return default


def _is_bot_user(user: Mapping[str, Any] | None) -> bool:
    if not isinstance(user, Mapping):
        return False
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


def normalize(forge: str, event: str, payload: Any) -> Event | None:
    if not isinstance(payload, Mapping):
        raise PayloadError("payload is not a JSON object")
    if forge not in ("github", "gitlab"):
        raise PayloadError(f"unknown forge {forge!r}")
    try:
        return _github(event, payload) if forge == "github" else _gitlab(event, payload)
    except PayloadError:
        raise
    except (AttributeError, TypeError, ValueError) as exc:  # a field of the wrong type (e.g. null for an object)
        raise PayloadError(f"payload field of the wrong type: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------------- GitHub
# https://docs.github.com/en/webhooks/webhook-events-and-payloads


def _installation_id(p: Mapping[str, Any]) -> int | None:
    """`installation.id`: absent means none; anything but a positive integer is a malformed payload."""
    inst = _opt(p, "installation", "id")
    if inst is None:
        return None
    if isinstance(inst, bool) or not isinstance(inst, int) or inst <= 0:
        raise PayloadError(f"installation.id must be a positive integer, not {type(inst).__name__}")
    return inst


def _github(event: str, p: Mapping[str, Any]) -> Event | None:
    action = str(p.get("action", ""))
    inst = _installation_id(p)
    if event == "installation" and action in ("created", "new_permissions_accepted"):
        repos = [str(_get(r, "full_name")) for r in p.get("repositories") or []]
        return Event(Kind.ONBOARD, "github", repos=repos, installation_id=inst, actor=str(_opt(p, "sender", "login", default="")))
    if event == "installation_repositories" and action == "added":
        repos = [str(_get(r, "full_name")) for r in p.get("repositories_added") or []]
        return Event(Kind.ONBOARD, "github", repos=repos, installation_id=inst, actor=str(_opt(p, "sender", "login", default="")))
    if event == "push":
        ref = str(_get(p, "ref"))
        if not ref.startswith("refs/heads/") or p.get("deleted"):
            return None
        return Event(
            Kind.PUSH, "github", repo=str(_get(p, "repository", "full_name")), installation_id=inst,
            branch=ref.removeprefix("refs/heads/"), default_branch=str(_get(p, "repository", "default_branch")),
            actor=str(_opt(p, "sender", "login", default="")), actor_is_bot=_is_bot_user(p.get("sender")),
            head_sha=str(p.get("after") or ""),
        )
    if event == "pull_request":
        pr = _get(p, "pull_request")
        repo = str(_get(p, "repository", "full_name"))
        head_repo = _opt(pr, "head", "repo", "full_name")
        common = dict(
            forge="github", repo=repo, installation_id=inst, number=int(_get(pr, "number")),
            head=str(_get(pr, "head", "ref")), base=str(_get(pr, "base", "ref")),
            head_sha=str(_get(pr, "head", "sha")), pr_author=str(_get(pr, "user", "login")),
            pr_body=str(pr.get("body") or ""), is_fork=head_repo is not None and head_repo != repo,
            default_branch=str(_get(p, "repository", "default_branch")), action=action,
            actor=str(_opt(p, "sender", "login", default="")), actor_is_bot=_is_bot_user(p.get("sender")),
        )
        if action == "closed":
            return Event(Kind.PR_MERGED if pr.get("merged") else Kind.PR_CLOSED, **common)
        if action in ("opened", "reopened", "synchronize", "edited", "ready_for_review"):
            return Event(Kind.PR_OPENED, **common)
        return None
    if event == "issue_comment":
        issue = _get(p, "issue")
        is_pr = isinstance(issue, Mapping) and "pull_request" in issue
        if not is_pr:
            return None
        comment = _get(p, "comment")
        return Event(
            Kind.COMMENT, "github", repo=str(_get(p, "repository", "full_name")), installation_id=inst,
            number=int(_get(issue, "number")), actor=str(_get(comment, "user", "login")),
            actor_is_bot=_is_bot_user(comment.get("user")), comment_id=int(_get(comment, "id")),
            comment_body=str(comment.get("body") or ""), pr_author=str(_opt(issue, "user", "login", default="")),
            pr_body=str(issue.get("body") or ""), action=action,
        )
    if event == "issues" and action == "edited":
        issue = _get(p, "issue")
        return Event(
            Kind.ISSUE_EDITED, "github", repo=str(_get(p, "repository", "full_name")), installation_id=inst,
            number=int(_get(issue, "number")), actor=str(_opt(p, "sender", "login", default="")),
            actor_is_bot=_is_bot_user(p.get("sender")), pr_body=str(issue.get("body") or ""), action=action,
            previous_body=_previous(_opt(p, "changes", "body", "from")),
        )
    return None


def _previous(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------- GitLab
# https://docs.gitlab.com/user/project/integrations/webhook_events/


def _gitlab(event: str, p: Mapping[str, Any]) -> Event | None:
    kind = str(p.get("object_kind", ""))
    if event in ("Push Hook",) or kind == "push":
        ref = str(_get(p, "ref"))
        if not ref.startswith("refs/heads/") or str(p.get("after", "")).strip("0") == "":
            return None
        return Event(
            Kind.PUSH, "gitlab", repo=str(_get(p, "project", "path_with_namespace")),
            branch=ref.removeprefix("refs/heads/"), default_branch=str(_get(p, "project", "default_branch")),
            actor=str(p.get("user_username") or ""), head_sha=str(p.get("after") or ""),
        )
    if event == "Merge Request Hook" or kind == "merge_request":
        attrs = _get(p, "object_attributes")
        action = str(attrs.get("action", ""))
        repo = str(_get(p, "project", "path_with_namespace"))
        source = _opt(attrs, "source", "path_with_namespace")
        common = dict(
            forge="gitlab", repo=repo, number=int(_get(attrs, "iid")), head=str(_get(attrs, "source_branch")),
            base=str(_get(attrs, "target_branch")), head_sha=str(_opt(attrs, "last_commit", "id", default="")),
            pr_author=str(_opt(p, "user", "username", default="")), pr_body=str(attrs.get("description") or ""),
            is_fork=source is not None and source != repo, default_branch=str(_opt(p, "project", "default_branch", default="")),
            actor=str(_opt(p, "user", "username", default="")), action=action,
        )
        if action == "merge":
            return Event(Kind.PR_MERGED, **common)
        if action == "close":
            return Event(Kind.PR_CLOSED, **common)
        if action in ("open", "reopen", "update"):
            return Event(Kind.PR_OPENED, **common)
        return None
    if (event == "Issue Hook" or kind == "issue") and _opt(p, "object_attributes", "action") == "update":
        attrs = _get(p, "object_attributes")
        user = p.get("user") or {}
        return Event(
            Kind.ISSUE_EDITED, "gitlab", repo=str(_get(p, "project", "path_with_namespace")),
            number=int(_get(attrs, "iid")), actor=str(_opt(p, "user", "username", default="")),
            actor_is_bot=bool(user.get("bot")) if isinstance(user, Mapping) else False,
            pr_body=str(attrs.get("description") or ""), action="update",
            previous_body=_previous(_opt(p, "changes", "description", "previous")),
        )
    if event == "Note Hook" or kind == "note":
        attrs = _get(p, "object_attributes")
        if attrs.get("noteable_type") != "MergeRequest":
            return None
        mr = _get(p, "merge_request")
        repo = str(_get(p, "project", "path_with_namespace"))
        source = _opt(mr, "source", "path_with_namespace")
        user = p.get("user") or {}
        return Event(
            Kind.COMMENT, "gitlab", repo=repo, number=int(_get(mr, "iid")), actor=str(_get(p, "user", "username")),
            actor_is_bot=bool(user.get("bot")) or str(user.get("username", "")).startswith("project_") and "_bot" in str(user.get("username", "")),
            comment_id=int(_get(attrs, "id")), comment_body=str(attrs.get("note") or ""),
            head=str(mr.get("source_branch", "")), pr_body=str(mr.get("description") or ""),
            is_fork=source is not None and source != repo, action=str(attrs.get("action") or "create"),
        )
    return None
