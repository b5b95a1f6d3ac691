"""The GitHub forge: the Forge interface over the GitHub REST API, on gidgethub's aiohttp transport.

Owns: reads (default branch, branch protection, refs, files, trees, compare, PRs, comments, permissions),
the write primitives behind base.py's guard (one commit for many files through the git data API,
PRs found by head and updated instead of duplicated, comments, labels, check runs with annotations
in batches of 50), reactions, and turning GitHub errors into ForgeError/NotFoundError messages that
say how to retry and never carry a token. Rate limits and 5xx are retried by `RetryingGitHubAPI`
through `bot.forges.ratelimit`, sleeping with an injectable coroutine.

Branch protection, for the write guard (a branch the bot is about to create counts too): the rulesets
active on that branch (REST "Get rules for a branch", which answers for branches that do not exist
yet, repository and organisation rulesets alike) and the classic branch protection rules' patterns
(GraphQL `branchProtectionRules`, matched the way GitHub matches them: `File.fnmatch` with
`FNM_PATHNAME`). Both are cached per forge client (one installation) for `protection_ttl` seconds;
anything that keeps them from being read refuses the write (`ProtectionUnknown`), never allows it.

Docs: https://docs.github.com/en/rest/git (blobs, trees, commits, refs), .../rest/pulls/pulls,
.../rest/issues/comments, .../rest/issues/labels, .../rest/checks/runs,
.../rest/collaborators/collaborators#get-repository-permissions-for-a-user,
.../rest/commits/commits#compare-two-commits, .../rest/reactions/reactions,
.../rest/repos/rules#get-rules-for-a-branch, .../graphql/reference/objects#branchprotectionrule,
.../repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/managing-a-branch-protection-rule
(pattern syntax).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

import aiohttp
import gidgethub
import gidgethub.aiohttp

from bot.forges.base import Forge, ForgeError, NotFoundError, ProtectionUnknown
from bot.forges.ratelimit import Limit, RateLimitedError, RetryPolicy, decide
from bot.models import (
    Annotation,
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
from bot.tree import MemoryTree, PathEscapeError, normalize

if TYPE_CHECKING:
    from bot.forges.github_auth import TokenProvider

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
#: GitHub accepts at most 50 annotations per check-run request.
ANNOTATIONS_PER_REQUEST = 50
#: reaction contents GitHub accepts
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})

#: seconds a branch's protection, once read, is trusted by the write guard (errors are never cached)
PROTECTION_TTL = 60.0
#: classic branch protection rules read per repository at most (pages of 100); more refuses the write
MAX_PROTECTION_RULE_PAGES = 10
#: the classic branch protection rules of one repository, a page at a time
CLASSIC_RULES_QUERY = """
query($owner: String!, $name: String!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    branchProtectionRules(first: 100, after: $cursor) {
      nodes { pattern }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""".strip()

_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_EXTRA_HEADERS = {"x-github-api-version": API_VERSION}
_BLOB_MODES = ("100644", "100755")
_SUMMARY_MAX = 65_535
_TITLE_MAX = 255
_LEVELS = {"failure": "failure", "error": "failure", "warning": "warning", "warn": "warning", "notice": "notice"}
# POSTs that create something a human sees twice if repeated after a 5xx (the git data API is
# content-addressed, so repeating blob/tree/commit creation is harmless).
_NON_IDEMPOTENT_POST = re.compile(r"/(pulls|issues/\d+/comments|issues/\d+/labels|check-runs|git/refs)$")


def _idempotent(method: str, url: str) -> bool:
    if method.upper() != "POST":
        return True
    path = urllib.parse.urlsplit(url).path
    return not _NON_IDEMPOTENT_POST.search(path)


class RetryingGitHubAPI(gidgethub.aiohttp.GitHubAPI):
    """gidgethub over aiohttp, retrying rate limits and 5xx within `policy`, sleeping via `sleep`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        requester: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy = RetryPolicy(),
    ) -> None:
        super().__init__(session, requester, base_url=base_url)
        self._sleep = sleep
        self._clock = clock
        self.policy = policy

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        """Before a request: when the last response said the primary limit is spent, wait for the reset.

        gidgethub decrements `remaining` before each request, so a negative value means GitHub
        already answered `x-ratelimit-remaining: 0`: sending now would only earn a 403.
        """
        limit = self.rate_limit
        if limit is None or limit.remaining >= 0:
            return
        wait = limit.reset_datetime.timestamp() - self._clock() + 1.0
        if wait <= 1.0:
            return
        path = urllib.parse.urlsplit(url).path
        if wait > self.policy.max_wait:
            raise RateLimitedError(
                f"GitHub {method} {path}: primary rate limit spent until its reset in {wait:.0f}s; "
                "the job will be retried then", retry_at=self._clock() + wait,
            )
        log.warning("github %s %s: primary rate limit spent, waiting %.1fs for the reset", method, path, wait)
        await self.sleep(wait)

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: gidgethub.HTTPException, attempt: int
    ) -> bool:
        decision = decide(
            int(exception.status_code),
            exception.headers,
            message=str(exception),
            attempt=attempt,
            now=self._clock(),
            policy=self.policy,
            idempotent=_idempotent(method, url),
        )
        if decision is None:
            return False
        path = urllib.parse.urlsplit(url).path
        if not decision.retry:
            if decision.kind is Limit.TRANSIENT:
                return False
            raise RateLimitedError(
                f"GitHub {method} {path}: {decision.kind.value} still in force after {attempt} attempt(s); "
                f"the job will be retried after {decision.delay:.0f}s",
                retry_at=decision.retry_at,
            )
        log.warning(
            "github %s %s: %s (HTTP %s), retrying in %.1fs (attempt %d of %d)",
            method, path, decision.kind.value, int(exception.status_code), decision.delay,
            attempt, self.policy.max_attempts,
        )
        await self.sleep(decision.delay)
        return True


