package trustacks.packs.fedramp.fips_scanner

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "FEDRAMP-RA5-001",
	"title": "The image scanner runs in a FIPS-validated mode",
	"severity": "high",
	"description": "RA-5 (vulnerability monitoring) with SC-13: the image scanner named in the Profile is declared FIPS-capable (`settings.fips: true` on its Profile entry, reviewed like any Profile change).",
	"remediation": "Use a scanner with a FIPS-validated build (e.g. Anchore Enterprise, Aqua, Prisma in FIPS mode) and declare `fips: true` on its Profile entry.",
	"controls": ["FedRAMP RA-5", "FedRAMP SC-13"],
	"requires": [{"category": "image_scanning", "tools": [], "purpose": "FIPS-validated vulnerability scanning"}],
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	not fips_scanner
	tools := [e.tool | some e in input.profile.tooling.image_scanning]
	msg := sprintf("no image scanner in the Profile is declared FIPS-validated (%s)", [concat(", ", tools)])
	because := ["FedRAMP RA-5 with SC-13"]
}

fips_scanner if {
	some e in input.profile.tooling.image_scanning
	e.settings.fips == true
}
