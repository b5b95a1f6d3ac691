package trustacks.packs.itil.change_record

import rego.v1

import data.trustacks.lib.fixtures

fx_params := {"change_ref_patterns": ["^CHG[0-9]{7}$"]}

test_change_record_allowed if {
	count(deny) == 0 with input as fixtures.base with data.trustacks.effective.params as fx_params
}

test_missing_change_record_denied if {
	some v in deny with input as fixtures.with_facts({"change_refs": []}) with data.trustacks.effective.params as fx_params
	contains(v.msg, "no change record reference")
}

test_reference_in_wrong_format_denied if {
	count(deny) == 1 with input as fixtures.with_facts({"change_refs": ["SHOP-12"]}) with data.trustacks.effective.params as fx_params
}
