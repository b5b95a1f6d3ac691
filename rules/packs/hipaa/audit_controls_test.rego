package trustacks.packs.hipaa.audit_controls

import rego.v1

import data.trustacks.lib.fixtures

test_observability_named_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_no_observability_denied if {
	count(deny) == 1 with input as fixtures.without_category("observability")
}

test_profile_proposal_not_blocked if {
	inp := object.union(fixtures.without_category("observability"), {"proposal": {"kind": "profile"}})
	count(deny) == 0 with input as inp
}
