"""The constitution itself, evaluated on generation proposals: generated pipelines never trip a credential or
supply-chain rule, on any CI platform, for any framework."""

from __future__ import annotations

import pytest

from bot.models import FileChange, Proposal, ProposalKind
from bot.policy import PolicyEngine

from tests.generate.conftest import CI_PROFILES, Corpus

GUARDED = ("TS-CRED-", "TS-SUPPLY-")


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load(isolate=False)


def _proposal(case, target: str) -> Proposal:
    files = [g for g in case.result.files if g.target == target]
    repo = case.service.repo if target == "app" else case.profile.platform_repo
    return Proposal(
        kind=ProposalKind.GENERATE, repo=repo, base_branch="main", head_branch=f"trustacks/generate/{case.service.name}",
        title=f"TruStacks: generate for {case.service.name}", summary="Generated from the Profile.",
        files=[FileChange(path=g.path, new=g.content) for g in files],
        tool_choices=[c for g in files for c in g.tool_choices],
        blast_radius=[f"repo: {repo}", f"services: {case.service.name}"],
        rollback=["Revert this PR."],
    )


@pytest.mark.parametrize("profile_name", sorted(CI_PROFILES.values()))
def test_generated_files_pass_the_credential_and_supply_chain_rules(corpus: Corpus, engine: PolicyEngine,
                                                                     profile_name: str) -> None:
    denied = []
    cases = [c for (p, _), c in corpus.cases.items() if p == profile_name]
    assert len(cases) == 9
    for case in cases:
        for target in ("app", "platform"):
            decision = engine.evaluate(_proposal(case, target), case.profile, default_branch="main")
            denied += [(case.service.name, target, v.rule, v.msg) for v in decision.deny
                       if v.rule.startswith(GUARDED) or v.rule == "TS-POLICY-ERROR"]
    assert denied == []


def test_the_rules_do_fire_on_a_pipeline_with_a_static_key(corpus: Corpus, engine: PolicyEngine) -> None:
    """Guard against a vacuous pass: the same proposal with a stored cloud key is denied."""
    case = corpus.case("github-aws", "pay-api")
    proposal = _proposal(case, "app")
    workflow = next(f for f in proposal.files if f.path.endswith("trustacks-ci.yml"))
    workflow.new = workflow.new.replace(
        "role-to-assume: arn:aws:iam::123456789012:role/github-ci-push",
        "aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
        "          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}")
    decision = engine.evaluate(proposal, case.profile, default_branch="main")
    assert any(v.rule.startswith("TS-CRED-") for v in decision.deny)
