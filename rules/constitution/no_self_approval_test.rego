package trustacks.constitution.no_self_approval

import rego.v1

import data.trustacks.lib.fixtures

test_other_human_approval_allowed if {
	count(deny) == 0 with input as fixtures.human
}

test_proposal_without_pr_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_author_approval_denied if {
	inp := object.union(fixtures.human, {"pr": {"approvals": [{"user": "alice", "is_agent": false}]}})
	some v in deny with input as inp
	v.msg == "alice approved their own PR #7"
}

test_bot_approval_denied if {
	inp := object.union(fixtures.human, {"pr": {"approvals": [{"user": "trustacks[bot]", "is_agent": false}]}})
	some v in deny with input as inp
	contains(v.msg, "agent trustacks[bot] approved")
}

test_agent_approving_agent_pr_denied if {
	pr := object.union(fixtures.human_pr, {"author": "trustacks[bot]", "author_is_agent": true, "approvals": [{"user": "renovate[bot]", "is_agent": true}]})
	count(deny) == 1 with input as object.union(fixtures.base, {"pr": pr})
}
