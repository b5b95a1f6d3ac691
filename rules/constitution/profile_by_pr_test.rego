package trustacks.constitution.profile_by_pr

import rego.v1

import data.trustacks.lib.fixtures

fx_profile_change := {"profile_changed": true, "profile_files": [".trustacks/profile.yaml"]}

fx_profile_proposal := object.union(fixtures.with_facts(fx_profile_change), {"proposal": {"kind": "profile", "files": [{"path": ".trustacks/profile.yaml", "action": "update"}]}})

test_generate_without_profile_change_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_profile_proposal_allowed if {
	count(deny) == 0 with input as fx_profile_proposal
}

test_generate_changing_profile_denied if {
	some v in deny with input as fixtures.with_facts(fx_profile_change)
	contains(v.msg, "a generate proposal changes the Profile")
}

test_profile_proposal_without_diff_denied if {
	some v in deny with input as object.union(fx_profile_proposal, {"proposal": {"has_details": false}})
	v.msg == "the Profile proposal carries no diff for reviewers"
}

test_profile_proposal_with_other_files_denied if {
	files := [{"path": ".trustacks/profile.yaml", "action": "update"}, {"path": "Dockerfile", "action": "create"}]
	some v in deny with input as object.union(fx_profile_proposal, {"proposal": {"files": files}})
	v.msg == "the Profile proposal also changes Dockerfile"
}

test_human_pr_may_edit_profile if {
	count(deny) == 0 with input as object.union(fixtures.human, {"facts": fx_profile_change})
}
