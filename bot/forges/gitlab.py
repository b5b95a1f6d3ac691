"""The GitLab forge: the Forge interface over the GitLab REST API v4, on python-gitlab.

Owns: reads (default and protected branches, branches, raw files, the repository tree, compare,
merge requests, notes, member access levels), the write primitives behind base.py's guard (one
commit with several actions, MRs found by source branch and updated instead of duplicated, notes,
labels, commit statuses for the policy verdict), award-emoji acknowledgements, and GitLab errors
turned into ForgeError/NotFoundError messages without the token.

python-gitlab is synchronous, so every call runs in `asyncio.to_thread`. Its own retry loop sleeps
inside the thread and drops the headers, so it is switched off: the requests session raises on 429
and 5xx, and `_call` decides through `bot.forges.ratelimit`, sleeping with an injectable coroutine.
Projects are addressed by path ("group/project", URL-encoded into one path segment).

Docs: https://docs.gitlab.com/ee/api/commits.html#create-a-commit-with-multiple-files-and-actions,
.../api/merge_requests.html, .../api/notes.html#merge-requests, .../api/commits.html#set-the-pipeline-status-of-a-commit,
.../api/members.html#get-a-member-of-a-group-or-project-including-inherited-and-invited-members,
.../api/protected_branches.html, .../api/repositories.html, .../api/repository_files.html,
.../api/emoji_reactions.html.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
import urllib.parse
from typing import Any, Awaitable, Callable, TypeVar

import gitlab
import gitlab.exceptions
import requests

from bot.forges.base import Forge, ForgeError, NotFoundError
from bot.forges.ratelimit import TRANSIENT_STATUSES, Limit, RateLimitedError, RetryPolicy, decide
from bot.models import (
    ChangeRequest,
    ChangeRequestState,
    CheckConclusion,
    CheckRun,
    Comment,
    CommitInfo,
    FileChange,
    Issue,
    Permission,
)
from bot.tree import PathEscapeError, normalize

log = logging.getLogger(__name__)

T = TypeVar("T")

_PROJECT_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_STATES = {"open": "opened", "closed": "closed", "merged": "merged", "all": "all"}
_STATUS = {
    CheckConclusion.SUCCESS: "success",
    CheckConclusion.FAILURE: "failed",
    CheckConclusion.NEUTRAL: "success",  # warnings only: GitLab has no neutral state that does not block
    CheckConclusion.PENDING: "pending",
}
_DESCRIPTION_MAX = 255
#: GitHub reaction names -> GitLab emoji names, so handlers can ask both forges for "eyes"
EMOJI = {"+1": "thumbsup", "-1": "thumbsdown", "laugh": "laughing", "hooray": "tada", "confused": "confused",
         "heart": "heart", "rocket": "rocket", "eyes": "eyes"}


def access_permission(level: int) -> Permission:
    """GitLab access level -> Permission (Developer, 30, and above may write)."""
    if level >= 50:
        return Permission.ADMIN
    if level >= 40:
        return Permission.MAINTAIN
    if level >= 30:
        return Permission.WRITE
    if level >= 20:
        return Permission.TRIAGE
    if level >= 5:
        return Permission.READ
    return Permission.NONE


class RetryableStatus(Exception):
    """A 429 or 5xx answer, raised out of python-gitlab with its headers so `_call` can decide."""

    def __init__(self, status: int, headers: dict[str, str], message: str, method: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.message = message
        self.method = method


class SignalingSession(requests.Session):
    """A requests session that raises RetryableStatus instead of returning 429/5xx responses."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        if response.status_code == 429 or response.status_code in TRANSIENT_STATUSES:
            raise RetryableStatus(response.status_code, dict(response.headers), _message_of(response),
                                  str(method).upper())
        return response


def _message_of(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or "")
    return ""