def _q(value: str) -> str:
    """Percent-encode a branch name or file path for a URL path, keeping its slashes."""
    return urllib.parse.quote(value, safe="/")


def graphql_url(base_url: str) -> str:
    """GitHub's GraphQL endpoint for a REST base URL (GitHub Enterprise Server: /api/v3 -> /api/graphql)."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex for one classic branch protection pattern: Ruby's File.fnmatch with FNM_PATHNAME.

    `*` is any run within one `/`-separated segment, `?` one character but `/`, `[...]` a class
    (`[!...]`/`[^...]` negated) that never matches `/`, `\\x` a literal x, `**/` at the start of a segment
    zero or more whole segments (elsewhere `**` is `*`), and anything else itself (no braces: GitHub
    does not enable FNM_EXTGLOB).
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            at_segment_start = i == 0 or pattern[i - 1] == "/"
            if at_segment_start and pattern.startswith("**/", i):
                while pattern.startswith("**/", i):
                    i += 3
                out.append("(?:[^/]*/)*")
                continue
            while i < n and pattern[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            negate = j < n and pattern[j] in "!^"
            if negate:
                j += 1
            k = j + 1 if j < n and pattern[j] == "]" else j  # a leading ] is a member
            while k < n and pattern[k] != "]":
                k += 1
            if k >= n:  # no closing bracket: a literal [
                out.append(re.escape(c))
            else:
                members = pattern[j:k].replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[").replace("]", "\\]")
                out.append(f"[^/{members}]" if negate else f"(?!/)[{members}]")
                i = k + 1
                continue
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def branch_pattern_matches(pattern: str, branch: str) -> bool:
    """Whether a classic branch protection rule's `pattern` covers `branch` (exact names included)."""
    if pattern == branch:
        return True
    try:
        return _pattern_regex(pattern).match(branch) is not None
    except re.error:
        return True  # a pattern we cannot read protects whatever it might cover: refuse rather than guess


def _split(repo: str) -> tuple[str, str]:
    if not isinstance(repo, str) or not _REPO_RE.match(repo) or ".." in repo:
        raise ForgeError(f"not a GitHub repository name: {repo!r} (expected 'owner/name')")
    owner, name = repo.split("/", 1)
    return owner, name


#: ruleset rule types that constrain a push's content, not who may move the branch
#: (https://docs.github.com/en/rest/repos/rules): they do not make a branch protected for the guard.
CONTENT_RULE_TYPES = frozenset({
    "required_signatures", "commit_message_pattern", "commit_author_email_pattern", "committer_email_pattern",
    "branch_name_pattern", "file_path_restriction", "max_file_path_length", "file_extension_restriction",
    "max_file_size",
})


