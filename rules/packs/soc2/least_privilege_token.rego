package trustacks.packs.soc2.least_privilege_token

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "SOC2-CC6.1-002",
	"title": "CI tokens get least privilege",
	"severity": "medium",
	"description": "CC6.1 (least privilege): GitHub Actions workflows declare `permissions:` and never grant `write-all`; without a block the token gets the repository's default, often write access to everything.",
	"remediation": "Add a top-level `permissions:` block with only what the jobs need (e.g. `contents: read`, `packages: write`, `id-token: write`).",
	"controls": ["SOC2 CC6.1"],
}

deny contains util.violation(metadata, msg, because) if {
	some f in input.facts.ci
	some p in f.permissions
	p.value == "write-all"
	msg := sprintf("%s grants write-all to the %s token", [p.at, p.scope])
	because := ["SOC2 CC6.1: least privilege"]
}

warn contains util.violation(metadata, msg, because) if {
	some f in input.facts.ci
	f.system == "github-actions"
	count(f.permissions) == 0
	msg := sprintf("%s declares no permissions: block; the token gets the repository default", [f.path])
	because := ["SOC2 CC6.1: least privilege"]
}
