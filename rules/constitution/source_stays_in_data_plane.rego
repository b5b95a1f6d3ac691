package trustacks.constitution.source_stays_in_data_plane

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-DATA-001",
	"title": "Source code never leaves the data plane without an explicit opt-in",
	"severity": "high",
	"description": "A CI step that uploads source code to a third-party service (Snyk Code, SonarCloud, Semgrep Cloud, Checkmarx, Veracode) needs an explicit opt-in: the Profile entry for that tool sets `settings.source_egress: true`, reviewed like every Profile change.",
	"remediation": "Use a self-hosted scanner, or opt in by setting `source_egress: true` on the tool's Profile entry in a reviewed Profile PR.",
	"controls": ["constitution: data residency rules"],
}

deny contains util.violation(metadata, msg, because) if {
	some f in input.facts.ci
	some u in f.source_uploads
	not opted_in(u.tool)
	msg := sprintf("%s sends source code to %s without an opt-in", [u.at, u.tool])
	because := ["source never leaves the data plane unless the Profile opts in (settings.source_egress: true)"]
}

opted_in(tool) if {
	some entries in input.profile.tooling
	some e in entries
	e.tool == tool
	e.settings.source_egress == true
}