class GitHubForge(Forge):
    """GitHub.com or GitHub Enterprise Server through the REST API, authenticated by `tokens`."""

    name = "github"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenProvider,
        *,
        base_url: str = DEFAULT_BASE_URL,
        requester: str = "trustacks-bot",
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy = RetryPolicy(),
        dry_run: bool = False,
        bot_login: str = "trustacks[bot]",
        bot_email: str | None = None,
        concurrency: int = 4,
        protection_ttl: float = PROTECTION_TTL,
    ) -> None:
        super().__init__(dry_run=dry_run)
        self.bot_login = bot_login
        # GitHub's noreply address for the App's bot user; edited-branch detection compares against it
        self.bot_email = bot_email or f"{bot_login}@users.noreply.github.com"
        self.api = RetryingGitHubAPI(session, requester, base_url=base_url, sleep=sleep, clock=clock, policy=retry)
        self._tokens = tokens
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._graphql_url = graphql_url(base_url)
        self._protection_ttl = max(0.0, protection_ttl)
        #: (kind, repo[, branch]) -> (read at, value): what the write guard read about protection
        self._protection_cache: dict[tuple[str, ...], tuple[float, Any]] = {}

    def __repr__(self) -> str:
        return f"GitHubForge(base_url={self.api.base_url!r})"

    # ================================================================== transport

    async def _request(self, method: str, path: str, *, data: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One API call with the current token; a 401 refreshes the token once."""
        url = path + (("?" + urllib.parse.urlencode(params)) if params else "")
        for auth_attempt in (1, 2):
            token = await self._tokens.token()
            try:
                if method == "GET":
                    return await self.api.getitem(url, oauth_token=token, extra_headers=dict(_EXTRA_HEADERS))
                if method == "POST":
                    return await self.api.post(url, data=data, oauth_token=token, extra_headers=dict(_EXTRA_HEADERS))
                if method == "PATCH":
                    return await self.api.patch(url, data=data, oauth_token=token, extra_headers=dict(_EXTRA_HEADERS))
                if method == "PUT":
                    return await self.api.put(url, data=data if data is not None else b"", oauth_token=token,
                                              extra_headers=dict(_EXTRA_HEADERS))
                if method == "DELETE":
                    return await self.api.delete(url, oauth_token=token, extra_headers=dict(_EXTRA_HEADERS))
                raise ValueError(method)
            except gidgethub.HTTPException as exc:
                if int(exc.status_code) == 401 and auth_attempt == 1:
                    invalidate = getattr(self._tokens, "invalidate", None)
                    if invalidate is not None:
                        invalidate()
                        continue
                raise translate_error(exc, method, path, token) from None
            except aiohttp.ClientError as exc:
                raise ForgeError(
                    f"GitHub {method} {path}: network error ({type(exc).__name__}); the job will be retried"
                ) from None
        raise AssertionError("unreachable")

    async def _list(self, path: str, *, params: dict[str, Any] | None = None, key: str | None = None) -> list[Any]:
        """Every item of a paginated list (follows `Link: rel="next"`)."""
        query = {"per_page": 100, **(params or {})}
        url = path + "?" + urllib.parse.urlencode(query)
        for auth_attempt in (1, 2):
            token = await self._tokens.token()
            try:
                return [
                    item
                    async for item in self.api.getiter(
                        url, oauth_token=token, extra_headers=dict(_EXTRA_HEADERS), iterable_key=key
                    )
                ]
            except gidgethub.HTTPException as exc:
                if int(exc.status_code) == 401 and auth_attempt == 1 and hasattr(self._tokens, "invalidate"):
                    self._tokens.invalidate()
                    continue
                raise translate_error(exc, "GET", path, token) from None
            except aiohttp.ClientError as exc:
                raise ForgeError(
                    f"GitHub GET {path}: network error ({type(exc).__name__}); the job will be retried"
                ) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _repo_path(repo: str) -> str:
        owner, name = _split(repo)
        return f"/repos/{owner}/{name}"

    # ================================================================== reads

    async def default_branch(self, repo: str) -> str:
        data = await self._request("GET", self._repo_path(repo))
        return str(data["default_branch"])

    async def protected_branches(self, repo: str) -> set[str]:
        """The patterns of the repository's classic branch protection rules (GraphQL), existing branches or not.

        Reading them takes the App's "Administration: read" permission: without it GitHub hides the
        rules, so an installation token without that permission raises instead of answering "none".
        """
        return set(await self._cached(("classic", repo.lower()), lambda: self._classic_patterns(repo)))

    async def branch_rules(self, repo: str, branch: str) -> list[dict[str, Any]]:
        """The active ruleset rules that apply to `branch` (which need not exist): [] when none do."""
        name = branch.removeprefix("refs/heads/")
        return list(await self._cached(("rules", repo.lower(), name), lambda: self._branch_rules(repo, name)))

    async def protection(self, repo: str, branch: str) -> str | None:
        """Why `branch` is protected on GitHub (rulesets, then classic rules), or None.

        A ruleset rule counts unless it only constrains what a push contains (signatures, commit
        message or email patterns, file restrictions: see CONTENT_RULE_TYPES), which GitHub enforces
        on the push itself; org-wide rules of that kind (common in security-minded orgs) must not stop
        the bot from using its own branches. Any other type, including one GitHub adds later, counts.
        Raises `ProtectionUnknown` when either source cannot be read.
        """
        name = branch.removeprefix("refs/heads/")
        try:
            rules = [r for r in await self.branch_rules(repo, name) if r.get("type") not in CONTENT_RULE_TYPES]
            if rules:
                first = rules[0]
                kinds = sorted({str(r.get("type") or "?") for r in rules})
                return (f"ruleset {first.get('ruleset_id', '?')} from {first.get('ruleset_source_type', '?')} "
                        f"{first.get('ruleset_source', '?')}: {', '.join(kinds)}")
            for pattern in sorted(await self.protected_branches(repo)):
                if branch_pattern_matches(pattern, name):
                    return f"branch protection rule {pattern!r}"
        except RateLimitedError:
            raise  # says when to retry; the write has not happened
        except ForgeError as exc:
            raise ProtectionUnknown(
                f"refused to write to {repo}@{name}: the branch protection on GitHub could not be read, and the "
                f"bot never assumes a branch is unprotected. {exc}"
            ) from None
        return None

    async def _cached(self, key: tuple[str, ...], read: Callable[[], Awaitable[Any]]) -> Any:
        hit = self._protection_cache.get(key)
        now = self._clock()
        if hit is not None and now - hit[0] < self._protection_ttl:
            return hit[1]
        value = await read()  # an error propagates and is not cached
        self._protection_cache[key] = (now, value)
        return value

    async def _branch_rules(self, repo: str, name: str) -> list[dict[str, Any]]:
        items = await self._list(f"{self._repo_path(repo)}/rules/branches/{_q(name)}")
        if not all(isinstance(i, dict) for i in items):
            raise ForgeError(f"GitHub: unexpected answer listing the rules of {repo}@{name}; retry the job")
        return items

    async def _classic_patterns(self, repo: str) -> tuple[str, ...]:
        owner, name = _split(repo)
        await self._tokens.token()  # an App installation's permissions are known once its token is
        permissions = getattr(self._tokens, "permissions", None)
        if isinstance(permissions, Mapping) and permissions.get("administration") not in ("read", "write"):
            raise ForgeError(
                "the App's installation lacks the 'Administration: read' permission, without which GitHub hides "
                "classic branch protection rules. Grant it on the App's settings page (app.yml asks for it), have "
                "the installation accept it, then retry."
            )
        patterns: list[str] = []
        cursor: str | None = None
        for _ in range(MAX_PROTECTION_RULE_PAGES):
            data = await self._graphql(CLASSIC_RULES_QUERY, {"owner": owner, "name": name, "cursor": cursor},
                                       what=f"branch protection rules of {repo}")
            connection = (data.get("repository") or {}).get("branchProtectionRules")
            if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
                raise ForgeError(f"GitHub GraphQL: no branch protection rules answered for {repo}; retry the job")
            patterns += [str(n["pattern"]) for n in connection["nodes"] if isinstance(n, dict) and n.get("pattern")]
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return tuple(patterns)
            cursor = str(page.get("endCursor") or "")
            if not cursor:
                break
        raise ForgeError(f"GitHub GraphQL: could not read every branch protection rule of {repo}; retry the job")

    async def _graphql(self, query: str, variables: dict[str, Any], *, what: str) -> dict[str, Any]:
        """`data` of one GraphQL query; any `errors` entry (FORBIDDEN, NOT_FOUND...) raises ForgeError."""
        answer = await self._request("POST", self._graphql_url, data={"query": query, "variables": variables})
        if not isinstance(answer, dict):
            raise ForgeError(f"GitHub GraphQL: unexpected answer reading the {what}; retry the job")
        errors = answer.get("errors")
        if errors:
            shown = "; ".join(
                f"{e.get('type') or 'ERROR'}: {e.get('message') or '?'}" if isinstance(e, dict) else str(e)
                for e in (errors if isinstance(errors, list) else [errors])
            )
            raise ForgeError(f"GitHub GraphQL refused to read the {what} ({shown[:500]}). Check the App's "
                             "permissions on this repository, then retry.")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise ForgeError(f"GitHub GraphQL: no data reading the {what}; retry the job")
        return data

    async def branch_sha(self, repo: str, branch: str) -> str | None:
        name = branch.removeprefix("refs/heads/")
        try:
            data = await self._request("GET", f"{self._repo_path(repo)}/git/ref/heads/{_q(name)}")
        except NotFoundError:
            return None
        if not isinstance(data, dict):  # a prefix match returns a list: the exact ref does not exist
            return None
        return str(data["object"]["sha"])

    async def _resolve(self, repo: str, ref: str | None) -> str:
        """A commit sha for `ref` (default branch when None); NotFoundError when it does not exist."""
        if ref is None:
            ref = await self.default_branch(repo)
        if _SHA_RE.match(ref):
            return ref
        sha = await self.branch_sha(repo, ref)
        if sha is None:
            raise NotFoundError(f"GitHub: branch {ref!r} not found in {repo}; check the branch name and retry")
        return sha

    async def read_file(self, repo: str, path: str, *, ref: str | None = None) -> bytes | None:
        clean = _clean_path(path)
        params = {"ref": ref} if ref else None
        try:
            data = await self._request("GET", f"{self._repo_path(repo)}/contents/{_q(clean)}", params=params)
        except NotFoundError:
            return None
        if not isinstance(data, dict) or data.get("type") != "file":
            return None  # a directory, a symlink or a submodule
        if data.get("encoding") == "base64" and data.get("content") is not None:
            return base64.b64decode(data["content"])
        # files of 1-100 MB come without content: read the blob instead
        return await self._blob(repo, str(data["sha"]))

    async def _blob(self, repo: str, sha: str) -> bytes:
        data = await self._request("GET", f"{self._repo_path(repo)}/git/blobs/{sha}")
        if data.get("encoding") == "base64":
            return base64.b64decode(data.get("content") or "")
        return str(data.get("content") or "").encode("utf-8")

    async def _tree_entries(self, repo: str, tree_ish: str) -> list[dict[str, Any]]:
        """Every blob entry under a tree (recursive; walks subtrees when GitHub truncates)."""
        data = await self._request("GET", f"{self._repo_path(repo)}/git/trees/{tree_ish}", params={"recursive": "1"})
        if not data.get("truncated"):
            return [e for e in data.get("tree", []) if e.get("type") == "blob"]
        entries: list[dict[str, Any]] = []

        async def walk(sha: str, prefix: str) -> None:
            level = await self._request("GET", f"{self._repo_path(repo)}/git/trees/{sha}")
            for e in level.get("tree", []):
                path = f"{prefix}{e['path']}"
                if e.get("type") == "tree":
                    await walk(str(e["sha"]), path + "/")
                elif e.get("type") == "blob":
                    entries.append({**e, "path": path})

        await walk(str(data["sha"]), "")
        return entries

    async def list_files(self, repo: str, *, ref: str | None = None) -> list[str]:
        """Regular files at ref (symlinks and submodules left out: the engines read file bytes)."""
        sha = await self._resolve(repo, ref)
        entries = await self._tree_entries(repo, sha)
        return sorted(str(e["path"]) for e in entries if e.get("mode") in _BLOB_MODES)

    async def read_tree(
        self, repo: str, *, ref: str | None = None, max_file_bytes: int = 1_000_000
    ) -> MemoryTree:
        """One tree listing, then blobs by sha; oversized files are skipped without downloading."""
        sha = await self._resolve(repo, ref)
        entries = [
            e for e in await self._tree_entries(repo, sha)
            if e.get("mode") in _BLOB_MODES and int(e.get("size") or 0) <= max_file_bytes
        ]
        gate = asyncio.Semaphore(self._concurrency)

        async def fetch(entry: dict[str, Any]) -> tuple[str, bytes]:
            async with gate:
                return str(entry["path"]), await self._blob(repo, str(entry["sha"]))

        files = dict(await asyncio.gather(*(fetch(e) for e in entries)))
        return MemoryTree(files, max_file_bytes=max_file_bytes)

    async def branch_commits(self, repo: str, branch: str, base: str) -> list[CommitInfo]:
        """Commits on `branch` not on `base`, newest first (compare API, up to 250 commits)."""
        try:
            data = await self._request("GET", f"{self._repo_path(repo)}/compare/{_q(base)}...{_q(branch)}")
        except NotFoundError:
            if await self.branch_sha(repo, branch) is None:
                return []
            raise
        commits = [
            CommitInfo(
                sha=str(c["sha"]),
                author_email=str(((c.get("commit") or {}).get("author") or {}).get("email") or ""),
                committer_email=str(((c.get("commit") or {}).get("committer") or {}).get("email") or ""),
                message=str((c.get("commit") or {}).get("message") or ""),
            )
            for c in data.get("commits", [])
        ]
        return list(reversed(commits))

    async def find_change_requests(
        self, repo: str, *, head: str | None = None, state: str = "open"
    ) -> list[ChangeRequest]:
        if state not in ("open", "closed", "merged", "all"):
            raise ForgeError(f"unknown change request state {state!r} (open, closed, merged, all)")
        owner, _ = _split(repo)
        params: dict[str, Any] = {"state": "open" if state == "open" else ("all" if state == "all" else "closed")}
        if head:
            params["head"] = f"{owner}:{head.removeprefix('refs/heads/')}"
        items = await self._list(self._repo_path(repo) + "/pulls", params=params)
        prs = [_change_request(repo, d) for d in items]
        if state in ("closed", "merged"):
            wanted = ChangeRequestState.CLOSED if state == "closed" else ChangeRequestState.MERGED
            prs = [p for p in prs if p.state is wanted]
        return prs

    async def get_change_request(self, repo: str, number: int) -> ChangeRequest:
        return _change_request(repo, await self._request("GET", f"{self._repo_path(repo)}/pulls/{int(number)}"))

    async def list_comments(self, repo: str, number: int) -> list[Comment]:
        items = await self._list(f"{self._repo_path(repo)}/issues/{int(number)}/comments")
        return [_comment(d) for d in items]

    async def user_permission(self, repo: str, user: str) -> Permission:
        """Permission of `user` (role name when it is a built-in role, else the base permission)."""
        try:
            data = await self._request(
                "GET", f"{self._repo_path(repo)}/collaborators/{urllib.parse.quote(user, safe='')}/permission"
            )
        except NotFoundError:
            return Permission.NONE
        for key in ("role_name", "permission"):
            value = str(data.get(key) or "").lower()
            if value in Permission._value2member_map_:
                return Permission(value)
        return Permission.NONE

    # ================================================================== write primitives

    async def _create_branch(self, repo: str, branch: str, from_ref: str) -> str:
        sha = await self._resolve(repo, from_ref)
        await self._request("POST", f"{self._repo_path(repo)}/git/refs", data={"ref": f"refs/heads/{branch}", "sha": sha})
        return sha

    async def _commit_files(
        self, repo: str, branch: str, changes: list[FileChange], *, message: str, parent: str | None
    ) -> str:
        """Blobs, one tree on top of the base tree, one commit, one ref update (git data API)."""
        rp = self._repo_path(repo)
        current = await self.branch_sha(repo, branch)
        base = parent or current or await self._resolve(repo, None)
        base_commit = await self._request("GET", f"{rp}/git/commits/{base}")
        base_tree = str(base_commit["tree"]["sha"])
        existing = {str(e["path"]): str(e.get("mode")) for e in await self._tree_entries(repo, base_tree)}

        gate = asyncio.Semaphore(self._concurrency)

        async def blob(content: str) -> str:
            async with gate:
                encoded = base64.b64encode(content.encode("utf-8")).decode("ascii")
                data = await self._request("POST", f"{rp}/git/blobs", data={"content": encoded, "encoding": "base64"})
                return str(data["sha"])

        writes = [c for c in changes if c.new is not None]
        shas = await asyncio.gather(*(blob(c.new or "") for c in writes))
        entries: list[dict[str, Any]] = []
        for change, sha in zip(writes, shas):
            mode = existing.get(change.path)
            entries.append({"path": change.path, "mode": mode if mode in _BLOB_MODES else "100644",
                            "type": "blob", "sha": sha})
        for change in changes:
            if change.new is None and change.path in existing:
                entries.append({"path": change.path, "mode": existing[change.path], "type": "blob", "sha": None})

        head = base
        if entries:
            tree = await self._request("POST", f"{rp}/git/trees", data={"base_tree": base_tree, "tree": entries})
            if str(tree["sha"]) != base_tree:  # identical content: no empty commit on a re-run
                commit = await self._request(
                    "POST", f"{rp}/git/commits", data={"message": message, "tree": tree["sha"], "parents": [base],
                                                       "author": self._identity(), "committer": self._identity()}
                )
                head = str(commit["sha"])
        if current is None:
            await self._request("POST", f"{rp}/git/refs", data={"ref": f"refs/heads/{branch}", "sha": head})
        elif head != current:
            # force only when the caller named a parent other than the head (rebase/recreate on a
            # branch it has checked carries no human commits); otherwise GitHub refuses a non-fast-forward.
            force = parent is not None and parent != current
            await self._request("PATCH", f"{rp}/git/refs/heads/{_q(branch)}", data={"sha": head, "force": force})
        return head

    def _identity(self) -> dict[str, str]:
        """The bot's commit identity: edited-branch detection compares commit emails against it."""
        return {"name": self.bot_login, "email": self.bot_email}

    async def _delete_branch(self, repo: str, branch: str) -> None:
        try:
            await self._request("DELETE", f"{self._repo_path(repo)}/git/refs/heads/{_q(branch)}")
        except ForgeError:
            if await self.branch_sha(repo, branch) is None:
                return  # already gone: deleting is idempotent
            raise

    async def _open_change_request(self, repo: str, *, head: str, base: str, title: str, body: str) -> ChangeRequest:
        """Open a PR, or update the open PR from the same head (a re-run never opens a second one)."""
        for _ in range(2):
            existing = await self.find_change_requests(repo, head=head, state="open")
            if existing:
                pr = existing[0]
                if pr.title != title or pr.body != body or pr.base != base:
                    return await self._update_change_request(repo, pr.number, title=title, body=body, state=None)
                return pr
            try:
                data = await self._request(
                    "POST", f"{self._repo_path(repo)}/pulls",
                    data={"title": title, "head": head, "base": base, "body": body},
                )
            except ForgeError as exc:
                if "already exists" in str(exc):
                    continue  # opened concurrently: loop once to find and update it
                raise
            return _change_request(repo, data)
        raise ForgeError(f"GitHub: could not open or find the pull request for {repo}@{head}; retry the job")

    async def _update_change_request(
        self, repo: str, number: int, *, title: str | None, body: str | None, state: str | None
    ) -> ChangeRequest:
        patch = {k: v for k, v in (("title", title), ("body", body), ("state", state)) if v is not None}
        if not patch:
            return await self.get_change_request(repo, number)
        data = await self._request("PATCH", f"{self._repo_path(repo)}/pulls/{int(number)}", data=patch)
        return _change_request(repo, data)

    async def _comment(self, repo: str, number: int, body: str) -> Comment:
        data = await self._request("POST", f"{self._repo_path(repo)}/issues/{int(number)}/comments", data={"body": body})
        return _comment(data)

    async def _edit_comment(self, repo: str, number: int, comment_id: int, body: str) -> Comment:
        data = await self._request(
            "PATCH", f"{self._repo_path(repo)}/issues/comments/{int(comment_id)}", data={"body": body}
        )
        return _comment(data)

    async def _add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        if labels:
            await self._request("POST", f"{self._repo_path(repo)}/issues/{int(number)}/labels", data={"labels": labels})

    async def _set_check(self, check: CheckRun) -> CheckRun:
        """Create a check run (GitHub shows the newest per name); annotations go 50 per request."""
        rp = self._repo_path(check.repo)
        annotations = [_annotation(a) for a in check.annotations]
        batches = [annotations[i:i + ANNOTATIONS_PER_REQUEST] for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)]
        output = {"title": check.title[:_TITLE_MAX], "summary": check.summary[:_SUMMARY_MAX]}
        body: dict[str, Any] = {"name": check.name, "output": {**output, "annotations": batches[0] if batches else []}}
        if check.conclusion is CheckConclusion.PENDING:
            body["status"] = "in_progress"
        else:
            body["status"] = "completed"
            body["conclusion"] = check.conclusion.value
        data = await self._request("POST", f"{rp}/check-runs", data={**body, "head_sha": check.sha})
        run_id = int(data["id"])
        for batch in batches[1:]:
            await self._request("PATCH", f"{rp}/check-runs/{run_id}", data={"output": {**output, "annotations": batch}})
        return CheckRun(
            repo=check.repo, sha=check.sha, name=check.name, conclusion=check.conclusion, title=check.title,
            summary=check.summary, annotations=list(check.annotations), id=run_id,
        )

    # ================================================================== issues (the dashboard)
    # https://docs.github.com/en/rest/issues/issues

    async def find_issues(self, repo: str, *, marker: str, state: str = "all") -> list[Issue]:
        if state not in ("open", "closed", "all"):
            raise ForgeError(f"unknown issue state {state!r} (open, closed, all)")
        items = await self._list(self._repo_path(repo) + "/issues",
                                 params={"state": state, "creator": self.bot_login, "sort": "created", "direction": "asc"})
        # the issues list includes pull requests; only issues the bot opened with the marker count
        return [_issue(repo, d) for d in items
                if "pull_request" not in d and marker in str(d.get("body") or "")
                and (d.get("user") or {}).get("login") == self.bot_login]

    async def _create_issue(self, repo: str, *, title: str, body: str) -> Issue:
        return _issue(repo, await self._request("POST", f"{self._repo_path(repo)}/issues", data={"title": title, "body": body}))

    async def _update_issue(self, repo: str, number: int, *, body: str, state: str | None) -> Issue:
        path = f"{self._repo_path(repo)}/issues/{int(number)}"
        current = _issue(repo, await self._request("GET", path))
        if current.author != self.bot_login:
            raise ForgeError(f"{repo}: issue #{number} is not the bot's")
        data: dict[str, Any] = {"body": body}
        if state is not None:
            data["state"] = state
        return _issue(repo, await self._request("PATCH", path, data=data))

    # ================================================================== GitHub-only helpers

    async def add_reaction(self, repo: str, comment_id: int, content: str = "eyes", *, number: int | None = None) -> int:
        """React to an issue/PR comment (the slash-command acknowledgement). Returns the reaction id.

        `number` is accepted for the GitLab forge's signature and ignored here.
        """
        if content not in REACTIONS:
            raise ForgeError(f"unknown reaction {content!r} (one of {sorted(REACTIONS)})")
        if self._suppress("add_reaction", repo, f"comment {comment_id}"):
            return 0
        data = await self._request(
            "POST", f"{self._repo_path(repo)}/issues/comments/{int(comment_id)}/reactions", data={"content": content}
        )
        return int(data.get("id") or 0)


