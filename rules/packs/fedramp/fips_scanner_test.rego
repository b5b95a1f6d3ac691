package trustacks.packs.fedramp.fips_scanner

import rego.v1

import data.trustacks.lib.fixtures

test_fips_scanner_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_non_fips_scanner_denied if {
	entry := {"tool": "trivy", "source": "discovered", "settings": {}, "ref": "x"}
	inp := object.union(fixtures.base, {"profile": {"tooling": {"image_scanning": [entry]}}})
	some v in deny with input as inp
	contains(v.msg, "(trivy)")
}

test_no_scanner_denied if {
	count(deny) == 1 with input as fixtures.without_category("image_scanning")
}
