package trustacks.packs.pci.sast

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "PCI-6.2.4-001",
	"title": "Custom software is checked for common attacks before release",
	"severity": "high",
	"description": "PCI DSS 6.2.4: bespoke software is built with techniques that prevent common attacks; a pipeline that builds code runs static analysis.",
	"remediation": "Add the Profile's SAST step (Semgrep, CodeQL, SonarQube, Checkmarx) to the build pipeline.",
	"controls": ["PCI DSS 6.2.4", "PCI DSS 6.3.2"],
	"requires": [{"category": "sast_sca", "tools": [], "purpose": "static analysis"}],
}

deny contains util.violation(metadata, msg, because) if {
	some f in util.building_ci
	count(f.sast) == 0
	msg := sprintf("%s builds code without static analysis", [f.path])
	because := ["PCI DSS 6.2.4"]
}