# ====================================================================== translation


def _clean_path(path: str) -> str:
    try:
        return normalize(path)
    except PathEscapeError as exc:
        raise ForgeError(f"refused to read {path!r}: {exc}") from None


def translate_error(exc: gidgethub.HTTPException, method: str, path: str, token: str | None) -> ForgeError:
    """A ForgeError whose message says what failed and what to do, with any token scrubbed."""
    status = int(exc.status_code)
    detail = str(exc) or exc.status_code.phrase
    errors = getattr(exc, "errors", None)
    if errors and isinstance(errors, list):
        parts = [str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e) for e in errors]
        if parts and not all(p in detail for p in parts):
            detail = f"{detail} ({'; '.join(parts)})"
    if token:
        detail = detail.replace(token, "***")
    where = f"GitHub {method} {path}"
    if status == 404:
        return NotFoundError(
            f"{where}: not found (404: {detail}). Check the repository, branch or number, and that the "
            "TruStacks app is installed on the repository, then retry."
        )
    if status == 422:
        return ForgeError(f"{where}: rejected (422: {detail}). Fix the request data or the branch state, then retry.")
    if status == 401:
        return ForgeError(f"{where}: bad credentials (401). Check the app id, private key and installation, then retry.")
    if status == 403:
        return ForgeError(
            f"{where}: forbidden (403: {detail}). Check the app's permissions on this repository, then retry."
        )
    if status == 409:
        return ForgeError(f"{where}: conflict (409: {detail}). The repository changed meanwhile; retry the job.")
    if status >= 500:
        return ForgeError(f"{where}: GitHub server error ({status}: {detail}); the job will be retried.")
    return ForgeError(f"{where}: HTTP {status}: {detail}")


