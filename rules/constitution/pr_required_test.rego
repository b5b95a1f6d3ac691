package trustacks.constitution.pr_required

import rego.v1

import data.trustacks.lib.fixtures

test_compliant_proposal_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_head_equal_to_base_denied if {
	some v in deny with input as fixtures.with_proposal({"head_branch": "main"})
	v.rule == "TS-PROC-001"
	contains(v.msg, "without a pull request")
}

test_auto_merge_denied if {
	some v in deny with input as fixtures.with_facts({"auto_merge": [{"at": ".github/workflows/ci.yml:40", "how": "gh pr merge --auto"}]})
	contains(v.msg, "gh pr merge --auto")
}

test_human_pr_with_approval_allowed if {
	count(deny) == 0 with input as fixtures.human
}

test_human_pr_without_approval_denied if {
	inp := object.union(fixtures.human, {"pr": {"approvals": []}})
	some v in deny with input as inp
	contains(v.msg, "0 human approval(s)")
}

test_self_and_bot_approvals_do_not_count if {
	approvals := [{"user": "alice", "is_agent": false}, {"user": "trustacks[bot]", "is_agent": false}, {"user": "ci", "is_agent": true}]
	inp := object.union(fixtures.human, {"pr": {"approvals": approvals}})
	count(deny) == 1 with input as inp
}

test_unprotected_base_needs_no_approval if {
	inp := object.union(fixtures.human, {"pr": {"base": "sandbox", "approvals": []}})
	count(deny) == 0 with input as inp
}

test_min_approvals_parameter_tightens if {
	count(deny) == 1 with input as fixtures.human with data.trustacks.effective.params.min_approvals as 2
}
