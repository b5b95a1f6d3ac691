package trustacks.constitution.blast_radius_rollback

import rego.v1

import data.trustacks.lib.fixtures

fx_agent_pr := object.union(fixtures.human_pr, {"author": "trustacks[bot]", "author_is_agent": true})

test_complete_proposal_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_missing_blast_radius_denied if {
	some v in deny with input as fixtures.with_proposal({"blast_radius": []})
	v.msg == "the proposal has no blast radius"
}

test_missing_rollback_denied if {
	some v in deny with input as fixtures.with_proposal({"rollback": []})
	v.msg == "the proposal has no rollback"
}

test_agent_pr_body_without_rollback_denied if {
	body := {"kind": "generate", "rule_ids": ["TS-SUPPLY-001"], "blast_radius": true, "rollback": false, "profile_refs": true}
	inp := object.union(fixtures.base, {"pr": fx_agent_pr, "facts": {"pr_body": body}})
	some v in deny with input as inp
	contains(v.msg, "has no rollback section")
}

test_human_pr_needs_no_rollback_section if {
	count(deny) == 0 with input as fixtures.human
}
