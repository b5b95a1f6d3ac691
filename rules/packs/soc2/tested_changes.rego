package trustacks.packs.soc2.tested_changes

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "SOC2-CC8.1-001",
	"title": "Changes are tested before they are released",
	"severity": "medium",
	"description": "CC8.1 (change management): a pipeline that builds code also runs its tests, so every change is tested before release; approvals are enforced by TS-PROC-001.",
	"remediation": "Add the project's test command (pytest, go test, mvn verify, npm test, dotnet test) to the pipeline before the image is pushed.",
	"controls": ["SOC2 CC8.1"],
}

deny contains util.violation(metadata, msg, because) if {
	some f in util.building_ci
	count(f.tests) == 0
	msg := sprintf("%s builds but runs no tests", [f.path])
	because := ["SOC2 CC8.1: changes are tested before release"]
}
