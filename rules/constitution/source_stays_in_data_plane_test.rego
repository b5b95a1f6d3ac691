package trustacks.constitution.source_stays_in_data_plane

import rego.v1

import data.trustacks.lib.fixtures

fx_upload := {"tool": "snyk-code", "at": ".github/workflows/build.yml:40"}

test_no_upload_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_upload_without_opt_in_denied if {
	some v in deny with input as fixtures.with_ci({"source_uploads": [fx_upload]})
	v.msg == ".github/workflows/build.yml:40 sends source code to snyk-code without an opt-in"
}

test_upload_with_opt_in_allowed if {
	entry := {"tool": "snyk-code", "source": "declared", "settings": {"source_egress": true}, "ref": "x"}
	inp := object.union(fixtures.with_ci({"source_uploads": [fx_upload]}), {"profile": {"tooling": {"sast_sca": [entry]}}})
	count(deny) == 0 with input as inp
}

test_opt_in_for_another_tool_does_not_count if {
	entry := {"tool": "semgrep", "source": "declared", "settings": {"source_egress": true}, "ref": "x"}
	inp := object.union(fixtures.with_ci({"source_uploads": [fx_upload]}), {"profile": {"tooling": {"sast_sca": [entry]}}})
	count(deny) == 1 with input as inp
}
