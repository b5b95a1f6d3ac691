package trustacks.packs.pci.sast

import rego.v1

import data.trustacks.lib.fixtures

test_sast_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_no_sast_denied if {
	count(deny) == 1 with input as fixtures.with_ci({"sast": []})
}
