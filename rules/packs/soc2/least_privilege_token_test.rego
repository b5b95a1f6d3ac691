package trustacks.packs.soc2.least_privilege_token

import rego.v1

import data.trustacks.lib.fixtures

test_scoped_permissions_allowed if {
	count(deny) == 0 with input as fixtures.base
	count(warn) == 0 with input as fixtures.base
}

test_write_all_denied if {
	inp := fixtures.with_ci({"permissions": [{"scope": "workflow", "at": ".github/workflows/build.yml:5", "value": "write-all"}]})
	some v in deny with input as inp
	contains(v.msg, "write-all")
}

test_missing_permissions_warns if {
	count(warn) == 1 with input as fixtures.with_ci({"permissions": []})
}
