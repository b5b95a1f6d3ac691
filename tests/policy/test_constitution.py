"""A proposal that violates each constitution rule is refused with that rule's ID (one test per rule).

Every case goes through the real path: Proposal -> facts extracted from file contents -> Rego ->
Decision. Each violating proposal differs from the compliant one in one respect, and the test
checks that exactly the expected rule denies it.
"""

from __future__ import annotations

import pytest

from bot.models import ToolChoice

from .conftest import GOOD_WORKFLOW, make_profile, make_proposal

AWS_KEY = "AKIA" + "Q3EXAMPLEKEYZZZZ".replace("EXAMPLE", "ABCDEFG")[:16]


def _wf(old: str, new: str) -> dict[str, str]:
    assert old in GOOD_WORKFLOW
    return {".github/workflows/build.yml": GOOD_WORKFLOW.replace(old, new)}


def _denied(decision) -> set[str]:
    return {v.rule for v in decision.deny}


def test_compliant_proposal_passes_every_layer(engine_all, profile):
    decision = engine_all.evaluate(make_proposal(), profile)
    assert decision.deny == [] and decision.warn == [], [*decision.deny, *decision.warn]
    assert decision.verdict == "pass"
    assert set(decision.required_tooling) >= {"ci", "registry", "image_scanning", "sbom_signing"}
    assert "constitution" in decision.bundle_revisions


CASES = {
    "TS-PROC-001": dict(files=_wf("      - uses: actions/attest-build-provenance@v1",
                                  "      - run: gh pr merge --auto --squash \"$PR\"\n      - uses: actions/attest-build-provenance@v1")),
    "TS-PROC-003": dict(head_branch="feature/ci"),
    "TS-CRED-001": dict(files={".github/workflows/build.yml": GOOD_WORKFLOW, "deploy/app.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n"}),
    "TS-CRED-002": dict(files=_wf("          role-to-assume: arn:aws:iam::123456789012:role/ci",
                                  "          aws-access-key-id: ${{ secrets.AWS_KEY_ID }}\n"
                                  "          aws-secret-access-key: ${{ secrets.AWS_SECRET }}")),
    "TS-CRED-003": dict(files={".github/workflows/build.yml": GOOD_WORKFLOW, "ops/kubeconfig.yaml": (
        "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n  - name: admin\n    user:\n      client-key-data: LS0tLS1CRUdJTg==\n")}),
    "TS-SUPPLY-001": dict(files=_wf("      - uses: anchore/sbom-action@v0\n", "")),
    "TS-SUPPLY-002": dict(files=_wf("      - run: cosign sign --yes", "      - run: echo skip sign")),
    "TS-SUPPLY-003": dict(files=_wf("      - uses: actions/attest-build-provenance@v1", "      - uses: actions/upload-artifact@v4")),
    "TS-SUPPLY-004": dict(files=_wf('          exit-code: "1"\n', "")),
    "TS-CITE-001": dict(citations=[]),
    "TS-CITE-002": dict(rollback=[]),
    "TS-CITE-003": dict(tool_choices=[]),
    "TS-DATA-001": dict(files=_wf("      - run: pytest -q", "      - run: pytest -q\n      - run: snyk code test")),
    "TS-PROF-001": dict(files={".github/workflows/build.yml": GOOD_WORKFLOW,
                               ".trustacks/profile.yaml": make_profile().dumps()}),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_violating_proposal_is_refused_with_the_rule_id(engine, profile, rule_id):
    decision = engine.evaluate(make_proposal(**CASES[rule_id]), profile)
    assert not decision.allowed
    assert _denied(decision) == {rule_id}, decision.deny


def test_ts_prof_002_required_category_left_empty(engine):
    decision = engine.evaluate(make_proposal(), make_profile(image_scanning=False))
    assert _denied(decision) == {"TS-PROF-002"}
    assert any("image_scanning" in v.msg for v in decision.deny)


def test_ts_proc_001_human_pr_without_approval(engine, profile):
    pr = {"number": 9, "author": "alice", "base": "main", "head": "feature/x", "approvals": [], "body": ""}
    decision = engine.evaluate(make_proposal(), profile, pr=pr)
    assert _denied(decision) == {"TS-PROC-001"}
    pr["approvals"] = ["bob"]
    assert engine.evaluate(make_proposal(), profile, pr=pr).allowed


def test_ts_proc_002_self_and_bot_approvals(engine, profile):
    pr = {"number": 9, "author": "alice", "base": "main", "head": "feature/x",
          "approvals": ["bob", "alice", {"login": "trustacks[bot]", "type": "Bot"}]}
    decision = engine.evaluate(make_proposal(), profile, pr=pr)
    assert _denied(decision) == {"TS-PROC-002"}
    assert {v.msg for v in decision.deny} == {"alice approved their own PR #9",
                                               "agent trustacks[bot] approved PR #9: agents never approve"}


def test_secret_value_never_appears_in_the_decision(engine, profile):
    decision = engine.evaluate(make_proposal(**CASES["TS-CRED-001"]), profile)
    text = repr(decision)
    assert AWS_KEY not in text and AWS_KEY[4:] not in text
    assert "deploy/app.env:1" in text and "AKIA****" in text


def test_profile_refs_must_resolve(engine, profile):
    bad = [ToolChoice("registry", "quay", ".trustacks/profile.yaml#tooling.registry[0]", "x")]
    decision = engine.evaluate(make_proposal(tool_choices=bad), profile)
    assert _denied(decision) == {"TS-CITE-003"}
    assert "registry[0]" in decision.deny[0].msg


def test_profile_proposal_with_gaps_warns_but_opens(engine):
    from bot.models import FileChange, ProposalKind

    new = make_profile(sbom_signing=False)
    proposal = make_proposal(
        kind=ProposalKind.PROFILE, files={}, head_branch="trustacks/profile/acme-platform", repo="acme/platform",
        tool_choices=[ToolChoice("ci", "github-actions", ".trustacks/profile.yaml#tooling.ci[0]", ".trustacks/profile.yaml")],
        details="| category | tool |", citations=["TS-PROF-001"])
    proposal.files = [FileChange(".trustacks/profile.yaml", new.dumps())]
    decision = engine.evaluate(proposal, None)
    assert decision.allowed, decision.deny
    assert {v.rule for v in decision.warn} == {"TS-PROF-002"}
