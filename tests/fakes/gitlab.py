"""A fake GitLab API v4 on loopback, for the real GitLab forge client (python-gitlab) over real HTTP.

It implements the endpoints `bot.forges.gitlab` uses, checks the method, path, `PRIVATE-TOKEN` (or
`Authorization: Bearer`) header and the parameters GitLab documents as required, keeps state
(commits with their files, branches, protected branches, merge requests, notes, award emoji,
commit statuses, members) and records every write as (method, path, json).

    async with FakeGitLab() as gl:
        gl.add_project("acme/platform", files={...}, default_branch="main", protected=["main"])
        token = gl.add_token()              # the bot's project access token
        gl.add_member("acme/platform", "dev", 30)
        ...                                 # GitLabForge(gl.url, token)
        assert gl.writes == []

Project ids in paths are URL-encoded paths (`acme%2Fplatform`) or numeric ids, as in GitLab.
Failures: `gl.fail(429, times=2, headers={"Retry-After": "3"})`.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hashlib
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from tests.fakes._server import ApiError, Ctx, FakeServer, Json, Reply

P = r"^/projects/(?P<project>[^/]+)"
BOT_USERNAME = "project_1_bot_trustacks"
ACTIONS = {"create", "delete", "move", "update", "chmod"}
STATUS_STATES = {"pending", "running", "success", "failed", "canceled", "skipped"}


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _bad(message: Json, status: int = 400) -> ApiError:
    return ApiError(status, {"message": message})


def _missing(*names: str) -> ApiError:
    return ApiError(400, {"error": ", ".join(f"{n} is missing" for n in names)})


def _not_found(what: str = "Not found") -> ApiError:
    return ApiError(404, {"message": f"404 {what}"})


def _params(ctx: Ctx) -> dict[str, Any]:
    """GitLab takes parameters as JSON or as query/form values alike."""
    merged: dict[str, Any] = dict(ctx.query)
    if isinstance(ctx.json, dict):
        merged.update(ctx.json)
    return merged


@dataclass
class FakeProject:
    """One project's state. Tests read it directly."""

    id: int
    path: str
    default_branch: str
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    protected: list[str] = field(default_factory=list)
    members: dict[str, int] = field(default_factory=dict)  # username -> access level
    mrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    emoji: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)

    def resolve(self, ref: str | None) -> str | None:
        ref = ref or self.default_branch
        if ref in self.branches:
            return self.branches[ref]
        return ref if ref in self.commits else None

    def files(self, ref: str | None = None) -> dict[str, bytes]:
        sha = self.resolve(ref)
        if sha is None:
            raise KeyError(ref)
        return {p: data for p, (_, data) in self.commits[sha]["files"].items()}

    def ancestors(self, sha: str) -> set[str]:
        seen: set[str] = set()
        stack = [sha]
        while stack:
            s = stack.pop()
            if s not in seen:
                seen.add(s)
                stack.extend(self.commits[s]["parents"])
        return seen

    def is_protected(self, branch: str) -> bool:
        return any(branch == p or fnmatch.fnmatchcase(branch, p) for p in self.protected)


