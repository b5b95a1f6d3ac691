package trustacks.packs.pci.audit_logs

import rego.v1

import data.trustacks.lib.fixtures

test_logging_named_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_no_logging_denied if {
	count(deny) == 1 with input as fixtures.without_category("observability")
}
