package trustacks.packs.soc2.tested_changes

import rego.v1

import data.trustacks.lib.fixtures

test_tested_pipeline_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_untested_pipeline_denied if {
	some v in deny with input as fixtures.with_ci({"tests": []})
	contains(v.msg, "runs no tests")
}
