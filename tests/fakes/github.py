"""A fake GitHub REST API on loopback, for the real GitHub forge client over real HTTP.

It implements the endpoints `bot.forges.github` uses (and a few a webhook flow needs), checks the
method, path, `Authorization` header and the body fields GitHub documents as required, keeps real
state (git objects hashed the way git hashes them, refs, PRs, comments, labels, check runs,
reactions, permissions, protected branches), and records every write as (method, path, json).

    async with FakeGitHub() as gh:
        gh.add_repo("acme/app", files={"README.md": "hi"}, default_branch="main", protected=["main"])
        token = gh.add_token()                    # an installation token the fake accepts
        ...                                       # point GitHubForge at gh.url
        assert gh.writes == []

App authentication: `key = gh.register_app(app_id)` returns a PEM private key; the fake verifies the
RS256 JWT on POST /app/installations/{id}/access_tokens and issues one-hour tokens (fake clock), granting
`gh.installation_permissions[id]` (DEFAULT_PERMISSIONS unless a test narrows them).

Branch protection, as GitHub keeps it: `protected=[...]` are classic branch protection rules (names or
patterns, matched like GitHub: File.fnmatch with FNM_PATHNAME, so they cover branches that do not
exist yet), served by GraphQL `repository { branchProtectionRules }` (POST /graphql; the query's
shape and variables are checked, and an installation without "administration" gets GitHub's
FORBIDDEN error); `gh.add_ruleset(...)` adds a repository or organisation ruleset, served by
GET /repos/{owner}/{repo}/rules/branches/{branch}. Both are enforced on ref updates and deletions.
Failures: `gh.fail(429, times=2, headers={"retry-after": "3"})`, or the helpers `rate_limit_primary`,
`rate_limit_secondary` and `server_error`.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hashlib
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import jwt
from aiohttp import web

from tests.fakes._server import ApiError, Ctx, FakeServer, Json, Reply

DOCS = "https://docs.github.com/rest"
BOT_LOGIN = "trustacks[bot]"
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
MODES = {"100644", "100755", "040000", "160000", "120000"}
R = r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
#: what an installation token may do unless a test says otherwise (app.yml's permissions)
DEFAULT_PERMISSIONS = {"administration": "read", "contents": "write", "pull_requests": "write", "checks": "write",
                       "issues": "write", "metadata": "read", "workflows": "write"}
#: rule types a ruleset may hold (https://docs.github.com/rest/repos/rules), the ones tests use
RULE_TYPES = {"creation", "update", "deletion", "required_linear_history", "required_signatures", "pull_request",
              "required_status_checks", "non_fast_forward", "commit_message_pattern", "branch_name_pattern",
              "commit_author_email_pattern", "committer_email_pattern", "file_path_restriction", "max_file_size"}
#: rules on what a push contains, which the App's API-made (GitHub-signed) commits satisfy
PUSH_CONTENT_RULES = {"required_signatures", "commit_message_pattern", "branch_name_pattern",
                      "commit_author_email_pattern", "committer_email_pattern", "file_path_restriction", "max_file_size"}
#: the one GraphQL query the fake answers, whitespace-normalised (the bot's classic-rules query)
_GRAPHQL_CLASSIC = re.compile(
    r"^query\s*\(\s*\$owner\s*:\s*String!\s*,\s*\$name\s*:\s*String!\s*,\s*\$cursor\s*:\s*String\s*\)\s*\{\s*"
    r"repository\s*\(\s*owner\s*:\s*\$owner\s*,\s*name\s*:\s*\$name\s*\)\s*\{\s*"
    r"branchProtectionRules\s*\(\s*first\s*:\s*(?P<first>\d+)\s*,\s*after\s*:\s*\$cursor\s*\)\s*\{\s*"
    r"nodes\s*\{\s*pattern\s*\}\s*pageInfo\s*\{\s*hasNextPage\s+endCursor\s*\}\s*\}\s*\}\s*\}$"
)


def _segments_match(pattern: list[str], name: list[str]) -> bool:
    """Ruby's File.fnmatch with FNM_PATHNAME, one `/` segment at a time: a `**` segment followed by more
    segments spans zero or more whole segments; every other segment is fnmatch within the segment."""
    if not pattern:
        return not name
    if pattern[0] == "**" and len(pattern) > 1:
        return any(_segments_match(pattern[1:], name[i:]) for i in range(len(name) + 1))
    if not name:
        return False
    return fnmatch.fnmatchcase(name[0], pattern[0]) and _segments_match(pattern[1:], name[1:])


def classic_rule_matches(pattern: str, branch: str) -> bool:
    """Whether a classic branch protection rule covers `branch` (GitHub: File.fnmatch, FNM_PATHNAME)."""
    return branch == pattern or _segments_match(pattern.split("/"), branch.split("/"))


def ruleset_ref_matches(pattern: str, ref: str) -> bool:
    """A ruleset `ref_name` pattern against a full ref: `*` stays within a segment, `**` crosses `/`."""
    regex = "".join(".*" if part == "**" else "[^/]*" if part == "*" else "[^/]" if part == "?" else re.escape(part)
                    for part in re.split(r"(\*\*|\*|\?)", pattern) if part)
    return re.fullmatch(regex, ref) is not None


def git_hash(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def _b64(data: bytes) -> str:
    """Base64 wrapped at 60 characters, as GitHub's contents and blobs APIs send it."""
    text = base64.b64encode(data).decode("ascii")
    return "\n".join(text[i:i + 60] for i in range(0, len(text), 60)) + ("\n" if text else "")


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unprocessable(message: str, errors: list[Json] | None = None) -> ApiError:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": "422"}
    if errors is not None:
        body["errors"] = errors
    return ApiError(422, body)


def _not_found() -> ApiError:
    return ApiError(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})


def _require(payload: Json, /, **fields: type | tuple[type, ...]) -> dict[str, Any]:
    """GitHub's schema validation: required fields present and of the documented type."""
    if not isinstance(payload, dict):
        raise _unprocessable("Invalid request.\n\nFor 'links/0/schema', nil is not an object.")
    for name, kind in fields.items():
        if name not in payload:
            raise _unprocessable(f'Invalid request.\n\n"{name}" wasn\'t supplied.')
        if not isinstance(payload[name], kind):
            raise _unprocessable(f"Invalid request.\n\nFor 'properties/{name}', {payload[name]!r} is not a {kind}.")
    return payload


@dataclass
class Identity:
    login: str
    type: str = "Bot"
    installation_id: int | None = None