def _change_request(repo: str, d: dict[str, Any]) -> ChangeRequest:
    if d.get("merged_at") or d.get("merged"):
        state = ChangeRequestState.MERGED
    elif d.get("state") == "closed":
        state = ChangeRequestState.CLOSED
    else:
        state = ChangeRequestState.OPEN
    return ChangeRequest(
        repo=repo,
        number=int(d["number"]),
        title=str(d.get("title") or ""),
        body=str(d.get("body") or ""),
        head=str(d["head"]["ref"]),
        base=str(d["base"]["ref"]),
        state=state,
        author=str((d.get("user") or {}).get("login") or ""),
        head_sha=str(d["head"].get("sha") or ""),
        url=str(d.get("html_url") or ""),
        labels=[str(label["name"]) for label in d.get("labels") or []],
        merged_by=(d.get("merged_by") or {}).get("login"),
        head_repo=str(((d.get("head") or {}).get("repo") or {}).get("full_name") or ""),
    )


def _issue(repo: str, d: dict[str, Any]) -> Issue:
    return Issue(repo=repo, number=int(d["number"]), title=str(d.get("title") or ""), body=str(d.get("body") or ""),
                 author=str((d.get("user") or {}).get("login") or ""), state=str(d.get("state") or "open"),
                 url=str(d.get("html_url") or ""))


def _comment(d: dict[str, Any]) -> Comment:
    return Comment(id=int(d["id"]), author=str((d.get("user") or {}).get("login") or ""), body=str(d.get("body") or ""))


def _annotation(a: Annotation) -> dict[str, Any]:
    line = max(1, int(a.line or 1))
    return {
        "path": a.path,
        "start_line": line,
        "end_line": line,
        "annotation_level": _LEVELS.get(a.level, "notice"),
        "message": a.message[:_SUMMARY_MAX],
    }
