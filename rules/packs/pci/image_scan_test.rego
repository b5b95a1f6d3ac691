package trustacks.packs.pci.image_scan

import rego.v1

import data.trustacks.lib.fixtures

test_image_scanned_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_only_fs_scan_denied if {
	fs := object.union(fixtures.ci_file.vuln_scans[0], {"target": "fs"})
	some v in deny with input as fixtures.with_ci({"vuln_scans": [fs]})
	contains(v.msg, "no step scans")
}
