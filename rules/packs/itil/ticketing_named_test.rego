package trustacks.packs.itil.ticketing_named

import rego.v1

import data.trustacks.lib.fixtures

test_ticketing_named_allowed if {
	count(warn) == 0 with input as fixtures.base
}

test_no_ticketing_warns if {
	some v in warn with input as fixtures.without_category("ticketing")
	contains(v.msg, "no ticketing system")
}
