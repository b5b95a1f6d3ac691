package trustacks.constitution.agent_branches

import rego.v1

import data.trustacks.lib.fixtures

test_trustacks_branch_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_human_feature_branch_allowed if {
	count(deny) == 0 with input as fixtures.human
}

test_agent_on_default_branch_denied if {
	some v in deny with input as fixtures.with_proposal({"head_branch": "main"})
	v.msg == "agent change would write to protected branch main"
}

test_agent_on_protected_release_branch_denied if {
	ds := deny with input as fixtures.with_proposal({"head_branch": "release"})
	count(ds) == 2
}

test_agent_outside_prefix_denied if {
	some v in deny with input as fixtures.with_proposal({"head_branch": "feature/x"})
	contains(v.msg, "outside trustacks/")
}
