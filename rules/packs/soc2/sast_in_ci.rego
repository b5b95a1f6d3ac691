package trustacks.packs.soc2.sast_in_ci

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "SOC2-CC7.1-001",
	"title": "Builds run static analysis",
	"severity": "medium",
	"description": "CC7.1 (vulnerability detection): a pipeline that builds code runs the SAST/SCA tool the Profile names (Semgrep, CodeQL, SonarQube, Snyk Code, Checkmarx).",
	"remediation": "Add the Profile's SAST step to the pipeline (e.g. `semgrep ci`, github/codeql-action).",
	"controls": ["SOC2 CC7.1"],
	"requires": [{"category": "sast_sca", "tools": [], "purpose": "static analysis in CI"}],
}

deny contains util.violation(metadata, msg, because) if {
	some f in util.building_ci
	count(f.sast) == 0
	msg := sprintf("%s builds code but runs no static analysis", [f.path])
	because := ["SOC2 CC7.1: detect vulnerabilities in changes"]
}