class FakeGitLab(FakeServer):
    """The fake GitLab server. Use as `async with FakeGitLab() as gl: ...`."""

    prefix = "/api/v4"

    def __init__(self, *, clock: Callable[[], float] = time.time, max_per_page: int = 100) -> None:
        self.clock = clock
        self.max_per_page = max_per_page
        self.projects: dict[str, FakeProject] = {}
        self.users: dict[str, int] = {}
        self._tokens: dict[str, str] = {}  # token -> username
        self._ids = itertools.count(501)
        super().__init__()

    # ================================================================== setup

    def add_user(self, username: str) -> int:
        if username not in self.users:
            self.users[username] = next(self._ids)
        return self.users[username]

    def add_token(self, token: str | None = None, *, username: str = BOT_USERNAME) -> str:
        token = token or "glpat-" + secrets.token_urlsafe(15)
        self.add_user(username)
        self._tokens[token] = username
        return token

    def add_project(
        self,
        path: str,
        *,
        files: dict[str, str | bytes] | None = None,
        default_branch: str = "main",
        protected: list[str] | tuple[str, ...] = ("main",),
        members: dict[str, int] | None = None,
        author: tuple[str, str] = ("Alice Example", "alice@example.com"),
    ) -> FakeProject:
        project = FakeProject(id=next(self._ids), path=path, default_branch=default_branch, protected=list(protected))
        for user, level in (members or {}).items():
            self.add_member(path, user, level, project=project)
        content = {p: ("100644", d.encode() if isinstance(d, str) else d) for p, d in (files or {}).items()}
        sha = self._commit(project, content, [], "Initial commit", author)
        project.branches[default_branch] = sha
        self.projects[path.lower()] = project
        return project

    def project(self, path: str) -> FakeProject:
        return self.projects[path.lower()]

    def add_member(self, path: str, username: str, level: int, *, project: FakeProject | None = None) -> None:
        self.add_user(username)
        (project or self.project(path)).members[username] = level

    # ---------------------------------------------------------------- human activity

    def push(self, path: str, branch: str, files: dict[str, str | bytes | None], *, message: str = "human edit",
             author: tuple[str, str] = ("Alice Example", "alice@example.com")) -> str:
        project = self.project(path)
        parent = project.branches.get(branch) or project.branches[project.default_branch]
        content = dict(project.commits[parent]["files"])
        for p, data in files.items():
            if data is None:
                content.pop(p, None)
            else:
                content[p] = ("100644", data.encode() if isinstance(data, str) else data)
        sha = self._commit(project, content, [parent], message, author)
        project.branches[branch] = sha
        return sha

    def open_mr(self, path: str, *, source: str, target: str | None = None, title: str = "A change",
                user: str = "alice") -> int:
        project = self.project(path)
        return self._new_mr(project, source, target or project.default_branch, title, "", user)["iid"]

    def merge_mr(self, path: str, iid: int, *, by: str = "alice") -> str:
        project = self.project(path)
        mr = project.mrs[iid]
        head = project.branches[mr["source_branch"]]
        target = project.branches[mr["target_branch"]]
        sha = self._commit(project, dict(project.commits[head]["files"]), [target, head],
                           f"Merge branch '{mr['source_branch']}' into '{mr['target_branch']}'", (by, f"{by}@example.com"))
        project.branches[mr["target_branch"]] = sha
        user = self._user(by)
        mr.update(state="merged", merged_at=_iso(self.clock()), merge_user=user, merged_by=user, merge_commit_sha=sha,
                  sha=head)
        return sha

    def add_note(self, path: str, iid: int, body: str, *, user: str = "alice", system: bool = False) -> int:
        project = self.project(path)
        return self._new_note(project, iid, body, user, system=system)["id"]

    # ================================================================== plumbing

    def authenticate(self, request: web.Request, path: str) -> str:
        token = request.headers.get("PRIVATE-TOKEN")
        if token is None:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        if not token or token not in self._tokens:
            raise ApiError(401, {"message": "401 Unauthorized"})
        return self._tokens[token]

    def default_headers(self, identity: Any) -> dict[str, str]:
        return {"RateLimit-Limit": "2000", "RateLimit-Remaining": "1999", "RateLimit-Observed": "1",
                "RateLimit-Reset": str(int(self.clock()) + 60), "X-Request-Id": secrets.token_hex(8)}

    def not_found_body(self) -> Json:
        return {"error": "404 Not Found"}

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"^/user$", self.h_me),
            ("GET", r"^/users$", self.h_users),
            ("GET", P + r"$", self.h_project),
            ("GET", P + r"/protected_branches$", self.h_protected),
            ("GET", P + r"/repository/branches/(?P<branch>[^/]+)$", self.h_get_branch),
            ("POST", P + r"/repository/branches$", self.h_create_branch),
            ("DELETE", P + r"/repository/branches/(?P<branch>[^/]+)$", self.h_delete_branch),
            ("GET", P + r"/repository/files/(?P<file>[^/]+)/raw$", self.h_raw),
            ("GET", P + r"/repository/tree$", self.h_tree),
            ("GET", P + r"/repository/compare$", self.h_compare),
            ("POST", P + r"/repository/commits$", self.h_create_commit),
            ("GET", P + r"/repository/commits/(?P<sha>[^/]+)$", self.h_get_commit),
            ("GET", P + r"/repository/commits/(?P<sha>[^/]+)/statuses$", self.h_list_statuses),
            ("POST", P + r"/statuses/(?P<sha>[^/]+)$", self.h_set_status),
            ("GET", P + r"/merge_requests$", self.h_list_mrs),
            ("POST", P + r"/merge_requests$", self.h_create_mr),
            ("GET", P + r"/merge_requests/(?P<iid>\d+)$", self.h_get_mr),
            ("PUT", P + r"/merge_requests/(?P<iid>\d+)$", self.h_update_mr),
            ("GET", P + r"/merge_requests/(?P<iid>\d+)/notes$", self.h_list_notes),
            ("POST", P + r"/merge_requests/(?P<iid>\d+)/notes$", self.h_create_note),
            ("PUT", P + r"/merge_requests/(?P<iid>\d+)/notes/(?P<note>\d+)$", self.h_update_note),
            ("POST", P + r"/merge_requests/(?P<iid>\d+)/notes/(?P<note>\d+)/award_emoji$", self.h_award),
            ("GET", P + r"/members/all/(?P<uid>\d+)$", self.h_member),
            ("GET", P + r"/issues$", self.h_list_issues),
            ("POST", P + r"/issues$", self.h_create_issue),
            ("GET", P + r"/issues/(?P<iid>\d+)$", self.h_get_issue),
            ("PUT", P + r"/issues/(?P<iid>\d+)$", self.h_update_issue),
        ]

    # ================================================================== model helpers

    def _user(self, username: str) -> dict[str, Any]:
        uid = self.add_user(username)
        return {"id": uid, "username": username, "name": username.replace("_", " ").title(), "state": "active",
                "locked": False, "avatar_url": None, "web_url": f"https://gitlab.example.com/{username}"}

    def _find(self, ctx: Ctx) -> FakeProject:
        key = ctx.params["project"]
        if key.isdigit():
            for project in self.projects.values():
                if project.id == int(key):
                    return project
        project = self.projects.get(key.lower())
        if project is None:
            raise _not_found("Project Not Found")
        return project

    def _commit(self, project: FakeProject, files: dict[str, tuple[str, bytes]], parents: list[str], message: str,
                author: tuple[str, str]) -> str:
        when = self.clock()
        digest = hashlib.sha1(json.dumps({
            "files": {p: [m, hashlib.sha1(d).hexdigest()] for p, (m, d) in sorted(files.items())},
            "parents": parents, "message": message, "author": list(author), "when": when,
            "n": len(project.commits)}).encode()).hexdigest()
        project.commits[digest] = {"files": files, "parents": list(parents), "message": message,
                                   "author_name": author[0], "author_email": author[1],
                                   "committer_name": author[0], "committer_email": author[1],
                                   "created_at": _iso(when)}
        return digest

    def _commit_json(self, project: FakeProject, sha: str) -> dict[str, Any]:
        c = project.commits[sha]
        return {"id": sha, "short_id": sha[:8], "title": c["message"].split("\n", 1)[0], "message": c["message"],
                "author_name": c["author_name"], "author_email": c["author_email"], "authored_date": c["created_at"],
                "committer_name": c["committer_name"], "committer_email": c["committer_email"],
                "committed_date": c["created_at"], "created_at": c["created_at"], "parent_ids": c["parents"],
                "web_url": f"https://gitlab.example.com/{project.path}/-/commit/{sha}"}

    def _branch_json(self, project: FakeProject, name: str) -> dict[str, Any]:
        return {"name": name, "merged": False, "protected": project.is_protected(name),
                "default": name == project.default_branch, "developers_can_push": False,
                "developers_can_merge": False, "can_push": True,
                "web_url": f"https://gitlab.example.com/{project.path}/-/tree/{name}",
                "commit": self._commit_json(project, project.branches[name])}

    def _mr_json(self, project: FakeProject, mr: dict[str, Any]) -> dict[str, Any]:
        out = dict(mr)
        if mr["state"] == "opened" and mr["source_branch"] in project.branches:
            out["sha"] = project.branches[mr["source_branch"]]
        return out

    def _new_mr(self, project: FakeProject, source: str, target: str, title: str, description: str | None,
                username: str) -> dict[str, Any]:
        iid = max([0, *project.mrs]) + 1
        now = _iso(self.clock())
        mr = {
            "id": next(self._ids), "iid": iid, "project_id": project.id, "title": title, "description": description,
            "state": "opened", "created_at": now, "updated_at": now, "merged_by": None, "merge_user": None,
            "merged_at": None, "closed_by": None, "closed_at": None, "target_branch": target, "source_branch": source,
            "user_notes_count": 0, "upvotes": 0, "downvotes": 0, "author": self._user(username), "assignees": [],
            "reviewers": [], "source_project_id": project.id, "target_project_id": project.id, "labels": [],
            "draft": False, "work_in_progress": False, "milestone": None, "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged", "detailed_merge_status": "mergeable", "sha": project.branches[source],
            "merge_commit_sha": None, "squash_commit_sha": None, "discussion_locked": None,
            "should_remove_source_branch": None, "force_remove_source_branch": False,
            "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"{project.path}!{iid}"},
            "web_url": f"https://gitlab.example.com/{project.path}/-/merge_requests/{iid}", "squash": False,
            "has_conflicts": False, "blocking_discussions_resolved": True,
        }
        project.mrs[iid] = mr
        return mr

    def _new_note(self, project: FakeProject, iid: int, body: str, username: str, *, system: bool = False) -> dict[str, Any]:
        mr = project.mrs.get(iid)
        if mr is None:
            raise _not_found()
        now = _iso(self.clock())
        note = {"id": next(self._ids), "type": None, "body": body, "attachment": None, "author": self._user(username),
                "created_at": now, "updated_at": now, "system": system, "noteable_id": mr["id"],
                "noteable_type": "MergeRequest", "project_id": project.id, "noteable_iid": iid, "resolvable": False,
                "confidential": False, "internal": False, "_mr": iid}
        project.notes[note["id"]] = note
        mr["user_notes_count"] += 0 if system else 1
        return note

    @staticmethod
    def _public(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not k.startswith("_")}

    def _paged(self, ctx: Ctx, items: list[Json]) -> Reply:
        chunk, headers = self.page(ctx, items, default_per_page=20, max_per_page=self.max_per_page)
        return Reply(200, chunk, headers)

    def _can_push(self, project: FakeProject, branch: str, username: str) -> None:
        if project.is_protected(branch):
            raise ApiError(403, {"message": "403 Forbidden - You are not allowed to push into this branch"})

    # ================================================================== handlers: users and projects

    async def h_me(self, ctx: Ctx) -> Reply:
        return Reply(200, {**self._user(ctx.identity), "bot": True})

    async def h_users(self, ctx: Ctx) -> Reply:
        username = ctx.query.get("username")
        names = [username] if username in self.users else ([] if username else sorted(self.users))
        return self._paged(ctx, [self._user(n) for n in names])

    async def h_project(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        namespace, _, name = project.path.rpartition("/")
        return Reply(200, {
            "id": project.id, "name": name, "path": name, "path_with_namespace": project.path,
            "name_with_namespace": project.path.replace("/", " / "), "default_branch": project.default_branch,
            "visibility": "private", "web_url": f"https://gitlab.example.com/{project.path}",
            "http_url_to_repo": f"https://gitlab.example.com/{project.path}.git",
            "namespace": {"id": 9, "name": namespace, "path": namespace, "kind": "group", "full_path": namespace},
            "archived": False, "empty_repo": False,
        })

    async def h_protected(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        level = {"id": 1, "access_level": 40, "access_level_description": "Maintainers", "user_id": None,
                 "group_id": None}
        items = [{"id": i + 1, "name": name, "push_access_levels": [level], "merge_access_levels": [level],
                  "unprotect_access_levels": [], "allow_force_push": False, "code_owner_approval_required": False}
                 for i, name in enumerate(project.protected)]
        return self._paged(ctx, items)

    async def h_member(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        uid = int(ctx.params["uid"])
        for username, level in project.members.items():
            if self.users.get(username) == uid:
                return Reply(200, {**self._user(username), "access_level": level, "expires_at": None,
                                   "membership_state": "active"})
        raise _not_found("Not found")

    # ================================================================== handlers: repository

    async def h_get_branch(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        if ctx.params["branch"] not in project.branches:
            raise _not_found("Branch Not Found")
        return Reply(200, self._branch_json(project, ctx.params["branch"]))

    async def h_create_branch(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        p = _params(ctx)
        missing = [k for k in ("branch", "ref") if not p.get(k)]
        if missing:
            raise _missing(*missing)
        if p["branch"] in project.branches:
            raise _bad("Branch already exists")
        sha = project.resolve(p["ref"])
        if sha is None:
            raise _bad("Invalid reference name: " + p["ref"])
        project.branches[p["branch"]] = sha
        return Reply(201, self._branch_json(project, p["branch"]))

    async def h_delete_branch(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        branch = ctx.params["branch"]
        if branch not in project.branches:
            raise _not_found("Branch Not Found")
        if project.is_protected(branch) or branch == project.default_branch:
            raise ApiError(403, {"message": "403 Forbidden"})
        del project.branches[branch]
        return Reply(204)

    async def h_raw(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        sha = project.resolve(ctx.query.get("ref"))
        if sha is None:
            raise _not_found("Commit Not Found")
        files = project.commits[sha]["files"]
        if ctx.params["file"] not in files:
            raise _not_found("File Not Found")
        return Reply(200, files[ctx.params["file"]][1], {"Content-Type": "text/plain; charset=utf-8"})

    async def h_tree(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        sha = project.resolve(ctx.query.get("ref"))
        if sha is None:
            raise _not_found("Tree Not Found")
        recursive = ctx.query.get("recursive") in ("true", "1")
        base = ctx.query.get("path", "").strip("/")
        entries: dict[str, dict[str, Any]] = {}
        for path, (mode, data) in project.commits[sha]["files"].items():
            if base and not path.startswith(base + "/"):
                continue
            rel = path[len(base) + 1:] if base else path
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                d = "/".join(parts[:depth])
                full = f"{base}/{d}" if base else d
                if recursive or depth == 1:
                    entries.setdefault(full, {"id": hashlib.sha1(full.encode()).hexdigest(), "name": parts[depth - 1],
                                              "type": "tree", "path": full, "mode": "040000"})
            if recursive or len(parts) == 1:
                entries[path] = {"id": hashlib.sha1(data).hexdigest(), "name": parts[-1], "type": "blob",
                                 "path": path, "mode": mode}
        return self._paged(ctx, [entries[k] for k in sorted(entries)])

    async def h_compare(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        src, dst = ctx.query.get("from"), ctx.query.get("to")
        if not src or not dst:
            raise _missing(*[k for k in ("from", "to") if not ctx.query.get(k)])
        base, head = project.resolve(src), project.resolve(dst)
        if base is None or head is None:
            raise _not_found("Ref Not Found")
        behind = project.ancestors(base)
        ahead = [s for s in project.ancestors(head) if s not in behind]
        order = {s: i for i, s in enumerate(project.commits)}  # creation order: oldest first, like GitLab
        ahead.sort(key=order.__getitem__)
        return Reply(200, {"commit": self._commit_json(project, head) if ahead else None,
                           "commits": [self._commit_json(project, s) for s in ahead], "diffs": [],
                           "compare_timeout": False, "compare_same_ref": base == head,
                           "web_url": f"https://gitlab.example.com/{project.path}/-/compare/{base}...{head}"})

    async def h_create_commit(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        p = _params(ctx)
        missing = [k for k in ("branch", "commit_message", "actions") if not p.get(k)]
        if missing:
            raise _missing(*missing)
        if not isinstance(p["actions"], list):
            raise ApiError(400, {"error": "actions is invalid"})
        branch = p["branch"]
        start = p.get("start_sha") or p.get("start_branch")
        if branch in project.branches:
            if p.get("force"):
                if not start:
                    raise _bad("force requires start_branch or start_sha")
                parent = project.resolve(start)
            elif start and project.resolve(start) != project.branches[branch]:
                raise _bad(f"A branch called '{branch}' already exists. Switch to that branch in order to make changes")
            else:
                parent = project.branches[branch]
        else:
            if not start:
                raise _bad("You can only create or edit files when you are on a branch")
            parent = project.resolve(start)
        if parent is None:
            raise _bad(f"Invalid reference name: {start}")
        self._can_push(project, branch, ctx.identity)
        files = dict(project.commits[parent]["files"])
        for action in p["actions"]:
            if not isinstance(action, dict) or action.get("action") not in ACTIONS:
                raise ApiError(400, {"error": "actions[action] does not have a valid value"})
            path = action.get("file_path")
            if not path:
                raise ApiError(400, {"error": "actions[file_path] is missing"})
            kind = action["action"]
            if kind in ("create", "update"):
                if "content" not in action:
                    raise ApiError(400, {"error": "actions[content] is missing"})
                if action.get("encoding", "text") not in ("text", "base64"):
                    raise ApiError(400, {"error": "actions[encoding] does not have a valid value"})
                data = (base64.b64decode(action["content"]) if action.get("encoding") == "base64"
                        else str(action["content"]).encode())
                if kind == "create" and path in files:
                    raise _bad("A file with this name already exists")
                if kind == "update" and path not in files:
                    raise _bad("A file with this name doesn't exist")
                mode = files.get(path, ("100644", b""))[0]
                files[path] = (mode, data)
            elif kind == "delete":
                if path not in files:
                    raise _bad("A file with this name doesn't exist")
                del files[path]
            elif kind == "move":
                prev = action.get("previous_path")
                if not prev or prev not in files:
                    raise _bad("A file with this name doesn't exist")
                files[path] = files.pop(prev)
            else:  # chmod
                if path not in files:
                    raise _bad("A file with this name doesn't exist")
                files[path] = ("100755" if action.get("execute_filemode") else "100644", files[path][1])
        login = ctx.identity
        sha = self._commit(project, files, [parent], p["commit_message"],
                           (p.get("author_name") or login, p.get("author_email") or f"{login}@noreply.gitlab.example.com"))
        project.branches[branch] = sha
        return Reply(201, {**self._commit_json(project, sha), "stats": {"additions": 0, "deletions": 0, "total": 0},
                           "status": None, "last_pipeline": None})

    async def h_get_commit(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        sha = project.resolve(ctx.params["sha"])
        if sha is None:
            raise _not_found("Commit Not Found")
        return Reply(200, self._commit_json(project, sha))

    async def h_set_status(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        p = _params(ctx)
        if not p.get("state"):
            raise _missing("state")
        if p["state"] not in STATUS_STATES:
            raise ApiError(400, {"error": "state does not have a valid value"})
        sha = ctx.params["sha"]
        if sha not in project.commits:
            raise _not_found("References for commit Not Found")
        description = p.get("description")
        if description is not None and len(description) > 255:
            raise _bad({"description": ["is too long (maximum is 255 characters)"]})
        name = p.get("name") or p.get("context") or "default"
        status = {"id": next(self._ids), "sha": sha, "ref": p.get("ref"), "status": p["state"], "name": name,
                  "target_url": p.get("target_url"), "description": description, "created_at": _iso(self.clock()),
                  "started_at": None, "finished_at": None, "allow_failure": False, "coverage": None,
                  "author": self._user(ctx.identity)}
        project.statuses.append(status)
        return Reply(201, status)

    async def h_list_statuses(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        sha = project.resolve(ctx.params["sha"])
        return self._paged(ctx, [s for s in project.statuses if s["sha"] == sha])

    # ================================================================== handlers: merge requests and notes

    async def h_list_mrs(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        state = ctx.query.get("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise ApiError(400, {"error": "state does not have a valid value"})
        items = [self._mr_json(project, mr) for mr in sorted(project.mrs.values(), key=lambda m: -m["iid"])
                 if (state == "all" or mr["state"] == state)
                 and ctx.query.get("source_branch") in (None, mr["source_branch"])
                 and ctx.query.get("target_branch") in (None, mr["target_branch"])]
        return self._paged(ctx, items)

    async def h_create_mr(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        p = _params(ctx)
        missing = [k for k in ("source_branch", "target_branch", "title") if not p.get(k)]
        if missing:
            raise _missing(*missing)
        if p["source_branch"] not in project.branches:
            raise _bad([f"Source branch \"{p['source_branch']}\" does not exist"])
        if p["target_branch"] not in project.branches:
            raise _bad([f"Target branch \"{p['target_branch']}\" does not exist"])
        for mr in project.mrs.values():
            if mr["state"] == "opened" and mr["source_branch"] == p["source_branch"] \
                    and mr["target_branch"] == p["target_branch"]:
                raise ApiError(409, {"message": [
                    f"Another open merge request already exists for this source branch: !{mr['iid']}"]})
        mr = self._new_mr(project, p["source_branch"], p["target_branch"], p["title"], p.get("description"),
                          ctx.identity)
        mr["force_remove_source_branch"] = bool(p.get("remove_source_branch"))
        if p.get("labels"):
            mr["labels"] = [x for x in str(p["labels"]).split(",") if x]
        return Reply(201, self._mr_json(project, mr))

    async def h_get_mr(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        mr = project.mrs.get(int(ctx.params["iid"]))
        if mr is None:
            raise _not_found()
        return Reply(200, self._mr_json(project, mr))

    async def h_update_mr(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        mr = project.mrs.get(int(ctx.params["iid"]))
        if mr is None:
            raise _not_found()
        p = _params(ctx)
        known = {"title", "description", "state_event", "add_labels", "remove_labels", "labels", "target_branch"}
        if not known & set(p):
            raise ApiError(400, {"error": ", ".join(sorted(known)) + " are missing, at least one parameter must be provided"})
        if "state_event" in p:
            if p["state_event"] not in ("close", "reopen"):
                raise ApiError(400, {"error": "state_event does not have a valid value"})
            if mr["state"] == "merged":
                raise _bad("Cannot change the state of a merged merge request", 405)
            mr["state"] = "closed" if p["state_event"] == "close" else "opened"
            mr["closed_at"] = _iso(self.clock()) if mr["state"] == "closed" else None
        for key in ("title", "description", "target_branch"):
            if key in p:
                mr[key] = p[key]
        if "labels" in p:
            mr["labels"] = [x for x in str(p["labels"]).split(",") if x]
        for name in [x for x in str(p.get("add_labels", "")).split(",") if x]:
            if name not in mr["labels"]:
                mr["labels"].append(name)
        removed = {x for x in str(p.get("remove_labels", "")).split(",") if x}
        mr["labels"] = [x for x in mr["labels"] if x not in removed]
        mr["updated_at"] = _iso(self.clock())
        return Reply(200, self._mr_json(project, mr))

    async def h_list_notes(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        iid = int(ctx.params["iid"])
        if iid not in project.mrs:
            raise _not_found()
        notes = [self._public(n) for n in project.notes.values() if n["_mr"] == iid]
        notes.sort(key=lambda n: n["id"], reverse=ctx.query.get("sort", "desc") == "desc")
        return self._paged(ctx, notes)

    async def h_list_issues(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        state = ctx.query.get("state", "all")
        author = ctx.query.get("author_username")
        items = [i for i in sorted(project.issues.values(), key=lambda i: i["iid"])
                 if (state == "all" or i["state"] == state) and author in (None, i["author"]["username"])]
        return self._paged(ctx, items)

    async def h_create_issue(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        p = _params(ctx)
        if not p.get("title"):
            raise _missing("title")
        iid = max([0, *project.issues]) + 1
        project.issues[iid] = {"id": next(self._ids), "iid": iid, "title": p["title"], "description": p.get("description"),
                               "state": "opened", "author": self._user(ctx.identity),
                               "web_url": f"https://gitlab.example.com/{project.path}/-/issues/{iid}"}
        return Reply(201, project.issues[iid])

    async def h_get_issue(self, ctx: Ctx) -> Reply:
        issue = self._find(ctx).issues.get(int(ctx.params["iid"]))
        if issue is None:
            raise _not_found("404 Issue Not Found")
        return Reply(200, issue)

    async def h_update_issue(self, ctx: Ctx) -> Reply:
        issue = self._find(ctx).issues.get(int(ctx.params["iid"]))
        if issue is None:
            raise _not_found("404 Issue Not Found")
        p = _params(ctx)
        if "description" in p:
            issue["description"] = p["description"]
        if p.get("state_event") in ("close", "reopen"):
            issue["state"] = "closed" if p["state_event"] == "close" else "opened"
        return Reply(200, issue)

    async def h_create_note(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        p = _params(ctx)
        if not p.get("body"):
            raise _missing("body")
        if len(p["body"]) > 1_000_000:
            raise _bad({"note": ["is too long (maximum is 1000000 characters)"]})
        return Reply(201, self._public(self._new_note(project, int(ctx.params["iid"]), p["body"], ctx.identity)))

    async def h_update_note(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        note = project.notes.get(int(ctx.params["note"]))
        if note is None or note["_mr"] != int(ctx.params["iid"]):
            raise _not_found("Note Not Found")
        p = _params(ctx)
        if not p.get("body"):
            raise _missing("body")
        if note["author"]["username"] != ctx.identity:
            raise ApiError(403, {"message": "403 Forbidden"})
        note["body"] = p["body"]
        note["updated_at"] = _iso(self.clock())
        return Reply(200, self._public(note))

    async def h_award(self, ctx: Ctx) -> Reply:
        project = self._find(ctx)
        note_id = int(ctx.params["note"])
        note = project.notes.get(note_id)
        if note is None or note["_mr"] != int(ctx.params["iid"]):
            raise _not_found("Note Not Found")
        p = _params(ctx)
        if not p.get("name"):
            raise _missing("name")
        for award in project.emoji:
            if award["awardable_id"] == note_id and award["name"] == p["name"] \
                    and award["user"]["username"] == ctx.identity:
                raise _bad({"name": ["has already been taken"]})
        award = {"id": next(self._ids), "name": p["name"], "user": self._user(ctx.identity),
                 "created_at": _iso(self.clock()), "updated_at": _iso(self.clock()), "awardable_id": note_id,
                 "awardable_type": "Note"}
        project.emoji.append(award)
        return Reply(201, award)
