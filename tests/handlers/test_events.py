"""Webhook payloads (complete, as GitHub and GitLab document them) normalize to forge-neutral events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.handlers.events import Kind, PayloadError, normalize

WEBHOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"


def load(forge, name):
    d = WEBHOOKS / forge / name
    headers = json.loads((d / "headers.json").read_text())
    event = headers.get("X-GitHub-Event") or headers.get("X-Gitlab-Event")
    return event, json.loads((d / "body.json").read_text())


@pytest.mark.parametrize(
    "forge, name, kind",
    [
        ("github", "installation.created", Kind.ONBOARD),
        ("github", "installation_repositories.added", Kind.ONBOARD),
        ("github", "push.default_branch", Kind.PUSH),
        ("github", "pull_request.opened", Kind.PR_OPENED),
        ("github", "pull_request.synchronize", Kind.PR_OPENED),
        ("github", "pull_request.closed_merged", Kind.PR_MERGED),
        ("github", "issue_comment.created", Kind.COMMENT),
        ("github", "issues.edited", Kind.ISSUE_EDITED),
        ("gitlab", "push.default_branch", Kind.PUSH),
        ("gitlab", "merge_request.open", Kind.PR_OPENED),
        ("gitlab", "merge_request.merge", Kind.PR_MERGED),
        ("gitlab", "note.merge_request", Kind.COMMENT),
    ],
)
def test_every_fixture_normalizes(forge, name, kind):
    event, payload = load(forge, name)
    ev = normalize(forge, event, payload)
    assert ev is not None and ev.kind is kind and ev.forge == forge
    if kind is Kind.ONBOARD:
        assert ev.repos and all("/" in r for r in ev.repos) and ev.installation_id
    else:
        assert "/" in ev.repo
    if kind is Kind.PUSH:
        assert ev.branch == ev.default_branch
    if kind in (Kind.PR_OPENED, Kind.PR_MERGED):
        assert ev.number > 0 and ev.head and ev.base and ev.head_sha
    if kind is Kind.COMMENT:
        assert ev.comment_id and ev.actor and ev.number > 0


def test_payload_missing_fields_is_a_clear_error():
    event, payload = load("github", "pull_request.opened")
    del payload["pull_request"]["head"]
    with pytest.raises(PayloadError, match="pull_request.head|head.ref"):
        normalize("github", event, payload)
    with pytest.raises(PayloadError, match="not a JSON object"):
        normalize("github", "push", [1, 2])


def test_unhandled_events_are_ignored():
    assert normalize("github", "star", {"action": "created"}) is None
    event, payload = load("github", "issue_comment.created")
    del payload["issue"]["pull_request"]  # a comment on a plain issue
    assert normalize("github", event, payload) is None
    event, payload = load("github", "push.default_branch")
    payload["ref"] = "refs/tags/v1"
    assert normalize("github", event, payload) is None


def test_bot_senders_are_marked():
    event, payload = load("github", "issue_comment.created")
    payload["comment"]["user"] = {"login": "trustacks[bot]", "type": "Bot", "id": 1}
    assert normalize("github", event, payload).actor_is_bot


def test_fork_prs_are_marked():
    event, payload = load("github", "pull_request.opened")
    payload["pull_request"]["head"]["repo"]["full_name"] = "mallory/payments-fastapi"
    assert normalize("github", event, payload).is_fork


@pytest.mark.parametrize("bad", ["\x13", "42", True, 0, -5, 1.5, [1], {"id": 1}])
def test_installation_id_of_the_wrong_type_is_a_payload_error(bad):
    """Found by the write-safety story: a string id reached int() in the forge factory and raised ValueError."""
    event, payload = load("github", "installation_repositories.added")
    payload["installation"]["id"] = bad
    with pytest.raises(PayloadError, match="installation.id"):
        normalize("github", event, payload)


def test_installation_id_absent_is_none():
    event, payload = load("github", "pull_request.opened")
    payload.pop("installation", None)
    assert normalize("github", event, payload).installation_id is None
