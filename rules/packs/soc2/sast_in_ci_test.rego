package trustacks.packs.soc2.sast_in_ci

import rego.v1

import data.trustacks.lib.fixtures

test_pipeline_with_sast_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_pipeline_without_sast_denied if {
	some v in deny with input as fixtures.with_ci({"sast": []})
	contains(v.msg, "runs no static analysis")
}
