package trustacks.constitution.profile_refs

import rego.v1

import data.trustacks.lib.fixtures

test_cited_profile_entries_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_generation_without_profile_refs_denied if {
	some v in deny with input as fixtures.with_proposal({"profile_refs": []})
	contains(v.msg, "cites no Profile entry")
}

test_unresolved_ref_denied if {
	some v in deny with input as fixtures.with_facts({"profile_refs_unresolved": [".trustacks/profile.yaml#tooling.registry[4]"]})
	contains(v.msg, "registry[4]")
}

test_profile_proposal_needs_no_refs if {
	count(deny) == 0 with input as fixtures.with_proposal({"kind": "profile", "profile_refs": []})
}
