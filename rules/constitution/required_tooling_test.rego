package trustacks.constitution.required_tooling

import rego.v1

import data.trustacks.lib.fixtures

fx_required := {"required_categories": ["ci", "registry", "image_scanning", "sbom_signing"]}

test_complete_profile_allowed if {
	count(deny) == 0 with input as fixtures.base with data.trustacks.effective.params as fx_required
}

test_generation_with_missing_category_denied if {
	some v in deny with input as fixtures.without_category("image_scanning") with data.trustacks.effective.params as fx_required
	v.msg == "the Profile names no tool for required category image_scanning"
}

test_generation_without_profile_denied if {
	some v in deny with input as object.union(fixtures.base, {"profile": null}) with data.trustacks.effective.params as fx_required
	v.msg == "there is no Environment Profile to generate from"
}

test_profile_proposal_only_warns if {
	inp := object.union(fixtures.without_category("registry"), {"proposal": {"kind": "profile"}})
	count(deny) == 0 with input as inp with data.trustacks.effective.params as fx_required
	count(warn) == 1 with input as inp with data.trustacks.effective.params as fx_required
}

test_overlay_added_category_enforced if {
	more := {"required_categories": ["ci", "compliance_evidence"]}
	count(deny) == 1 with input as fixtures.base with data.trustacks.effective.params as more
}
