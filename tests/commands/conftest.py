"""A small org on the local forge, webhook payloads, and stand-ins for the engines the commands call.

The dispatcher tests drive the real `bot.pipeline` (open_proposal, is_edited, load_profile) on real bare
git repos. Discovery and generation are replaced at the pipeline seam (`discover_repo`, `propose_profile`,
`propose_generation`) by scripted stand-ins, and the PR body by a plain renderer, so each test controls
exactly what a command proposes; the policy engine is a small stand-in with the real engine's shape
(`rules`, `rule`, `evaluate`). `test_real_engines.py` runs the same commands on the real engines.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot import pipeline
from bot.forges.local import LocalForge, LocalForgeAdmin
from bot.handlers.events import normalize
from bot.handlers.flows import HandlerContext, on_comment
from bot.models import Decision, FileChange, Permission, Proposal, ProposalKind, Violation
from bot.pr_identity import Identity, input_hash, with_marker
from bot.profile import PROFILE_PATH, Profile

PAYLOADS = Path(__file__).parent / "payloads"
PLATFORM = "acme/platform"
APP = "acme/app"
ADMIN = "demo-admin"
WRITER = "alice"
READER = "rita"
STRANGER = "mallory"


# ---------------------------------------------------------------------------- policy stand-in


@dataclass(frozen=True)
class StubRule:
    id: str
    title: str
    layer: str
    severity: str
    description: str = ""
    remediation: str = ""
    pack: str | None = None

    @property
    def layer_label(self) -> str:
        return f"pack {self.pack}" if self.pack else self.layer


RULES = [
    StubRule("TS-PROC-001", "Changes reach main only by reviewed PR", "constitution", "critical",
             "Every change lands through a PR with a human approval.", "Open a PR; get an approval."),
    StubRule("SOC2-CC6.1-IMAGE-SCAN", "Images are scanned before deploy", "packs", "high",
             "CI scans every image it builds.", "Add the Profile's image scanner to CI.", pack="soc2"),
    StubRule("SOC2-CC8.1-CHANGE", "Changes are tracked", "packs", "medium", "Link a change record.",
             "Add a ticket reference.", pack="soc2"),
    StubRule("ACME-ONLY-CONST", "Org rule living in the constitution layer", "constitution", "high"),
    StubRule("ACME-REGISTRY-1", "Only the org registry", "overlay", "high", "Push only to the org registry.",
             "Use the Profile's registry."),
]


class StubPolicy:
    """The real PolicyEngine's shape: rules(), rule(id) (KeyError when unknown), evaluate()."""

    def __init__(self) -> None:
        self.deny: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.warn: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.calls: list[tuple[Proposal, Any, Any]] = []

    def rules(self, *, layer: str | None = None, pack: str | None = None) -> list[StubRule]:
        return [r for r in RULES if (layer is None or r.layer == layer) and (pack is None or r.pack == pack)]

    def rule(self, rule_id: str) -> StubRule:
        for r in RULES:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def evaluate(self, proposal: Proposal, profile: Any, *, pr: Any = None, **_: Any) -> Decision:
        self.calls.append((proposal, profile, pr))

        def violations(table: dict[str, tuple[str, tuple[str, ...]]]) -> list[Violation]:
            out = []
            for rule_id, (msg, because) in table.items():
                meta = self.rule(rule_id)
                out.append(Violation(rule=rule_id, layer=meta.layer, severity=meta.severity, msg=msg, because=because))
            return out

        return Decision(deny=violations(self.deny), warn=violations(self.warn),
                        rules_evaluated=[r.id for r in RULES])


# ---------------------------------------------------------------------------- engine stand-ins at the pipeline seam


def profile_text(ci_tool: str = "github-actions") -> str:
    profile = Profile.new(PLATFORM)
    profile.set_tools("ci", [{"tool": ci_tool, "source": "discovered", "evidence": [f"{APP}:.github/workflows/ci.yml:1"]}])
    profile.set_tools("registry", [{"tool": "ghcr", "source": "declared", "evidence": []}])
    profile.set_services([{"name": "app", "repo": APP, "path": ".", "language": "python", "framework": "fastapi",
                           "port": 8000}])
    return profile.dumps()


