package trustacks.constitution.signed_artifacts

import rego.v1

import data.trustacks.lib.fixtures

test_signed_pipeline_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_unsigned_push_denied if {
	some v in deny with input as fixtures.with_ci({"signs": []})
	contains(v.msg, "never signs it")
}

test_no_push_no_signature_needed if {
	count(deny) == 0 with input as fixtures.with_ci({"signs": [], "pushes": []})
}
