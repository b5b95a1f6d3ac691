"""An org on the local forge (real bare repos, real pipeline), the real policy engine, a real job store.

The platform repo starts empty; the application repo is a copy of `fixtures/apps/payments-fastapi`,
so discovery through a dashboard tick runs the real engines. Proposals for the dashboard's lists are
opened through the real `bot.pipeline.open_proposal`, with decisions built in the test so each test
picks the verdict it needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot import pipeline
from bot.forges.local import LocalForge, LocalForgeAdmin
from bot.handlers.events import normalize
from bot.handlers.flows import HandlerContext
from bot.models import Decision, FileChange, Permission, Proposal, ProposalKind, Violation
from bot.policy import PolicyEngine, available_packs
from bot.pr_identity import input_hash
from bot.profile import PROFILE_PATH, Profile

ROOT = Path(__file__).resolve().parents[2]
APP_FIXTURE = ROOT / "fixtures" / "apps" / "payments-fastapi"
PLATFORM = "acme/platform"
APP = "acme/payments"
ADMIN = "demo-admin"
WRITER = "alice"
READER = "rita"


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    return PolicyEngine.load(packs=available_packs(), isolate=False)


def app_files() -> dict[str, str]:
    files = {}
    for path in sorted(APP_FIXTURE.rglob("*")):
        if path.is_file():
            files[str(path.relative_to(APP_FIXTURE))] = path.read_text(encoding="utf-8")
    return files


TOOLS = {
    "ci": [{"tool": "github-actions", "source": "discovered", "evidence": [f"{APP}:.github/workflows/ci.yml:1"]}],
    "registry": [{"tool": "ecr", "source": "declared", "settings": {"host": "123456789012.dkr.ecr.us-east-1.amazonaws.com"}}],
    "image_scanning": [{"tool": "trivy", "source": "discovered", "settings": {"fips": True}}],
    "sast_sca": [{"tool": "semgrep", "source": "discovered"}],
    "secret_scanning": [{"tool": "gitleaks", "source": "discovered"}],
    "sbom_signing": [{"tool": "syft", "source": "discovered"}, {"tool": "cosign", "source": "declared"}],
    "gitops": [{"tool": "argocd", "source": "discovered"}],
    "mesh_ingress": [{"tool": "nginx", "source": "discovered"}],
    "secrets_management": [{"tool": "vault", "source": "declared"}],
    "observability": [{"tool": "prometheus", "source": "discovered"}],
    "ticketing": [{"tool": "jira", "source": "declared"}],
    "compliance_evidence": [{"tool": "vanta", "source": "declared"}],
}


def complete_profile(**drop: bool) -> Profile:
    """A Profile with no gaps (every category named, as the policy tests' one), minus `category=False`."""
    profile = Profile.new(PLATFORM)
    for category, entries in TOOLS.items():
        if drop.get(category, True):
            profile.set_tools(category, entries)
    profile.set_services([{"name": "payments", "repo": APP, "path": ".", "language": "python",
                           "framework": "fastapi", "port": 8000}])
    return profile


class Org:
    def __init__(self, tmp: Path, engine: PolicyEngine, *, dry_run: bool = False) -> None:
        self.forge = LocalForge(tmp / "forge", dry_run=dry_run)
        self.admin = LocalForgeAdmin(self.forge)
        self.engine = engine
        self.admin.create_repo(PLATFORM, files={"README.md": "# platform\n"}, owner=ADMIN)
        self.admin.create_repo(APP, files=app_files(), owner=ADMIN)
        for repo in (PLATFORM, APP):
            self.admin.grant(repo, WRITER, Permission.WRITE)
            self.admin.grant(repo, READER, Permission.READ)
        self.flow = pipeline.Flow(forge=self.forge, policy=engine, platform_repo=PLATFORM)

    def merge_profile(self, profile: Profile | None = None) -> None:
        text = (profile or complete_profile()).dumps()
        self.admin.push(PLATFORM, "main", {PROFILE_PATH: text}, user=ADMIN, message="profile")

    def issues(self) -> list[Any]:
        rows = self.forge.db.execute("SELECT number FROM issues WHERE repo=? ORDER BY number", (PLATFORM,))
        return [self.forge.get_issue(PLATFORM, r[0]) for r in rows]

    async def open(self, repo: str, *, title: str, decision: Decision | None = None, kind: ProposalKind = ProposalKind.GENERATE,
                   path: str = "Dockerfile", content: str = "FROM python:3.12-slim\nUSER 10001\n") -> pipeline.Outcome:
        """A proposal through the real pipeline (branch, commit, PR with a citations body)."""
        head = pipeline.generate_branch(repo) if kind is ProposalKind.GENERATE else pipeline.profile_branch(repo)
        proposal = Proposal(kind=kind, repo=repo, base_branch="main", head_branch=head, title=title,
                            summary="test proposal", files=[FileChange(path, content, None)],
                            blast_radius=[f"repo: {repo}"], rollback=["revert"])
        proposal.input_hash = input_hash(kind.value, repo, content)
        decision = decision or Decision()
        return await pipeline.open_proposal(self.flow, proposal, decision, profile=None)


def violation(rule: str, msg: str = "not allowed", layer: str = "constitution", severity: str = "high") -> Violation:
    return Violation(rule=rule, layer=layer, severity=severity, msg=msg)


@pytest.fixture
def org(tmp_path: Path, engine: PolicyEngine) -> Org:
    o = Org(tmp_path, engine)
    yield o
    o.forge.close()


def edit_payload(issue: Any, *, old: str, new: str, sender: str, sender_type: str = "User") -> dict[str, Any]:
    """A GitHub `issues` edited webhook payload for an edit of the dashboard body."""
    return {
        "action": "edited",
        "changes": {"body": {"from": old}},
        "issue": {"number": issue.number, "title": issue.title, "body": new, "user": {"login": issue.author}},
        "repository": {"full_name": issue.repo, "default_branch": "main"},
        "sender": {"login": sender, "type": sender_type},
        "installation": {"id": 1},
    }


def tick(body: str, action: str) -> str:
    marker = f"<!-- trustacks:action={action} -->"
    assert f"- [ ] {marker}" in body, f"no unticked box for {action}"
    return body.replace(f"- [ ] {marker}", f"- [x] {marker}", 1)


def handler_context(org: Org, payload: dict[str, Any]) -> HandlerContext:
    event = normalize("github", "issues", payload)
    assert event is not None
    return HandlerContext(forge=org.forge, flow=org.flow, event=event, delivery_id="d-1")


def job_payload(repo: str) -> bytes:
    return json.dumps({"action": "opened", "repository": {"full_name": repo, "default_branch": "main"},
                       "pull_request": {"number": 1, "head": {"ref": "x", "sha": "a" * 40}, "base": {"ref": "main"},
                                        "user": {"login": "bob"}, "body": ""},
                       "sender": {"login": "bob"}, "installation": {"id": 1}}).encode()


async def dead_job(store: Any, repo: str, delivery: str, error: str = "boom: forge said 502") -> int:
    """Enqueue a delivery for `repo`, lease it and dead-letter it; returns the job id."""
    from bot.store import Delivery

    await store.enqueue(Delivery("github", delivery, "pull_request", job_payload(repo)))
    jobs = await store.lease("w1", 10)
    job = next(j for j in jobs if j.delivery_id == delivery)
    assert await store.dead(job, error)
    return job.id


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    from bot.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'queue.db'}")
    await s.open()
    yield s
    await s.close()