class GitLabForge(Forge):
    """GitLab.com or a self-managed GitLab, authenticated by a project/group access token."""

    name = "gitlab"

    def __init__(
        self,
        url: str,
        token: str,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy = RetryPolicy(),
        dry_run: bool = False,
        bot_login: str = "trustacks-bot",
        timeout: float = 30.0,
        ssl_verify: bool | str = True,
    ) -> None:
        super().__init__(dry_run=dry_run)
        if not token:
            raise ValueError("a GitLab token is required")
        self.bot_login = bot_login
        self.url = url.rstrip("/")
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self.policy = retry
        self._session = SignalingSession()
        self._gl = gitlab.Gitlab(
            self.url, private_token=token, session=self._session, timeout=timeout, ssl_verify=ssl_verify,
            retry_transient_errors=False, user_agent="trustacks-bot",
        )

    def __repr__(self) -> str:
        return f"GitLabForge(url={self.url!r})"

    def close(self) -> None:
        self._session.close()

    # ================================================================== transport

    async def _call(self, what: str, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run one python-gitlab call in a thread, retrying rate limits (and 5xx when idempotent)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await asyncio.to_thread(fn)
            except RetryableStatus as r:
                decision = decide(r.status, r.headers, message=r.message, attempt=attempt, now=self._clock(),
                                  policy=self.policy, idempotent=idempotent)
                if decision is None or (not decision.retry and decision.kind is Limit.TRANSIENT):
                    raise ForgeError(f"GitLab {what}: server error ({r.status}: {self._scrub(r.message)}); "
                                     "the job will be retried") from None
                if not decision.retry:
                    raise RateLimitedError(
                        f"GitLab {what}: {decision.kind.value} still in force after {attempt} attempt(s); "
                        f"the job will be retried after {decision.delay:.0f}s", retry_at=decision.retry_at,
                    ) from None
                log.warning("gitlab %s: %s (HTTP %s), retrying in %.1fs (attempt %d of %d)", what,
                            decision.kind.value, r.status, decision.delay, attempt, self.policy.max_attempts)
                await self._sleep(decision.delay)
            except gitlab.exceptions.GitlabError as exc:
                raise self._translate(what, exc) from None
            except requests.RequestException as exc:
                raise ForgeError(f"GitLab {what}: network error ({type(exc).__name__}); the job will be retried") from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _translate(self, what: str, exc: gitlab.exceptions.GitlabError) -> ForgeError:
        status = exc.response_code or 0
        detail = self._scrub(str(exc.error_message or ""))
        where = f"GitLab {what}"
        if status == 404:
            return NotFoundError(f"{where}: not found (404: {detail}). Check the project path, branch or MR number, "
                                 "and that the token can see the project, then retry.")
        if status == 401:
            return ForgeError(f"{where}: bad credentials (401). Check the GitLab token, then retry.")
        if status == 403:
            return ForgeError(f"{where}: forbidden (403: {detail}). Check the token's role and scopes on this "
                              "project, then retry.")
        if status in (400, 409, 422):
            return ForgeError(f"{where}: rejected ({status}: {detail}). Fix the request or the branch state, "
                              "then retry.")
        return ForgeError(f"{where}: HTTP {status}: {detail}")

    @staticmethod
    def _p(repo: str) -> str:
        if not isinstance(repo, str) or not _PROJECT_RE.match(repo) or ".." in repo:
            raise ForgeError(f"not a GitLab project path: {repo!r} (expected 'group/project')")
        return "/projects/" + urllib.parse.quote(repo, safe="")

    @staticmethod
    def _e(value: str) -> str:
        """One URL path segment (a branch name or a file path)."""
        return urllib.parse.quote(value, safe="")

    async def _get(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        return await self._call(f"GET {path}", lambda: self._gl.http_get(path, query_data=params or {}))

    async def _list(self, path: str, *, params: dict[str, Any] | None = None) -> list[Any]:
        query = {"per_page": 100, **(params or {})}
        return await self._call(
            f"GET {path}", lambda: list(self._gl.http_list(path, query_data=query, get_all=True))
        )

    async def _post(self, path: str, data: dict[str, Any], *, idempotent: bool = True) -> Any:
        return await self._call(f"POST {path}", lambda: self._gl.http_post(path, post_data=data), idempotent=idempotent)

    async def _put(self, path: str, data: dict[str, Any]) -> Any:
        return await self._call(f"PUT {path}", lambda: self._gl.http_put(path, post_data=data))

    async def whoami(self) -> str:
        """Learn the token user's username (GET /user): the bot finds its own MRs and notes by it."""
        data = await self._get("/user")
        self.bot_login = str(data.get("username") or self.bot_login)
        return self.bot_login

    # ================================================================== reads

    async def default_branch(self, repo: str) -> str:
        data = await self._get(self._p(repo))
        return str(data["default_branch"])

    async def protected_branches(self, repo: str) -> set[str]:
        """Names or wildcard patterns (`release/*`), as GitLab stores them."""
        return {str(b["name"]) for b in await self._list(self._p(repo) + "/protected_branches")}

    async def branch_sha(self, repo: str, branch: str) -> str | None:
        name = branch.removeprefix("refs/heads/")
        try:
            data = await self._get(f"{self._p(repo)}/repository/branches/{self._e(name)}")
        except NotFoundError:
            return None
        return str(data["commit"]["id"])

    async def _resolve(self, repo: str, ref: str | None) -> str:
        if ref is None:
            ref = await self.default_branch(repo)
        if _SHA_RE.match(ref):
            return ref
        sha = await self.branch_sha(repo, ref)
        if sha is None:
            raise NotFoundError(f"GitLab: branch {ref!r} not found in {repo}; check the branch name and retry")
        return sha

    async def read_file(self, repo: str, path: str, *, ref: str | None = None) -> bytes | None:
        try:
            clean = normalize(path)
        except PathEscapeError as exc:
            raise ForgeError(f"refused to read {path!r}: {exc}") from None
        api = f"{self._p(repo)}/repository/files/{self._e(clean)}/raw"
        params = {"ref": ref} if ref else {}
        try:
            response = await self._call(f"GET {api}", lambda: self._gl.http_get(api, query_data=params, raw=True))
        except NotFoundError:
            return None
        return bytes(response.content)

    async def _blobs(self, repo: str, ref: str) -> dict[str, str]:
        """{path: mode} of every blob at ref (the tree API, recursive)."""
        items = await self._list(f"{self._p(repo)}/repository/tree", params={"recursive": "true", "ref": ref})
        return {str(i["path"]): str(i.get("mode") or "100644") for i in items if i.get("type") == "blob"}

    async def list_files(self, repo: str, *, ref: str | None = None) -> list[str]:
        """Regular files at ref (symlinks and submodules left out)."""
        sha = await self._resolve(repo, ref)
        return sorted(p for p, mode in (await self._blobs(repo, sha)).items() if mode in ("100644", "100755"))

    async def branch_commits(self, repo: str, branch: str, base: str) -> list[CommitInfo]:
        """Commits on `branch` not on `base`, newest first (the compare API)."""
        try:
            data = await self._get(f"{self._p(repo)}/repository/compare", params={"from": base, "to": branch})
        except NotFoundError:
            if await self.branch_sha(repo, branch) is None:
                return []
            raise
        return [
            CommitInfo(sha=str(c["id"]), author_email=str(c.get("author_email") or ""),
                       committer_email=str(c.get("committer_email") or ""), message=str(c.get("message") or ""))
            for c in _newest_first(data.get("commits") or [])
        ]

    async def find_change_requests(
        self, repo: str, *, head: str | None = None, state: str = "open"
    ) -> list[ChangeRequest]:
        if state not in _STATES:
            raise ForgeError(f"unknown change request state {state!r} (open, closed, merged, all)")
        params: dict[str, Any] = {"state": _STATES[state]}
        if head:
            params["source_branch"] = head.removeprefix("refs/heads/")
        return [_change_request(repo, d) for d in await self._list(self._p(repo) + "/merge_requests", params=params)]

    async def get_change_request(self, repo: str, number: int) -> ChangeRequest:
        return _change_request(repo, await self._get(f"{self._p(repo)}/merge_requests/{int(number)}"))

    async def list_comments(self, repo: str, number: int) -> list[Comment]:
        """Human and bot notes, oldest first (system notes such as "added 1 commit" left out)."""
        items = await self._list(f"{self._p(repo)}/merge_requests/{int(number)}/notes",
                                 params={"sort": "asc", "order_by": "created_at"})
        return [_comment(d) for d in items if not d.get("system")]

    async def user_permission(self, repo: str, user: str) -> Permission:
        """The member's access level on the project, inherited and invited memberships included."""
        users = await self._list("/users", params={"username": user})
        match = [u for u in users if str(u.get("username", "")).lower() == user.lower()]
        if not match:
            return Permission.NONE
        try:
            member = await self._get(f"{self._p(repo)}/members/all/{int(match[0]['id'])}")
        except NotFoundError:
            return Permission.NONE
        if member.get("state") not in (None, "active"):
            return Permission.NONE
        return access_permission(int(member.get("access_level") or 0))

    # ================================================================== write primitives

    async def _create_branch(self, repo: str, branch: str, from_ref: str) -> str:
        sha = await self._resolve(repo, from_ref)
        await self._post(f"{self._p(repo)}/repository/branches", {"branch": branch, "ref": sha})
        return sha

    async def _commit_files(
        self, repo: str, branch: str, changes: list[FileChange], *, message: str, parent: str | None
    ) -> str:
        """One commit with one action per changed file; unchanged files are left out."""
        current = await self.branch_sha(repo, branch)
        base = parent or current or await self._resolve(repo, None)
        existing = await self._blobs(repo, base)
        actions: list[dict[str, Any]] = []
        for change in changes:
            if change.new is None:
                if change.path in existing:
                    actions.append({"action": "delete", "file_path": change.path})
                continue
            data = change.new.encode("utf-8")
            if change.path in existing:
                if await self.read_file(repo, change.path, ref=base) == data:
                    continue  # identical: no empty change on a re-run
                action = "update"
            else:
                action = "create"
            actions.append({"action": action, "file_path": change.path,
                            "content": base64.b64encode(data).decode("ascii"), "encoding": "base64"})
        moving = parent is not None and current is not None and parent != current
        if not actions:
            if current is None:
                await self._post(f"{self._p(repo)}/repository/branches", {"branch": branch, "ref": base})
            elif moving:
                # nothing to write on top of `parent`: point the branch back at it (GitLab has no ref update)
                await self._call(f"DELETE branch {branch}", lambda: self._gl.http_delete(
                    f"{self._p(repo)}/repository/branches/{self._e(branch)}"))
                await self._post(f"{self._p(repo)}/repository/branches", {"branch": branch, "ref": base})
            return base
        body: dict[str, Any] = {"branch": branch, "commit_message": message, "actions": actions,
                                "author_name": self.bot_login, "author_email": self.bot_email}
        if current is None:
            body["start_sha"] = base
        elif moving:
            # the caller checked the branch carries no human commits: rebuild it on `parent`
            body["start_sha"] = parent
            body["force"] = True
        data = await self._post(f"{self._p(repo)}/repository/commits", body, idempotent=False)
        return str(data["id"])

    async def _delete_branch(self, repo: str, branch: str) -> None:
        path = f"{self._p(repo)}/repository/branches/{self._e(branch)}"
        try:
            await self._call(f"DELETE {path}", lambda: self._gl.http_delete(path))
        except NotFoundError:
            return  # already gone

    async def _open_change_request(self, repo: str, *, head: str, base: str, title: str, body: str) -> ChangeRequest:
        """Open an MR, or update the open MR from the same source branch (never a second one)."""
        for _ in range(2):
            existing = await self.find_change_requests(repo, head=head, state="open")
            if existing:
                mr = existing[0]
                if mr.title != title or mr.body != body or mr.base != base:
                    data = await self._put(f"{self._p(repo)}/merge_requests/{mr.number}",
                                           {"title": title, "description": body, "target_branch": base})
                    return _change_request(repo, data)
                return mr
            try:
                data = await self._post(
                    f"{self._p(repo)}/merge_requests",
                    {"source_branch": head, "target_branch": base, "title": title, "description": body,
                     "remove_source_branch": True},
                    idempotent=False,
                )
            except ForgeError as exc:
                if "already exists" in str(exc):
                    continue  # opened concurrently: find and update it
                raise
            return _change_request(repo, data)
        raise ForgeError(f"GitLab: could not open or find the merge request for {repo}@{head}; retry the job")

    async def _update_change_request(
        self, repo: str, number: int, *, title: str | None, body: str | None, state: str | None
    ) -> ChangeRequest:
        data: dict[str, Any] = {}
        if title is not None:
            data["title"] = title
        if body is not None:
            data["description"] = body
        if state is not None:
            data["state_event"] = "close" if state == "closed" else "reopen"
        if not data:
            return await self.get_change_request(repo, number)
        return _change_request(repo, await self._put(f"{self._p(repo)}/merge_requests/{int(number)}", data))

    async def _comment(self, repo: str, number: int, body: str) -> Comment:
        data = await self._post(f"{self._p(repo)}/merge_requests/{int(number)}/notes", {"body": body}, idempotent=False)
        return _comment(data)

    async def _edit_comment(self, repo: str, number: int, comment_id: int, body: str) -> Comment:
        data = await self._put(f"{self._p(repo)}/merge_requests/{int(number)}/notes/{int(comment_id)}", {"body": body})
        return _comment(data)

    async def _add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        if labels:
            await self._put(f"{self._p(repo)}/merge_requests/{int(number)}", {"add_labels": ",".join(labels)})

    async def _set_check(self, check: CheckRun) -> CheckRun:
        """A commit status named after the check. GitLab statuses carry no annotations: the caller
        reports those in a note; the title goes in the 255-character description."""
        data = {"state": _STATUS[check.conclusion], "name": check.name,
                "description": check.title[:_DESCRIPTION_MAX]}
        path = f"{self._p(check.repo)}/statuses/{check.sha}"
        try:
            result = await self._post(path, data)
            status_id = int(result.get("id") or 0)
        except ForgeError as exc:
            if "Cannot transition status" not in str(exc):
                raise
            status_id = check.id  # the same state is already set
        return CheckRun(repo=check.repo, sha=check.sha, name=check.name, conclusion=check.conclusion,
                        title=check.title, summary=check.summary, annotations=list(check.annotations), id=status_id)

    # ================================================================== GitLab-only helpers

    # ================================================================== issues (the dashboard)
    # https://docs.gitlab.com/api/issues/

    async def find_issues(self, repo: str, *, marker: str, state: str = "all") -> list[Issue]:
        if state not in ("open", "closed", "all"):
            raise ForgeError(f"unknown issue state {state!r} (open, closed, all)")
        params = {"state": {"open": "opened"}.get(state, state), "author_username": self.bot_login,
                  "order_by": "created_at", "sort": "asc"}
        items = await self._list(self._p(repo) + "/issues", params=params)
        return [i for i in (_issue(repo, d) for d in items) if i.author == self.bot_login and marker in i.body]

    async def _create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        data = await self._post(f"{self._p(repo)}/issues", {"title": title, "description": body}, idempotent=False)
        return _issue(repo, data)

    async def _update_issue(self, repo: str, number: int, *, body: str, state: str | None) -> Issue:
        path = f"{self._p(repo)}/issues/{int(number)}"
        if _issue(repo, await self._get(path)).author != self.bot_login:
            raise ForgeError(f"{repo}: issue #{number} is not the bot's")
        data: dict[str, Any] = {"description": body}
        if state is not None:
            data["state_event"] = "close" if state == "closed" else "reopen"
        return _issue(repo, await self._put(path, data))

    async def add_reaction(self, repo: str, comment_id: int, content: str = "eyes", *, number: int | None = None) -> int:
        """Award an emoji to an MR note (the slash-command acknowledgement). GitLab needs the MR `number`."""
        if number is None:
            raise ForgeError("GitLab reactions need the merge request number (number=...)")
        name = EMOJI.get(content, content)
        if not re.fullmatch(r"[a-z0-9_+-]+", name):
            raise ForgeError(f"unknown reaction {content!r}")
        if self._suppress("add_reaction", repo, f"note {comment_id}"):
            return 0
        path = f"{self._p(repo)}/merge_requests/{int(number)}/notes/{int(comment_id)}/award_emoji"
        try:
            data = await self._post(path, {"name": name})
        except ForgeError as exc:
            if "already been taken" in str(exc):
                return 0  # already acknowledged
            raise
        return int(data.get("id") or 0)


# ====================================================================== translation


def _newest_first(commits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order compare commits child before parent, whatever order the server listed them in."""
    by_id = {str(c["id"]): c for c in commits}
    parents_in_set = {p for c in commits for p in c.get("parent_ids") or [] if p in by_id}
    heads = [cid for cid in by_id if cid not in parents_in_set]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    stack = list(reversed(heads))
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        out.append(by_id[cid])
        stack.extend(reversed([p for p in by_id[cid].get("parent_ids") or [] if p in by_id]))
    return out


def _change_request(repo: str, d: dict[str, Any]) -> ChangeRequest:
    state = {"merged": ChangeRequestState.MERGED, "closed": ChangeRequestState.CLOSED,
             "locked": ChangeRequestState.OPEN}.get(str(d.get("state")), ChangeRequestState.OPEN)
    merged_by = d.get("merge_user") or d.get("merged_by") or {}
    return ChangeRequest(
        repo=repo,
        number=int(d["iid"]),
        title=str(d.get("title") or ""),
        body=str(d.get("description") or ""),
        head=str(d["source_branch"]),
        base=str(d["target_branch"]),
        state=state,
        author=str((d.get("author") or {}).get("username") or ""),
        head_sha=str(d.get("sha") or ""),
        url=str(d.get("web_url") or ""),
        labels=[str(x["name"] if isinstance(x, dict) else x) for x in d.get("labels") or []],
        merged_by=merged_by.get("username") if isinstance(merged_by, dict) else None,
    )


def _issue(repo: str, d: dict[str, Any]) -> Issue:
    return Issue(repo=repo, number=int(d["iid"]), title=str(d.get("title") or ""), body=str(d.get("description") or ""),
                 author=str((d.get("author") or {}).get("username") or ""),
                 state="closed" if d.get("state") == "closed" else "open", url=str(d.get("web_url") or ""))


def _comment(d: dict[str, Any]) -> Comment:
    return Comment(id=int(d["id"]), author=str((d.get("author") or {}).get("username") or ""),
                   body=str(d.get("body") or ""))