@dataclass
class Engines:
    """What the stand-in discovery and generators produce; tests edit these fields."""

    ci_tool: str = "github-actions"
    dockerfile: str = "FROM python:3.12-slim\nUSER 10001\n"
    workflow: str = "name: ci\non: push\n"
    discovered: list[str] = field(default_factory=list)
    generate_calls: list[dict[str, Any]] = field(default_factory=list)


def install_engines(monkeypatch: pytest.MonkeyPatch, engines: Engines) -> None:
    async def discover_repo(forge, repo, *, ref=None):
        engines.discovered.append(repo)
        return SimpleNamespace(repo=repo, services=[SimpleNamespace(name="app")], findings=[])

    async def propose_profile(flow, results):
        forge = flow.forge
        current = await forge.read_file(flow.platform_repo, PROFILE_PATH)
        new = profile_text(engines.ci_tool)
        old = current.decode() if current is not None else None
        if new == old:
            return None
        proposal = Proposal(
            kind=ProposalKind.PROFILE, repo=flow.platform_repo,
            base_branch=await forge.default_branch(flow.platform_repo),
            head_branch=pipeline.profile_branch(flow.platform_repo),
            title="Update the TruStacks Environment Profile", summary=f"from {[r.repo for r in results]}",
            files=[FileChange(PROFILE_PATH, new, old)])
        proposal.input_hash = input_hash("profile", flow.platform_repo, new)
        return proposal

    async def propose_generation(flow, profile, *, services=None, only=None):
        engines.generate_calls.append({"services": services, "only": only})
        forge = flow.forge
        wanted = {"docker": ("Dockerfile", engines.dockerfile), "ci": (".github/workflows/ci.yml", engines.workflow)}
        files = []
        for kind, (path, content) in wanted.items():
            if only and kind not in only:
                continue
            current = await forge.read_file(APP, path)
            old = current.decode() if current is not None else None
            if old != content:
                files.append(FileChange(path, content, old))
        if not files or (services is not None and "app" not in services):
            return [], []
        proposal = Proposal(
            kind=ProposalKind.GENERATE, repo=APP, base_branch=await forge.default_branch(APP),
            head_branch=pipeline.generate_branch(APP), title="TruStacks: ci, docker for app",
            summary="generated", files=files)
        proposal.input_hash = input_hash("generate", APP, [(f.path, f.new) for f in files])
        return [proposal], [SimpleNamespace(message="no SBOM tool named in the Profile")]

    def render_body(flow, proposal, decision, profile):
        body = f"## {proposal.title}\n\n{proposal.summary}\n\n{proposal.details}\n\nverdict: {decision.verdict}"
        return with_marker(body, Identity(kind=proposal.kind.value, target=proposal.repo,
                                          input_hash=proposal.input_hash))

    monkeypatch.setattr(pipeline, "discover_repo", discover_repo)
    monkeypatch.setattr(pipeline, "propose_profile", propose_profile)
    monkeypatch.setattr(pipeline, "propose_generation", propose_generation)
    monkeypatch.setattr(pipeline, "render_body", render_body)


# ---------------------------------------------------------------------------- the org


