package trustacks.constitution.provenance_required

import rego.v1

import data.trustacks.lib.fixtures

test_attested_pipeline_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_push_without_provenance_denied if {
	some v in deny with input as fixtures.with_ci({"provenance": []})
	contains(v.msg, "without a provenance attestation")
}

test_every_pushing_file_is_checked if {
	other := object.union(fixtures.ci_file, {"path": ".github/workflows/release.yml", "provenance": []})
	inp := object.union(fixtures.base, {"facts": {"ci": [fixtures.ci_file, other]}})
	count(deny) == 1 with input as inp
}
