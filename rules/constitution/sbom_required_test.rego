package trustacks.constitution.sbom_required

import rego.v1

import data.trustacks.lib.fixtures

test_pipeline_with_sbom_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_push_without_sbom_denied if {
	some v in deny with input as fixtures.with_ci({"sbom": []})
	contains(v.msg, "generates no SBOM")
}

test_pipeline_that_does_not_push_needs_no_sbom if {
	count(deny) == 0 with input as fixtures.with_ci({"sbom": [], "pushes": []})
}
