"""PR bodies: sections, cited rules with titles and layers, Profile refs, the identity marker."""

from __future__ import annotations

from bot.citations import HEADINGS, render_pr_body
from bot.models import Decision, MergeNote, Violation
from bot.policy.facts import build_input
from bot.pr_identity import parse_marker

from .conftest import make_proposal


def test_body_has_every_section_in_order(engine, profile):
    proposal = make_proposal(input_hash="0123456789abcdef0123456789abcdef",
                             merge_notes=[MergeNote(".github/workflows/build.yml", "jobs.build.env.A", "kept your value"),
                                          MergeNote("Dockerfile", "", "both changed FROM", conflict=True)])
    decision = engine.evaluate(proposal, profile)
    body = render_pr_body(proposal, decision, engine=engine, profile=profile)
    order = [body.index(h) for h in (HEADINGS["proposal"], HEADINGS["policy"], HEADINGS["blast_radius"],
                                     HEADINGS["rollback"], HEADINGS["why_tools"], HEADINGS["merge_notes"])]
    assert order == sorted(order) and body.startswith(proposal.summary)
    assert "**Verdict: pass.**" in body
    assert "| `TS-SUPPLY-001` | Released artifacts have an SBOM | constitution | cited, satisfied |" in body
    assert "| ci | GitHub Actions | `.trustacks/profile.yaml#tooling.ci[0]` | discovered (acme/shop:.github/workflows/build.yml:1) |" in body
    assert "1. Revert this PR." in body and "- repo: acme/shop" in body
    assert "⚠️ conflict `Dockerfile`: both changed FROM" in body
    ident = parse_marker(body)
    assert ident is not None and (ident.kind, ident.target, ident.input_hash) == ("generate", "acme/shop", "0123456789abcdef0123456789abcdef")
    assert body.rstrip().endswith("-->")


def test_denials_and_warnings_are_cited_with_layer_and_because(engine_all, profile):
    decision = Decision(
        deny=[Violation("SOC2-CC6.6-001", "packs/soc2", "high", "k8s/i.yaml:2: Ingress shop | has no tls", ("SOC2 CC6.6",))],
        warn=[Violation("TS-CRED-002", "constitution", "high", "OIDC without id-token", ())],
        bundle_revisions={"constitution": "sha256:abc"}, rules_evaluated=["a", "b"])
    body = render_pr_body(make_proposal(citations=[]), decision, engine=engine_all, profile=profile)
    assert "**Verdict: denied.**" in body
    assert "| `SOC2-CC6.6-001` | Ingress terminates TLS | pack soc2 | denied: k8s/i.yaml:2: Ingress shop \\| has no tls |" in body
    assert "- ❌ `SOC2-CC6.6-001` (high): k8s/i.yaml:2: Ingress shop | has no tls\n  - because: SOC2 CC6.6" in body
    assert "- ⚠️ `TS-CRED-002` (high)" in body
    assert "Evaluated 2 rules; bundle revisions: constitution `sha256:abc`." in body


def test_body_round_trips_through_the_pr_body_facts(engine, profile):
    proposal = make_proposal()
    body = render_pr_body(proposal, engine.evaluate(proposal, profile), engine=engine, profile=profile)
    pr = {"number": 5, "author": "trustacks[bot]", "base": "main", "head": proposal.head_branch, "body": body,
          "approvals": ["bob"]}
    facts = build_input(proposal, profile, pr=pr)["facts"]["pr_body"]
    assert facts == {"kind": "generate", "rule_ids": ["TS-SUPPLY-001", "TS-SUPPLY-004"], "blast_radius": True,
                     "rollback": True, "profile_refs": True}
    assert engine.evaluate(proposal, profile, pr=pr).allowed
    edited = body.replace(HEADINGS["rollback"], "## Notes")
    d = engine.evaluate(proposal, profile, pr=pr | {"body": edited})
    assert [v.rule for v in d.deny] == ["TS-CITE-002"]


def test_without_engine_or_profile_and_without_tools(profile):
    body = render_pr_body(make_proposal(tool_choices=[], blast_radius=[]), Decision(), engine=None, profile=None)
    assert "_This change makes no tool choice._" in body
    assert f"{HEADINGS['blast_radius']}\n_None._" in body
    assert "(unknown rule)" in body  # cited but not describable without an engine
    assert parse_marker(body) is not None  # a hash is derived when the proposal has none


def test_no_double_blank_lines(engine, profile):
    proposal = make_proposal()
    body = render_pr_body(proposal, engine.evaluate(proposal, profile), engine=engine, profile=profile)
    assert "\n\n\n" not in body
