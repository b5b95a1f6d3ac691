package trustacks.constitution.cite_rules

import rego.v1

import data.trustacks.lib.fixtures

fx_body := {"kind": "generate", "rule_ids": ["TS-SUPPLY-001"], "blast_radius": true, "rollback": true, "profile_refs": true}

fx_agent_pr := object.union(fixtures.human_pr, {"author": "trustacks[bot]", "author_is_agent": true})

test_cited_proposal_allowed if {
	count(deny) == 0 with input as fixtures.base with data.trustacks.effective.rule_ids as ["TS-SUPPLY-001"]
}

test_uncited_proposal_denied if {
	some v in deny with input as fixtures.with_proposal({"cites_rules": []})
	v.msg == "the proposal cites no rule"
}

test_unknown_citation_denied if {
	some v in deny with input as fixtures.with_proposal({"cites_rules": ["TS-MADE-UP-9"]}) with data.trustacks.effective.rule_ids as ["TS-SUPPLY-001"]
	contains(v.msg, "TS-MADE-UP-9")
}

test_agent_pr_body_without_rule_ids_denied if {
	inp := object.union(fixtures.base, {"pr": fx_agent_pr, "facts": {"pr_body": object.union(fx_body, {"rule_ids": []})}, "proposal": {"cites_rules": []}})
	some v in deny with input as inp
	contains(v.msg, "lists no rule IDs")
}

test_agent_pr_body_with_rule_ids_allowed if {
	inp := object.union(fixtures.base, {"pr": fx_agent_pr, "facts": {"pr_body": fx_body}, "proposal": {"cites_rules": []}})
	count(deny) == 0 with input as inp
}

test_human_pr_needs_no_citation if {
	count(deny) == 0 with input as fixtures.human
}
