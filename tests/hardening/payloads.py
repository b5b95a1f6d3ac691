"""GitHub webhook payloads for the hardening tests, built from the recorded fixtures in fixtures/webhooks/.

Each builder copies one fixture body and changes only the fields a scenario needs (repository,
branch, PR, comment, sender), so every other field stays exactly as GitHub sends it.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / "fixtures" / "webhooks" / "github"
GITLAB = ROOT / "fixtures" / "webhooks" / "gitlab"
FIXTURE_SECRET = "trustacks-fixture-secret"
INSTALLATION = 48213377


@functools.lru_cache(maxsize=None)
def _raw(forge: str, name: str) -> tuple[str, str]:
    d = (GITHUB if forge == "github" else GITLAB) / name
    return (d / "headers.json").read_text(), (d / "body.json").read_text()


def headers(name: str, forge: str = "github") -> dict[str, str]:
    return json.loads(_raw(forge, name)[0])


def body(name: str, forge: str = "github") -> dict[str, Any]:
    """A fresh (deep) copy of a fixture body."""
    return json.loads(_raw(forge, name)[1])


def raw_body(name: str, forge: str = "github") -> bytes:
    """The exact bytes GitHub signed for the fixture."""
    return ((GITHUB if forge == "github" else GITLAB) / name / "body.json").read_bytes()


def fixture_names(forge: str = "github") -> list[str]:
    base = GITHUB if forge == "github" else GITLAB
    return sorted(p.name for p in base.iterdir() if (p / "body.json").is_file())


def _user(login: str) -> dict[str, Any]:
    u = copy.deepcopy(body("issue_comment.created")["comment"]["user"])
    u.update(login=login, type="Bot" if login.endswith("[bot]") else "User")
    return u


def _repository(template: dict[str, Any], full_name: str, default_branch: str) -> dict[str, Any]:
    repo = copy.deepcopy(template)
    owner, _, name = full_name.partition("/")
    repo.update(full_name=full_name, name=name, default_branch=default_branch)
    if isinstance(repo.get("owner"), dict):
        repo["owner"]["login"] = owner
    return repo


def installation(action: str, repos: list[str]) -> dict[str, Any]:
    b = body("installation.created")
    template = b["repositories"][0]
    b["action"] = action
    b["repositories"] = [{**template, "full_name": r, "name": r.split("/")[-1]} for r in repos]
    return b


def installation_repositories(action: str, repos: list[str]) -> dict[str, Any]:
    b = body("installation_repositories.added")
    template = b["repositories_added"][0]
    b["action"] = action
    listed = [{**template, "full_name": r, "name": r.split("/")[-1]} for r in repos]
    b["repositories_added"], b["repositories_removed"] = (listed, []) if action == "added" else ([], listed)
    return b


def push(repo: str, branch: str, *, default_branch: str, after: str, sender: str = "rui-acme",
         deleted: bool = False) -> dict[str, Any]:
    b = body("push.default_branch")
    b["ref"] = f"refs/heads/{branch}"
    b["after"] = "0" * 40 if deleted else after
    b["deleted"] = deleted
    b["repository"] = _repository(b["repository"], repo, default_branch)
    b["sender"] = _user(sender)
    return b


def pull_request(action: str, repo: str, *, number: int, head: str, head_sha: str, base: str, author: str,
                 pr_body: str, default_branch: str, merged: bool = False, sender: str = "rui-acme",
                 head_repo: str | None = None) -> dict[str, Any]:
    b = body("pull_request.closed_merged" if action == "closed" else "pull_request.opened")
    pr = b["pull_request"]
    b["action"], b["number"] = action, number
    pr.update(number=number, body=pr_body, merged=merged, state="closed" if action == "closed" else "open")
    pr["user"] = _user(author)
    pr["head"].update(ref=head, sha=head_sha)
    pr["head"]["repo"] = _repository(pr["head"]["repo"], head_repo or repo, default_branch)
    pr["base"].update(ref=base)
    pr["base"]["repo"] = _repository(pr["base"]["repo"], repo, default_branch)
    b["repository"] = _repository(b["repository"], repo, default_branch)
    b["sender"] = _user(sender)
    return b


def issue_comment(repo: str, *, number: int, pr_author: str, pr_body: str, comment_id: int, author: str,
                  text: str, default_branch: str, action: str = "created", on_pr: bool = True) -> dict[str, Any]:
    b = body("issue_comment.created")
    b["action"] = action
    issue = b["issue"]
    issue.update(number=number, body=pr_body)
    issue["user"] = _user(pr_author)
    if not on_pr:
        issue.pop("pull_request", None)
    b["comment"].update(id=comment_id, body=text)
    b["comment"]["user"] = _user(author)
    b["repository"] = _repository(b["repository"], repo, default_branch)
    b["sender"] = _user(author)
    return b


def issues_edited(repo: str, *, number: int, new_body: str, old_body: str, default_branch: str,
                  sender: str = "rui-acme") -> dict[str, Any]:
    b = body("issues.edited")
    b["issue"].update(number=number, body=new_body)
    b["changes"] = {"body": {"from": old_body}}
    b["repository"] = _repository(b["repository"], repo, default_branch)
    b["sender"] = _user(sender)
    return b