@dataclass
class World:
    forge: LocalForge
    admin: LocalForgeAdmin
    policy: StubPolicy
    engines: Engines
    flow: pipeline.Flow

    # -------------------------------------------------------------- PRs

    async def bot_generate_pr(self) -> int:
        """Open the bot's generation PR on the app repo through the real pipeline."""
        profile = await pipeline.load_profile(self.forge, PLATFORM)
        proposals, _ = await pipeline.propose_generation(self.flow, profile)
        outcome = await pipeline.open_proposal(self.flow, proposals[0], Decision(), profile=profile)
        assert outcome.action == "opened"
        return outcome.change_request.number

    def human_pr(self, repo: str, head: str, *, author: str = WRITER, files: dict[str, str] | None = None,
                 body: str = "A human change") -> int:
        """A PR a person opened (the bot's forge interface cannot open one as someone else)."""
        self.admin.push(repo, head, files or {"NOTES.md": "notes\n"}, user=author)
        db = self.forge.db
        number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM prs WHERE repo=?", (repo,)).fetchone()[0]
        now = time.time()
        db.execute("INSERT INTO prs VALUES (?,?,?,?,?,?,?,?,NULL,NULL,?,?)",
                   (repo, number, "Human change", body, head, "main", "open", author, now, now))
        return number

    # -------------------------------------------------------------- comments

    async def comments(self, repo: str, number: int) -> list[str]:
        return [c.body for c in await self.forge.list_comments(repo, number)]

    async def github(self, body: str, *, repo: str = APP, number: int = 1, user: str = WRITER,
                     action: str = "created", user_type: str = "User") -> list[str]:
        """Deliver a GitHub issue_comment webhook through the lead's handler into handle_comment."""
        payload = github_comment(body, repo=repo, number=number, user=user, action=action, user_type=user_type)
        return await self.deliver("github", "issue_comment", payload)

    async def gitlab(self, body: str, *, repo: str = APP, number: int = 1, user: str = WRITER,
                     action: str = "create", source: str | None = None, bot: bool = False) -> list[str]:
        payload = gitlab_note(body, repo=repo, number=number, user=user, action=action, source=source, bot=bot)
        return await self.deliver("gitlab", "Note Hook", payload)

    async def deliver(self, forge_kind: str, event: str, payload: dict[str, Any]) -> list[str]:
        ev = normalize(forge_kind, event, payload)
        assert ev is not None
        before = {c.id for c in await self.forge.list_comments(ev.repo, ev.number)}
        await on_comment(HandlerContext(forge=self.forge, flow=self.flow, event=ev, delivery_id="test"))
        return [c.body for c in await self.forge.list_comments(ev.repo, ev.number) if c.id not in before]


def github_comment(body: str, *, repo: str, number: int, user: str, action: str = "created",
                   user_type: str = "User") -> dict[str, Any]:
    p = copy.deepcopy(json.loads((PAYLOADS / "github_issue_comment.json").read_text()))
    p["action"] = action
    p["issue"]["number"] = number
    p["comment"]["body"] = body
    p["comment"]["user"]["login"] = user
    p["comment"]["user"]["type"] = user_type
    p["sender"]["login"] = user
    p["repository"]["full_name"] = repo
    p["repository"]["name"] = repo.split("/")[1]
    return p


def gitlab_note(body: str, *, repo: str, number: int, user: str, action: str = "create",
                source: str | None = None, bot: bool = False) -> dict[str, Any]:
    p = copy.deepcopy(json.loads((PAYLOADS / "gitlab_note.json").read_text()))
    p["object_attributes"]["note"] = body
    p["object_attributes"]["action"] = action
    p["user"]["username"] = user
    if bot:
        p["user"]["bot"] = True
    p["project"]["path_with_namespace"] = repo
    p["merge_request"]["iid"] = number
    p["merge_request"]["source"]["path_with_namespace"] = source or repo
    p["merge_request"]["target"]["path_with_namespace"] = repo
    return p


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    forge = LocalForge(tmp_path / "forge")
    admin = LocalForgeAdmin(forge)
    admin.create_repo(APP, owner=ADMIN, protected=["main"],
                      files={"README.md": "# app\n", "app/main.py": "from fastapi import FastAPI\n"})
    admin.create_repo(PLATFORM, owner=ADMIN, protected=["main"],
                      files={"README.md": "# platform\n", PROFILE_PATH: profile_text()})
    for repo in (APP, PLATFORM):
        admin.grant(repo, WRITER, Permission.WRITE)
        admin.grant(repo, READER, Permission.READ)
    policy = StubPolicy()
    engines = Engines()
    install_engines(monkeypatch, engines)
    flow = pipeline.Flow(forge=forge, policy=policy, platform_repo=PLATFORM)
    yield World(forge=forge, admin=admin, policy=policy, engines=engines, flow=flow)
    forge.close()