@dataclass
class FakeRepo:
    """One repository's state. Tests read it directly."""

    full_name: str
    id: int
    default_branch: str
    private: bool = True
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)  # sha -> (mode, name, type, sha)
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    protected: set[str] = field(default_factory=set)  # classic branch protection rules: names or patterns
    rulesets: list[dict[str, Any]] = field(default_factory=list)  # rulesets as GitHub shows them
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role name
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    reactions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    # --------------------------------------------------------------- git objects

    def write_blob(self, data: bytes) -> str:
        sha = git_hash("blob", data)
        self.blobs[sha] = data
        return sha

    def write_tree(self, flat: dict[str, tuple[str, str]]) -> str:
        """A tree (and its subtrees) from {path: (mode, blob sha)}, hashed like git."""
        dirs: dict[str, dict[str, tuple[str, str]]] = {}
        entries: list[tuple[str, str, str, str]] = []
        for path, (mode, sha) in flat.items():
            head, _, rest = path.partition("/")
            if rest:
                dirs.setdefault(head, {})[rest] = (mode, sha)
            else:
                entries.append((mode, head, "commit" if mode == "160000" else "blob", sha))
        entries += [("040000", name, "tree", self.write_tree(sub)) for name, sub in dirs.items()]
        entries.sort(key=lambda e: e[1] + ("/" if e[2] == "tree" else ""))
        data = b"".join(
            f"{'40000' if e[2] == 'tree' else e[0]} {e[1]}".encode() + b"\0" + bytes.fromhex(e[3]) for e in entries
        )
        sha = git_hash("tree", data)
        self.trees[sha] = entries
        return sha

    def flatten(self, tree_sha: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for mode, name, kind, sha in self.trees[tree_sha]:
            if kind == "tree":
                out.update(self.flatten(sha, f"{prefix}{name}/"))
            else:
                out[f"{prefix}{name}"] = (mode, sha)
        return out

    def write_commit(
        self, tree: str, parents: list[str], message: str, *, author: dict[str, str], when: float
    ) -> str:
        stamp = f"{int(when)} +0000"
        person = f"{author['name']} <{author['email']}> {stamp}"
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {person}\ncommitter {person}\n\n{message}"
        sha = git_hash("commit", text.encode())
        signature = {"name": author["name"], "email": author["email"], "date": _iso(when)}
        self.commits[sha] = {"tree": tree, "parents": list(parents), "message": message,
                             "author": signature, "committer": dict(signature)}
        return sha

    # --------------------------------------------------------------- reading helpers for tests

    def resolve(self, ref: str) -> str | None:
        if ref in self.refs:
            return self.refs[ref]
        if ref.startswith("refs/heads/") and ref[11:] in self.refs:
            return self.refs[ref[11:]]
        return ref if ref in self.commits else None

    def files(self, ref: str | None = None) -> dict[str, bytes]:
        """Every file at a branch or commit, as bytes."""
        sha = self.resolve(ref or self.default_branch)
        if sha is None:
            raise KeyError(ref)
        return {p: self.blobs[s] for p, (_, s) in self.flatten(self.commits[sha]["tree"]).items()}

    def history(self, ref: str) -> list[str]:
        """First-parent history of a branch, newest first."""
        out, sha = [], self.resolve(ref)
        while sha:
            out.append(sha)
            parents = self.commits[sha]["parents"]
            sha = parents[0] if parents else None
        return out

    def ancestors(self, sha: str) -> set[str]:
        seen: set[str] = set()
        stack = [sha]
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            stack.extend(self.commits[s]["parents"])
        return seen

    def is_protected(self, branch: str) -> bool:
        """Covered by a classic branch protection rule or by an active ruleset rule that guards the ref.

        Content rules (signatures, commit message/email patterns, file limits) are met by the commits the
        App creates through the API (GitHub signs them), so they do not refuse its pushes here."""
        guards = [r for r in self.rules_for(branch) if r["type"] not in PUSH_CONTENT_RULES]
        return any(classic_rule_matches(p, branch) for p in self.protected) or bool(guards)

    def rules_for(self, branch: str) -> list[dict[str, Any]]:
        """The active ruleset rules on `branch`, shaped like GET /repos/{owner}/{repo}/rules/branches/{branch}."""
        ref = "refs/heads/" + branch
        out = []
        for rs in self.rulesets:
            if rs["enforcement"] != "active" or rs["target"] != "branch":
                continue  # "evaluate" and "disabled" rulesets are not returned

            def hit(patterns: list[str]) -> bool:
                return any(p == "~ALL" or (p == "~DEFAULT_BRANCH" and branch == self.default_branch)
                           or ruleset_ref_matches(p, ref) for p in patterns)

            cond = rs["conditions"]["ref_name"]
            if not hit(cond["include"]) or hit(cond["exclude"]):
                continue
            for rule in rs["rules"]:
                item = {"type": rule["type"], "ruleset_source_type": rs["source_type"],
                        "ruleset_source": rs["source"], "ruleset_id": rs["id"]}
                if "parameters" in rule:
                    item["parameters"] = rule["parameters"]
                out.append(item)
        return out


class FakeGitHub(FakeServer):
    """The fake GitHub API server. Use as `async with FakeGitHub() as gh: ...`."""

    unrecorded = (r"^/app/installations/\d+/access_tokens$", r"^/graphql$")

    def __init__(self, *, clock: Callable[[], float] = time.time, max_per_page: int = 100) -> None:
        self.clock = clock
        self.max_per_page = max_per_page
        self.repos: dict[str, FakeRepo] = {}
        self.installations: dict[int, list[str]] = {}
        #: installation id -> permissions its tokens carry (DEFAULT_PERMISSIONS when absent)
        self.installation_permissions: dict[int, dict[str, str]] = {}
        self.app_id: int | None = None
        self._public_key: Any = None
        self._tokens: dict[str, tuple[Identity, float]] = {}
        #: claims of every App JWT presented (verified)
        self.jwts: list[dict[str, Any]] = []
        #: installation tokens issued, in order
        self.issued: list[str] = []
        self._ids = itertools.count(1_000_001)
        self._rate_remaining = 5000
        #: seconds from now to the reset the rate-limit headers announce
        self.rate_reset_in = 3600
        super().__init__()

    # ================================================================== setup

    def add_repo(
        self,
        full_name: str,
        *,
        files: dict[str, str | bytes] | None = None,
        default_branch: str = "main",
        protected: list[str] | tuple[str, ...] = (),
        collaborators: dict[str, str] | None = None,
        private: bool = True,
        executable: tuple[str, ...] = (),
        author: tuple[str, str] = ("Alice Example", "alice@example.com"),
    ) -> FakeRepo:
        """A repository with one initial commit holding `files` on `default_branch`."""
        repo = FakeRepo(full_name=full_name, id=next(self._ids), default_branch=default_branch, private=private,
                        protected=set(protected), collaborators=dict(collaborators or {}))
        flat = {
            path: ("100755" if path in executable else "100644",
                   repo.write_blob(data.encode() if isinstance(data, str) else data))
            for path, data in (files or {}).items()
        }
        tree = repo.write_tree(flat)
        repo.refs[default_branch] = repo.write_commit(
            tree, [], "Initial commit", author={"name": author[0], "email": author[1]}, when=self.clock()
        )
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos[full_name.lower()]

    def add_token(self, token: str | None = None, *, login: str = BOT_LOGIN, expires_in: float = 3600.0,
                  installation_id: int | None = None) -> str:
        """Make the fake accept `token` (generated when None) for `expires_in` seconds."""
        token = token or "ghs_" + secrets.token_hex(18)
        self._tokens[token] = (Identity(login, "Bot" if login.endswith("[bot]") else "User", installation_id),
                               self.clock() + expires_in)
        return token

    def revoke(self, token: str) -> None:
        """Invalidate a token early (GitHub answers 401 Bad credentials from then on)."""
        self._tokens.pop(token, None)

    def register_app(self, app_id: int = 4242) -> str:
        """Enable App authentication; returns the app's private key (PEM)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app_id = app_id
        self._public_key = key.public_key()
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def add_installation(self, installation_id: int, repos: list[str], *,
                         permissions: dict[str, str] | None = None) -> None:
        self.installations[installation_id] = list(repos)
        if permissions is not None:
            self.installation_permissions[installation_id] = dict(permissions)

    def add_ruleset(self, repo_name: str, *, include: list[str], exclude: list[str] | tuple[str, ...] = (),
                    rules: list[str | dict[str, Any]] | tuple[str | dict[str, Any], ...] = ("creation", "update",
                                                                                             "deletion"),
                    enforcement: str = "active", name: str = "protect", organization: bool = False) -> int:
        """A branch ruleset on `repo_name` (or, `organization=True`, one from its owner's org targeting it).

        `include`/`exclude` are ref_name conditions as GitHub stores them: `refs/heads/<fnmatch>`,
        `~DEFAULT_BRANCH` or `~ALL`. `rules` are rule types or {"type", "parameters"} dicts."""
        repo = self.repo(repo_name)
        if enforcement not in ("active", "evaluate", "disabled"):
            raise ValueError(enforcement)
        for p in (*include, *exclude):
            if not (p in ("~ALL", "~DEFAULT_BRANCH") or p.startswith("refs/heads/")):
                raise ValueError(f"a branch ruleset condition is refs/heads/..., ~ALL or ~DEFAULT_BRANCH: {p!r}")
        shaped = [r if isinstance(r, dict) else {"type": r} for r in rules]
        if any(r["type"] not in RULE_TYPES for r in shaped):
            raise ValueError(f"unknown rule type in {rules!r}")
        rid = next(self._ids)
        repo.rulesets.append({
            "id": rid, "name": name, "target": "branch", "enforcement": enforcement,
            "source_type": "Organization" if organization else "Repository",
            "source": repo.owner if organization else repo.full_name,
            "conditions": {"ref_name": {"include": list(include), "exclude": list(exclude)}}, "rules": shaped,
        })
        return rid

    def rate_limit_primary(self, *, times: int = 1, reset_at: float, status: int = 403, path: str | None = None) -> None:
        """Primary limit exhausted: 403 with x-ratelimit-remaining 0 and the reset epoch."""
        self.fail(status, times=times, path=path, headers={
            "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-used": "5000",
            "x-ratelimit-reset": str(int(reset_at)), "x-ratelimit-resource": "core",
        }, body={"message": "API rate limit exceeded for installation ID 1.", "documentation_url": DOCS})

    def rate_limit_secondary(self, *, times: int = 1, retry_after: int | None = None, status: int = 403,
                             path: str | None = None) -> None:
        """A secondary limit: 403 (or 429) naming it in the message, with or without retry-after."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.fail(status, times=times, path=path, headers=headers, body={
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                       "If you reach out to GitHub Support for help, please include the request ID 0000:1111.",
            "documentation_url": DOCS + "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        })

    def server_error(self, status: int = 502, *, times: int = 1, method: str | None = None, path: str | None = None) -> None:
        self.fail(status, times=times, method=method, path=path, body={"message": "Server Error"})

    # ---------------------------------------------------------------- human activity (for flows)

    def push(self, repo_name: str, branch: str, files: dict[str, str | bytes | None], *, message: str = "human edit",
             author: tuple[str, str] = ("Alice Example", "alice@example.com")) -> str:
        """A human pushes one commit (None deletes a file) to `branch` (created from the default branch)."""
        repo = self.repo(repo_name)
        parent = repo.refs.get(branch) or repo.refs[repo.default_branch]
        flat = repo.flatten(repo.commits[parent]["tree"])
        for path, data in files.items():
            if data is None:
                flat.pop(path, None)
            else:
                flat[path] = ("100644", repo.write_blob(data.encode() if isinstance(data, str) else data))
        sha = repo.write_commit(repo.write_tree(flat), [parent], message,
                                author={"name": author[0], "email": author[1]}, when=self.clock())
        repo.refs[branch] = sha
        return sha

    def open_pull(self, repo_name: str, *, head: str, base: str | None = None, title: str = "A change",
                  body: str = "", user: str = "alice") -> int:
        repo = self.repo(repo_name)
        return self._new_pull(repo, head, base or repo.default_branch, title, body, Identity(user, "User"))["number"]

    def merge_pull(self, repo_name: str, number: int, *, by: str = "alice") -> str:
        """Merge a PR as a human would: a merge commit on the base branch."""
        repo = self.repo(repo_name)
        pr = repo.pulls[number]
        head = repo.refs.get(pr["head"]["ref"], pr["head"]["sha"])
        base = repo.refs[pr["base"]["ref"]]
        tree = repo.commits[head]["tree"]
        sha = repo.write_commit(tree, [base, head], f"Merge pull request #{number} from {repo.owner}/{pr['head']['ref']}",
                                author={"name": by, "email": f"{by}@example.com"}, when=self.clock())
        repo.refs[pr["base"]["ref"]] = sha
        now = _iso(self.clock())
        pr.update(state="closed", merged=True, merged_at=now, closed_at=now, merge_commit_sha=sha,
                  merged_by=self._user(Identity(by, "User")))
        pr["head"]["sha"] = head
        return sha

    def add_comment(self, repo_name: str, number: int, body: str, *, user: str = "alice") -> int:
        repo = self.repo(repo_name)
        return self._new_comment(repo, number, body, Identity(user, "User"))["id"]

    def add_issue(self, repo_name: str, title: str, body: str = "", *, user: str = "alice") -> int:
        repo = self.repo(repo_name)
        number = self._next_number(repo)
        repo.issues[number] = {"number": number, "title": title, "body": body, "state": "open", "labels": [],
                               "user": self._user(Identity(user, "User")), "id": next(self._ids)}
        return number

    # ================================================================== server plumbing

    def not_found_body(self) -> Json:
        return {"message": "Not Found", "documentation_url": DOCS, "status": "404"}

    def set_rate_remaining(self, remaining: int, *, reset_in: int = 3600) -> None:
        """What the next responses announce in x-ratelimit-remaining (counting down) and -reset."""
        self._rate_remaining = remaining + 1
        self.rate_reset_in = reset_in

    def default_headers(self, identity: Any) -> dict[str, str]:
        self._rate_remaining = max(0, self._rate_remaining - 1)
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(self._rate_remaining),
            "x-ratelimit-used": str(5000 - self._rate_remaining),
            "x-ratelimit-reset": str(int(self.clock()) + self.rate_reset_in),
            "x-ratelimit-resource": "core",
            "x-github-request-id": secrets.token_hex(8).upper(),
            "x-github-api-version-selected": "2022-11-28",
        }

    def authenticate(self, request: web.Request, path: str) -> Identity:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if path.startswith("/app/") or path == "/app":
            return self._authenticate_app(scheme, credential.strip())
        if scheme.lower() not in ("token", "bearer") or not credential.strip():
            raise ApiError(401, {"message": "Requires authentication", "documentation_url": DOCS, "status": "401"})
        entry = self._tokens.get(credential.strip())
        if entry is None or entry[1] <= self.clock():
            raise ApiError(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"})
        return entry[0]

    def _authenticate_app(self, scheme: str, credential: str) -> Identity:
        bad = ApiError(401, {"message": "A JSON web token could not be decoded", "documentation_url": DOCS})
        if scheme.lower() != "bearer" or self._public_key is None:
            raise bad
        try:
            claims = jwt.decode(credential, self._public_key, algorithms=["RS256"],
                                options={"verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            raise bad from None
        now = self.clock()
        if str(claims.get("iss")) != str(self.app_id):
            raise ApiError(401, {"message": "'Issuer' claim ('iss') must be an Integer", "documentation_url": DOCS})
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or iat > now + 5:
            raise ApiError(401, {"message": "'Issued at' claim ('iat') must be an Integer representing a time in the past.",
                                 "documentation_url": DOCS})
        if exp - iat > 600 or exp > now + 600:
            raise ApiError(401, {"message": "'Expiration time' claim ('exp') is too far in the future",
                                 "documentation_url": DOCS})
        if exp <= now:
            raise ApiError(401, {"message": "'Expiration time' claim ('exp') must be a numeric value representing the "
                                            "future time at which the assertion expires", "documentation_url": DOCS})
        self.jwts.append(claims)
        return Identity(f"app-{self.app_id}", "App")

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", r"^/app/installations/(?P<id>\d+)/access_tokens$", self.h_access_token),
            ("GET", r"^/installation/repositories$", self.h_installation_repos),
            ("GET", R + r"$", self.h_repo),
            ("GET", R + r"/branches$", self.h_branches),
            ("GET", R + r"/rules/branches/(?P<branch>.+)$", self.h_branch_rules),
            ("POST", r"^/graphql$", self.h_graphql),
            ("GET", R + r"/git/ref/heads/(?P<branch>.+)$", self.h_get_ref),
            ("POST", R + r"/git/refs$", self.h_create_ref),
            ("PATCH", R + r"/git/refs/heads/(?P<branch>.+)$", self.h_update_ref),
            ("DELETE", R + r"/git/refs/heads/(?P<branch>.+)$", self.h_delete_ref),
            ("GET", R + r"/contents/(?P<path>.+)$", self.h_contents),
            ("GET", R + r"/git/trees/(?P<sha>[^/]+)$", self.h_get_tree),
            ("POST", R + r"/git/trees$", self.h_create_tree),
            ("GET", R + r"/git/blobs/(?P<sha>[^/]+)$", self.h_get_blob),
            ("POST", R + r"/git/blobs$", self.h_create_blob),
            ("GET", R + r"/git/commits/(?P<sha>[^/]+)$", self.h_get_commit),
            ("POST", R + r"/git/commits$", self.h_create_commit),
            ("GET", R + r"/compare/(?P<basehead>.+)$", self.h_compare),
            ("GET", R + r"/pulls$", self.h_list_pulls),
            ("POST", R + r"/pulls$", self.h_create_pull),
            ("GET", R + r"/pulls/(?P<number>\d+)$", self.h_get_pull),
            ("PATCH", R + r"/pulls/(?P<number>\d+)$", self.h_update_pull),
            ("GET", R + r"/issues$", self.h_list_issues),
            ("POST", R + r"/issues$", self.h_create_issue),
            ("PATCH", R + r"/issues/(?P<number>\d+)$", self.h_update_issue),
            ("GET", R + r"/issues/(?P<number>\d+)$", self.h_get_issue),
            ("GET", R + r"/issues/(?P<number>\d+)/comments$", self.h_list_comments),
            ("POST", R + r"/issues/(?P<number>\d+)/comments$", self.h_create_comment),
            ("PATCH", R + r"/issues/comments/(?P<id>\d+)$", self.h_update_comment),
            ("GET", R + r"/issues/(?P<number>\d+)/labels$", self.h_list_labels),
            ("POST", R + r"/issues/(?P<number>\d+)/labels$", self.h_add_labels),
            ("POST", R + r"/issues/comments/(?P<id>\d+)/reactions$", self.h_add_reaction),
            ("POST", R + r"/check-runs$", self.h_create_check),
            ("PATCH", R + r"/check-runs/(?P<id>\d+)$", self.h_update_check),
            ("GET", R + r"/check-runs/(?P<id>\d+)$", self.h_get_check),
            ("GET", R + r"/check-runs/(?P<id>\d+)/annotations$", self.h_check_annotations),
            ("GET", R + r"/commits/(?P<ref>.+)/check-runs$", self.h_list_checks),
            ("GET", R + r"/collaborators/(?P<user>[^/]+)/permission$", self.h_permission),
        ]

    # ================================================================== JSON shapes

    def _user(self, ident: Identity) -> dict[str, Any]:
        login = ident.login
        uid = int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)
        return {"login": login, "id": uid, "node_id": f"MDQ6VXNlcj{uid}", "type": ident.type, "site_admin": False,
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
                "url": f"https://api.github.com/users/{login}", "html_url": f"https://github.com/{login}"}

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        api = f"https://api.github.com/repos/{repo.full_name}"
        return {
            "id": repo.id, "node_id": f"R_kgDO{repo.id}", "name": repo.full_name.split("/")[1],
            "full_name": repo.full_name, "private": repo.private, "fork": False,
            "owner": {**self._user(Identity(repo.owner, "Organization"))},
            "html_url": f"https://github.com/{repo.full_name}", "url": api,
            "clone_url": f"https://github.com/{repo.full_name}.git", "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public", "archived": False, "disabled": False,
        }

    def _find(self, ctx: Ctx) -> FakeRepo:
        repo = self.repos.get(f"{ctx.params['owner']}/{ctx.params['name']}".lower())
        if repo is None:
            raise _not_found()
        if ctx.identity.installation_id is not None and repo.full_name not in self.installations.get(
            ctx.identity.installation_id, [repo.full_name]
        ):
            raise _not_found()  # the installation does not cover this repository
        return repo

    def _commit_json(self, repo: FakeRepo, sha: str) -> dict[str, Any]:
        c = repo.commits[sha]
        api = f"https://api.github.com/repos/{repo.full_name}"
        return {
            "sha": sha, "node_id": f"C_{sha[:12]}", "url": f"{api}/git/commits/{sha}",
            "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
            "author": c["author"], "committer": c["committer"], "message": c["message"],
            "tree": {"sha": c["tree"], "url": f"{api}/git/trees/{c['tree']}"},
            "parents": [{"sha": p, "url": f"{api}/git/commits/{p}"} for p in c["parents"]],
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }

    def _ref_json(self, repo: FakeRepo, branch: str) -> dict[str, Any]:
        sha = repo.refs[branch]
        api = f"https://api.github.com/repos/{repo.full_name}"
        return {"ref": f"refs/heads/{branch}", "node_id": f"REF_{branch}", "url": f"{api}/git/refs/heads/{branch}",
                "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"}}

    def _next_number(self, repo: FakeRepo) -> int:
        return max([0, *repo.pulls, *repo.issues]) + 1

    def _pull_json(self, repo: FakeRepo, pr: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in pr.items() if not k.startswith("_")}
        if pr["state"] == "open" and pr["head"]["ref"] in repo.refs:
            out["head"] = {**pr["head"], "sha": repo.refs[pr["head"]["ref"]]}
        if pr["state"] == "open":
            out["base"] = {**pr["base"], "sha": repo.refs.get(pr["base"]["ref"], pr["base"]["sha"])}
        return out

    def _new_pull(self, repo: FakeRepo, head: str, base: str, title: str, body: str | None, user: Identity) -> dict[str, Any]:
        number = self._next_number(repo)
        now = _iso(self.clock())
        api = f"https://api.github.com/repos/{repo.full_name}"
        side = lambda ref: {  # noqa: E731
            "label": f"{repo.owner}:{ref}", "ref": ref, "sha": repo.refs[ref], "repo": self._repo_json(repo),
            "user": self._user(Identity(repo.owner, "Organization")),
        }
        pr = {
            "url": f"{api}/pulls/{number}", "id": next(self._ids), "node_id": f"PR_{number}",
            "html_url": f"https://github.com/{repo.full_name}/pull/{number}", "number": number, "state": "open",
            "locked": False, "title": title, "body": body, "user": self._user(user), "labels": [],
            "created_at": now, "updated_at": now, "closed_at": None, "merged_at": None, "merge_commit_sha": None,
            "merged": False, "merged_by": None, "draft": False, "head": side(head), "base": side(base),
            "author_association": "NONE" if user.type == "Bot" else "MEMBER",
        }
        repo.pulls[number] = pr
        return pr

    def _new_comment(self, repo: FakeRepo, number: int, body: str, user: Identity) -> dict[str, Any]:
        if number not in repo.pulls and number not in repo.issues:
            raise _not_found()
        cid = next(self._ids)
        now = _iso(self.clock())
        api = f"https://api.github.com/repos/{repo.full_name}"
        comment = {
            "id": cid, "node_id": f"IC_{cid}", "url": f"{api}/issues/comments/{cid}",
            "html_url": f"https://github.com/{repo.full_name}/pull/{number}#issuecomment-{cid}",
            "issue_url": f"{api}/issues/{number}", "body": body, "user": self._user(user),
            "created_at": now, "updated_at": now, "author_association": "NONE" if user.type == "Bot" else "MEMBER",
            "_issue": number,
        }
        repo.comments[cid] = comment
        return comment

    @staticmethod
    def _public(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not k.startswith("_")}

    def _paged(self, ctx: Ctx, items: list[Json], *, status: int = 200, wrap: str | None = None,
               extra: dict[str, Any] | None = None) -> Reply:
        chunk, headers = self.page(ctx, items, default_per_page=30, max_per_page=self.max_per_page)
        link = {"Link": headers["Link"]} if "next" in headers["Link"] else {}
        body: Json = chunk if wrap is None else {"total_count": len(items), wrap: chunk, **(extra or {})}
        return Reply(status, body, link)

    # ================================================================== handlers: apps

    async def h_access_token(self, ctx: Ctx) -> Reply:
        installation_id = int(ctx.params["id"])
        if installation_id not in self.installations:
            raise _not_found()
        expires = self.clock() + 3600
        token = self.add_token(installation_id=installation_id, expires_in=3600)
        self.issued.append(token)
        permissions = self.installation_permissions.get(installation_id, DEFAULT_PERMISSIONS)
        return Reply(201, {"token": token, "expires_at": _iso(expires), "permissions": dict(permissions),
                           "repository_selection": "selected"})

    async def h_installation_repos(self, ctx: Ctx) -> Reply:
        if ctx.identity.installation_id is None:
            raise ApiError(403, {"message": "This endpoint requires an installation token", "documentation_url": DOCS})
        names = self.installations.get(ctx.identity.installation_id, [])
        items = [self._repo_json(self.repo(n)) for n in names]
        return self._paged(ctx, items, wrap="repositories", extra={"repository_selection": "selected"})

    # ================================================================== handlers: repository and refs

    async def h_repo(self, ctx: Ctx) -> Reply:
        return Reply(200, self._repo_json(self._find(ctx)))

    async def h_branches(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        only = ctx.query.get("protected")
        items = []
        for name in sorted(repo.refs):
            protected = repo.is_protected(name)
            if only == "true" and not protected or only == "false" and protected:
                continue
            items.append({"name": name, "protected": protected,
                          "commit": {"sha": repo.refs[name],
                                     "url": f"https://api.github.com/repos/{repo.full_name}/commits/{repo.refs[name]}"}})
        return self._paged(ctx, items)

    async def h_branch_rules(self, ctx: Ctx) -> Reply:
        """GET /repos/{owner}/{repo}/rules/branches/{branch}: active rules for a branch, existing or not
        (200 with [] when none apply). Metadata read is enough, so every installation may ask."""
        repo = self._find(ctx)
        branch = ctx.params["branch"]
        if any(c in branch for c in "*?[") or branch.startswith("refs/"):
            # GitHub: "Cannot contain wildcard characters"; a full ref here is a client bug the fake reports
            raise _unprocessable(f"Invalid branch name {branch!r} for the rules endpoint.")
        return self._paged(ctx, repo.rules_for(branch))

    async def h_graphql(self, ctx: Ctx) -> Reply:
        """POST /graphql, answering only the classic branch protection rules query (anything else is a
        fake bug report). Errors come back as GitHub sends them: HTTP 200 with an `errors` list."""
        body = ctx.json
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise ApiError(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        variables = body.get("variables") or {}
        query = " ".join(body["query"].split())
        match = _GRAPHQL_CLASSIC.match(query)
        if match is None or not isinstance(variables, dict):
            raise AssertionError(f"fake GitHub GraphQL: unsupported query or variables: {body!r}")
        first = int(match["first"])
        if first > 100:
            return Reply(200, {"errors": [{"message": f"Requesting {first} records on the `branchProtectionRules` "
                                                      "connection exceeds the `first` limit of 100 records."}]})
        for var in ("owner", "name"):
            if not isinstance(variables.get(var), str):
                return Reply(200, {"errors": [{"extensions": {"value": variables.get(var), "problems": [
                    {"path": [], "explanation": "Expected value to not be null"}]},
                    "locations": [{"line": 1, "column": 7}],
                    "message": f"Variable ${var} of type String! was provided invalid value"}]})
        full = f"{variables['owner']}/{variables['name']}"
        repo = self.repos.get(full.lower())
        inst = ctx.identity.installation_id
        if repo is None or (inst is not None and repo.full_name not in self.installations.get(inst, [repo.full_name])):
            return Reply(200, {"data": {"repository": None}, "errors": [{
                "type": "NOT_FOUND", "path": ["repository"], "locations": [{"line": 2, "column": 3}],
                "message": f"Could not resolve to a Repository with the name '{full}'."}]})
        if inst is not None and self.installation_permissions.get(inst, DEFAULT_PERMISSIONS).get(
                "administration") not in ("read", "write"):
            return Reply(200, {"data": {"repository": {"branchProtectionRules": None}}, "errors": [{
                "type": "FORBIDDEN", "path": ["repository", "branchProtectionRules"],
                "extensions": {"saml_failure": False}, "locations": [{"line": 3, "column": 5}],
                "message": "Resource not accessible by integration"}]})
        cursor = variables.get("cursor")
        start = 0
        if cursor is not None:
            try:
                start = int(base64.b64decode(cursor).decode().removeprefix("cursor:v2:")) + 1
            except (ValueError, UnicodeDecodeError):
                return Reply(200, {"errors": [{"message": f"`{cursor}` does not appear to be a valid cursor.",
                                               "locations": [{"line": 3, "column": 5}]}]})
        patterns = sorted(repo.protected)
        chunk = patterns[start:start + min(first, self.max_per_page)]
        end = start + len(chunk) - 1
        return Reply(200, {"data": {"repository": {"branchProtectionRules": {
            "nodes": [{"pattern": p} for p in chunk],
            "pageInfo": {"hasNextPage": end + 1 < len(patterns),
                         "endCursor": base64.b64encode(f"cursor:v2:{end}".encode()).decode() if chunk else None},
        }}}})

    async def h_get_ref(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        if ctx.params["branch"] not in repo.refs:
            raise _not_found()
        return Reply(200, self._ref_json(repo, ctx.params["branch"]))

    async def h_create_ref(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, ref=str, sha=str)
        ref, sha = body["ref"], body["sha"]
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise _unprocessable("Reference name must start with 'refs/' and have at least two slashes.")
        if not ref.startswith("refs/heads/"):
            raise _unprocessable("The fake only keeps branches (refs/heads/...).")
        if sha not in repo.commits:
            raise _unprocessable("Object does not exist")
        branch = ref[len("refs/heads/"):]
        if branch in repo.refs:
            raise _unprocessable("Reference already exists")
        if any(r["type"] == "creation" for r in repo.rules_for(branch)):
            raise _unprocessable("Repository rule violations found\n\nCannot create ref due to creations being "
                                 "restricted.\n\n")
        repo.refs[branch] = sha
        return Reply(201, self._ref_json(repo, branch))

    async def h_update_ref(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, sha=str)
        branch, sha = ctx.params["branch"], body["sha"]
        force = bool(body.get("force", False))
        if branch not in repo.refs:
            raise _unprocessable("Reference does not exist")
        if sha not in repo.commits:
            raise _unprocessable("Object does not exist")
        if repo.is_protected(branch):
            raise _unprocessable("Protected branch update failed for refs/heads/" + branch)
        if not force and repo.refs[branch] not in repo.ancestors(sha):
            raise _unprocessable("Update is not a fast forward")
        repo.refs[branch] = sha
        return Reply(200, self._ref_json(repo, branch))

    async def h_delete_ref(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        branch = ctx.params["branch"]
        if branch not in repo.refs:
            raise _unprocessable("Reference does not exist")
        if repo.is_protected(branch) or branch == repo.default_branch:
            raise _unprocessable("Cannot delete a protected or default branch")
        del repo.refs[branch]
        return Reply(204)

    # ================================================================== handlers: contents and git data

    async def h_contents(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        sha = repo.resolve(ctx.query.get("ref") or repo.default_branch)
        if sha is None:
            raise _not_found()
        flat = repo.flatten(repo.commits[sha]["tree"])
        path = ctx.params["path"].strip("/")
        api = f"https://api.github.com/repos/{repo.full_name}"
        if path in flat:
            mode, blob = flat[path]
            data = repo.blobs.get(blob, b"")
            big = len(data) > 1_000_000
            return Reply(200, {
                "type": "symlink" if mode == "120000" else "file", "encoding": "none" if big else "base64",
                "size": len(data), "name": path.rsplit("/", 1)[-1], "path": path,
                "content": "" if big else _b64(data), "sha": blob,
                "url": f"{api}/contents/{path}", "git_url": f"{api}/git/blobs/{blob}",
                "html_url": f"https://github.com/{repo.full_name}/blob/{sha}/{path}", "download_url": None,
            })
        children = sorted({p[len(path) + 1:].split("/")[0] for p in flat if p.startswith(path + "/")})
        if not children:
            raise _not_found()
        return Reply(200, [{"type": "dir" if f"{path}/{c}" not in flat else "file", "name": c,
                            "path": f"{path}/{c}"} for c in children])

    async def h_get_tree(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        ref = ctx.params["sha"]
        sha = ref if ref in repo.trees else None
        if sha is None:
            commit = repo.resolve(ref)
            if commit is None:
                raise _not_found()
            sha = repo.commits[commit]["tree"]
        api = f"https://api.github.com/repos/{repo.full_name}"

        def entries(tree: str, prefix: str, recursive: bool) -> list[dict[str, Any]]:
            out = []
            for mode, name, kind, obj in repo.trees[tree]:
                e = {"path": prefix + name, "mode": mode, "type": kind, "sha": obj,
                     "url": f"{api}/git/{'trees' if kind == 'tree' else 'blobs'}/{obj}"}
                if kind == "blob":
                    e["size"] = len(repo.blobs.get(obj, b""))
                out.append(e)
                if kind == "tree" and recursive:
                    out.extend(entries(obj, prefix + name + "/", True))
            return out

        recursive = ctx.query.get("recursive") not in (None, "", "0", "false")
        return Reply(200, {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": entries(sha, "", recursive),
                           "truncated": False})

    async def h_create_tree(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, tree=list)
        base = body.get("base_tree")
        if base is not None and base not in repo.trees:
            raise _unprocessable("base_tree is not a valid tree oid")
        flat = repo.flatten(base) if base else {}
        for entry in body["tree"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"]:
                raise _unprocessable('Invalid request.\n\n"path" wasn\'t supplied.')
            path, mode, kind = entry["path"], entry.get("mode"), entry.get("type")
            if mode not in MODES:
                raise _unprocessable(f"Invalid request.\n\n{mode!r} is not a valid mode.")
            if kind not in ("blob", "tree", "commit"):
                raise _unprocessable(f"Invalid request.\n\n{kind!r} is not a valid type.")
            if "sha" in entry and "content" in entry:
                raise _unprocessable("Invalid request.\n\nOnly one of sha or content may be given.")
            if "content" in entry:
                flat[path] = (mode, repo.write_blob(str(entry["content"]).encode()))
            elif entry.get("sha") is None:
                if "sha" not in entry:
                    raise _unprocessable('Invalid request.\n\n"sha" wasn\'t supplied.')
                if path not in flat:
                    raise _unprocessable("GitRPC::BadObjectState")  # deleting a file that does not exist
                del flat[path]
            else:
                if entry["sha"] not in repo.blobs:
                    raise _unprocessable(f"Invalid tree info: {entry['sha']} is not a valid blob")
                flat[path] = (mode, entry["sha"])
        sha = repo.write_tree(flat)
        api = f"https://api.github.com/repos/{repo.full_name}"
        return Reply(201, {"sha": sha, "url": f"{api}/git/trees/{sha}", "truncated": False,
                           "tree": [{"path": n, "mode": m, "type": k, "sha": s} for m, n, k, s in repo.trees[sha]]})

    async def h_get_blob(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        sha = ctx.params["sha"]
        if sha not in repo.blobs:
            raise _not_found()
        data = repo.blobs[sha]
        return Reply(200, {"sha": sha, "node_id": f"B_{sha[:12]}", "size": len(data), "encoding": "base64",
                           "content": _b64(data), "url": f"https://api.github.com/repos/{repo.full_name}/git/blobs/{sha}"})

    async def h_create_blob(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, content=str)
        encoding = body.get("encoding", "utf-8")
        if encoding == "base64":
            try:
                data = base64.b64decode(body["content"], validate=False)
            except ValueError:
                raise _unprocessable("Invalid request.\n\ncontent is not valid Base64") from None
        elif encoding == "utf-8":
            data = body["content"].encode("utf-8")
        else:
            raise _unprocessable(f"Invalid request.\n\nencoding {encoding!r} is not supported (utf-8, base64)")
        sha = repo.write_blob(data)
        return Reply(201, {"sha": sha, "url": f"https://api.github.com/repos/{repo.full_name}/git/blobs/{sha}"})

    async def h_get_commit(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        if ctx.params["sha"] not in repo.commits:
            raise _not_found()
        return Reply(200, self._commit_json(repo, ctx.params["sha"]))

    async def h_create_commit(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, message=str, tree=str)
        parents = body.get("parents", [])
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise _unprocessable("Invalid request.\n\nFor 'properties/parents', must be an array of strings.")
        if body["tree"] not in repo.trees:
            raise _unprocessable("Tree SHA does not exist")
        if any(p not in repo.commits for p in parents):
            raise _unprocessable("Parent SHA does not exist or is not a commit object")
        login = ctx.identity.login
        author = body.get("author") or {"name": login, "email": f"{login}@users.noreply.github.com"}
        if not isinstance(author, dict) or "name" not in author or "email" not in author:
            raise _unprocessable('Invalid request.\n\n"name", "email" weren\'t supplied.')
        sha = repo.write_commit(body["tree"], parents, body["message"], author=author, when=self.clock())
        return Reply(201, self._commit_json(repo, sha))

    async def h_compare(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        base_ref, sep, head_ref = ctx.params["basehead"].partition("...")
        if not sep:
            raise _not_found()
        base, head = repo.resolve(base_ref), repo.resolve(head_ref)
        if base is None or head is None:
            raise _not_found()
        behind = repo.ancestors(base)
        ahead: list[str] = []
        stack, seen = [head], set()
        while stack:  # newest first walk, then reversed: GitHub lists oldest first
            s = stack.pop()
            if s in seen or s in behind:
                continue
            seen.add(s)
            ahead.append(s)
            stack.extend(reversed(repo.commits[s]["parents"]))
        ahead.reverse()
        commits = [{"sha": s, "node_id": f"C_{s[:12]}", "commit": {
            "author": repo.commits[s]["author"], "committer": repo.commits[s]["committer"],
            "message": repo.commits[s]["message"], "tree": {"sha": repo.commits[s]["tree"]}},
            "author": None, "committer": None, "parents": [{"sha": p} for p in repo.commits[s]["parents"]]}
            for s in ahead]
        behind_by = len(behind - repo.ancestors(head))
        status = "identical" if base == head else ("ahead" if not behind_by else ("behind" if not ahead else "diverged"))
        return Reply(200, {"status": status, "ahead_by": len(ahead), "behind_by": behind_by,
                           "total_commits": len(ahead), "commits": commits,
                           "base_commit": self._commit_json(repo, base), "files": []})

    # ================================================================== handlers: pulls, issues, comments, labels

    async def h_list_pulls(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        state = ctx.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _unprocessable(f"Invalid request.\n\n{state!r} is not a member of [open, closed, all].")
        head = ctx.query.get("head")
        base = ctx.query.get("base")
        items = []
        for pr in sorted(repo.pulls.values(), key=lambda p: -p["number"]):
            if state != "all" and pr["state"] != state:
                continue
            if head is not None:
                owner, _, ref = head.partition(":")
                if not ref or owner.lower() != repo.owner.lower() or pr["head"]["ref"] != ref:
                    continue
            if base is not None and pr["base"]["ref"] != base:
                continue
            items.append(self._pull_json(repo, pr))
        return self._paged(ctx, items)

    async def h_create_pull(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, head=str, base=str)
        if not isinstance(body.get("title"), str) and "issue" not in body:
            raise _unprocessable('Invalid request.\n\n"title" wasn\'t supplied.')
        head = body["head"].split(":", 1)[1] if ":" in body["head"] else body["head"]
        base = body["base"]
        errors = []
        if head not in repo.refs:
            errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
        if base not in repo.refs:
            errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
        if errors:
            raise _unprocessable("Validation Failed", errors)
        for pr in repo.pulls.values():
            if pr["state"] == "open" and pr["head"]["ref"] == head and pr["base"]["ref"] == base:
                raise _unprocessable("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                            "message": f"A pull request already exists for {repo.owner}:{head}."}])
        if repo.refs[head] == repo.refs[base]:
            raise _unprocessable("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                        "message": f"No commits between {base} and {head}"}])
        pr = self._new_pull(repo, head, base, body.get("title", ""), body.get("body"), ctx.identity)
        return Reply(201, self._pull_json(repo, pr))

    async def h_get_pull(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        pr = repo.pulls.get(int(ctx.params["number"]))
        if pr is None:
            raise _not_found()
        return Reply(200, self._pull_json(repo, pr))

    async def h_update_pull(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        pr = repo.pulls.get(int(ctx.params["number"]))
        if pr is None:
            raise _not_found()
        body = _require(ctx.json)
        for key in ("title", "body", "state", "base"):
            if key in body and not isinstance(body[key], str):
                raise _unprocessable(f"Invalid request.\n\nFor 'properties/{key}', {body[key]!r} is not a string.")
        if body.get("state") not in (None, "open", "closed"):
            raise _unprocessable("Validation Failed", [{"resource": "PullRequest", "field": "state", "code": "invalid"}])
        if pr.get("merged") and body.get("state") == "open":
            raise _unprocessable("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                        "message": "state cannot be changed. The pull request has been merged."}])
        for key in ("title", "body"):
            if key in body:
                pr[key] = body[key]
        if "state" in body:
            pr["state"] = body["state"]
            pr["closed_at"] = _iso(self.clock()) if body["state"] == "closed" else None
        pr["updated_at"] = _iso(self.clock())
        return Reply(200, self._pull_json(repo, pr))

    async def h_get_issue(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        number = int(ctx.params["number"])
        if number in repo.issues:
            return Reply(200, repo.issues[number])
        if number in repo.pulls:
            pr = repo.pulls[number]
            return Reply(200, {"number": number, "title": pr["title"], "body": pr["body"], "state": pr["state"],
                               "labels": pr["labels"], "user": pr["user"], "pull_request": {"url": pr["url"]}})
        raise _not_found()

    async def h_list_issues(self, ctx: Ctx) -> Reply:
        """Issues and pull requests, as GitHub lists them (filters: state, creator; oldest first here)."""
        repo = self._find(ctx)
        state = ctx.query.get("state", "open")
        creator = ctx.query.get("creator")
        items = [dict(i) for i in repo.issues.values()]
        items += [{"number": n, "title": p["title"], "body": p["body"], "state": p["state"], "labels": p["labels"],
                   "user": p["user"], "pull_request": {"url": p["url"]}} for n, p in repo.pulls.items()]
        items = [i for i in sorted(items, key=lambda i: i["number"])
                 if (state == "all" or i["state"] == state) and (creator is None or i["user"]["login"] == creator)]
        return self._paged(ctx, items)

    async def h_create_issue(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, title=str)
        number = self._next_number(repo)
        repo.issues[number] = {"number": number, "title": body["title"], "body": body.get("body"), "state": "open",
                               "labels": [], "user": self._user(ctx.identity), "id": next(self._ids),
                               "html_url": f"https://github.com/{repo.full_name}/issues/{number}"}
        return Reply(201, repo.issues[number])

    async def h_update_issue(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        issue = repo.issues.get(int(ctx.params["number"]))
        if issue is None:
            raise _not_found()
        body = ctx.json if isinstance(ctx.json, dict) else {}
        if "state" in body and body["state"] not in ("open", "closed"):
            raise _unprocessable("Validation Failed")
        issue.update({k: body[k] for k in ("title", "body", "state") if k in body})
        return Reply(200, issue)

    async def h_list_comments(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        number = int(ctx.params["number"])
        if number not in repo.pulls and number not in repo.issues:
            raise _not_found()
        items = [self._public(c) for c in sorted(repo.comments.values(), key=lambda c: c["id"]) if c["_issue"] == number]
        return self._paged(ctx, items)

    async def h_create_comment(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        body = _require(ctx.json, body=str)
        if len(body["body"]) > 65536:
            raise _unprocessable("Validation Failed", [{"resource": "IssueComment", "field": "body", "code": "custom",
                                                        "message": "body is too long (maximum is 65536 characters)"}])
        return Reply(201, self._public(self._new_comment(repo, int(ctx.params["number"]), body["body"], ctx.identity)))

    async def h_update_comment(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        comment = repo.comments.get(int(ctx.params["id"]))
        if comment is None:
            raise _not_found()
        body = _require(ctx.json, body=str)
        if comment["user"]["login"] != ctx.identity.login:
            raise ApiError(403, {"message": "Resource not accessible by integration", "documentation_url": DOCS})
        comment["body"] = body["body"]
        comment["updated_at"] = _iso(self.clock())
        return Reply(200, self._public(comment))

    def _labels_of(self, repo: FakeRepo, number: int) -> list[dict[str, Any]]:
        target = repo.pulls.get(number) or repo.issues.get(number)
        if target is None:
            raise _not_found()
        return target["labels"]

    async def h_list_labels(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        return self._paged(ctx, list(self._labels_of(repo, int(ctx.params["number"]))))

    async def h_add_labels(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        labels = self._labels_of(repo, int(ctx.params["number"]))
        body = ctx.json
        names = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise _unprocessable('Invalid request.\n\n"labels" wasn\'t supplied.')
        have = {label["name"] for label in labels}
        for name in names:
            if name not in have:
                labels.append({"id": next(self._ids), "name": name, "color": "ededed", "default": False,
                               "description": None})
                have.add(name)
        return Reply(200, labels)

    async def h_add_reaction(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        cid = int(ctx.params["id"])
        if cid not in repo.comments:
            raise _not_found()
        body = _require(ctx.json, content=str)
        if body["content"] not in REACTIONS:
            raise _unprocessable("Validation Failed", [{"resource": "Reaction", "field": "content", "code": "invalid"}])
        for r in repo.reactions:
            if r["_comment"] == cid and r["content"] == body["content"] and r["user"]["login"] == ctx.identity.login:
                return Reply(200, self._public(r))
        reaction = {"id": next(self._ids), "node_id": "REA_x", "user": self._user(ctx.identity),
                    "content": body["content"], "created_at": _iso(self.clock()), "_comment": cid}
        repo.reactions.append(reaction)
        return Reply(201, self._public(reaction))

    # ================================================================== handlers: checks and permissions

    def _check_output(self, output: Json, run: dict[str, Any]) -> None:
        if not isinstance(output, dict):
            raise _unprocessable("Invalid request.\n\nFor 'properties/output', must be an object.")
        for key in ("title", "summary"):
            if not isinstance(output.get(key), str):
                raise _unprocessable(f'Invalid request.\n\n"{key}" wasn\'t supplied.')
        if len(output["summary"]) > 65535:
            raise _unprocessable("Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied.")
        annotations = output.get("annotations") or []
        if len(annotations) > 50:
            raise _unprocessable("Invalid request.\n\nOnly 50 annotations are allowed per request.")
        for a in annotations:
            for key, kind in (("path", str), ("start_line", int), ("end_line", int), ("annotation_level", str),
                              ("message", str)):
                if not isinstance(a.get(key), kind):
                    raise _unprocessable(f'Invalid request.\n\n"{key}" wasn\'t supplied.')
            if a["annotation_level"] not in ("notice", "warning", "failure"):
                raise _unprocessable("Invalid request.\n\nannotation_level must be notice, warning or failure.")
        run["output"] = {"title": output["title"], "summary": output["summary"], "text": output.get("text"),
                         "annotations_count": run["output"].get("annotations_count", 0) + len(annotations)}
        run["_annotations"].extend(annotations)

    def _apply_status(self, body: dict[str, Any], run: dict[str, Any]) -> None:
        status = body.get("status", run.get("status", "queued"))
        conclusion = body.get("conclusion", run.get("conclusion"))
        if status not in ("queued", "in_progress", "completed"):
            raise _unprocessable(f"Invalid request.\n\n{status!r} is not a valid status.")
        if "conclusion" in body:
            if conclusion not in ("action_required", "cancelled", "failure", "neutral", "success", "skipped",
                                  "stale", "timed_out"):
                raise _unprocessable(f"Invalid request.\n\n{conclusion!r} is not a valid conclusion.")
            status = "completed"  # giving a conclusion completes the run
        if status == "completed" and not conclusion:
            raise _unprocessable('Invalid request.\n\n"conclusion" wasn\'t supplied.')
        run["status"], run["conclusion"] = status, conclusion
        if status == "completed":
            run["completed_at"] = _iso(self.clock())

    async def h_create_check(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        if ctx.identity.type != "Bot":
            raise ApiError(403, {"message": "You must authenticate via a GitHub App.", "documentation_url": DOCS})
        body = _require(ctx.json, name=str, head_sha=str)
        if body["head_sha"] not in repo.commits:
            raise _unprocessable("No commit found for SHA: " + body["head_sha"])
        rid = next(self._ids)
        run = {"id": rid, "name": body["name"], "head_sha": body["head_sha"], "status": "queued", "conclusion": None,
               "started_at": _iso(self.clock()), "completed_at": None, "output": {"annotations_count": 0},
               "html_url": f"https://github.com/{repo.full_name}/runs/{rid}",
               "app": {"slug": "trustacks", "id": self.app_id}, "_annotations": []}
        self._apply_status(body, run)
        if "output" in body:
            self._check_output(body["output"], run)
        repo.check_runs[rid] = run
        return Reply(201, self._public(run))

    async def h_update_check(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        run = repo.check_runs.get(int(ctx.params["id"]))
        if run is None:
            raise _not_found()
        body = _require(ctx.json)
        self._apply_status(body, run)
        if "output" in body:
            self._check_output(body["output"], run)
        return Reply(200, self._public(run))

    async def h_get_check(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        run = repo.check_runs.get(int(ctx.params["id"]))
        if run is None:
            raise _not_found()
        return Reply(200, self._public(run))

    async def h_check_annotations(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        run = repo.check_runs.get(int(ctx.params["id"]))
        if run is None:
            raise _not_found()
        return self._paged(ctx, list(run["_annotations"]))

    async def h_list_checks(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        sha = repo.resolve(ctx.params["ref"])
        if sha is None:
            raise _unprocessable("No commit found for SHA: " + ctx.params["ref"])
        runs = [self._public(r) for r in repo.check_runs.values() if r["head_sha"] == sha]
        return self._paged(ctx, runs, wrap="check_runs")

    async def h_permission(self, ctx: Ctx) -> Reply:
        repo = self._find(ctx)
        user = ctx.params["user"]
        role = repo.collaborators.get(user, "none")
        base = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}.get(role, "none")
        return Reply(200, {"permission": base, "role_name": role, "user": self._user(Identity(user, "User"))})
