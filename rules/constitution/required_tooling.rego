package trustacks.constitution.required_tooling

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-PROF-002",
	"title": "Required tooling categories are named by the Profile",
	"severity": "high",
	"description": "The constitution requires the Profile to name a tool for some categories (CI, registry, image scanning, SBOM/signing); packs and the overlay may add categories, never remove one. Generation from a Profile that leaves one empty is refused; Profile proposals and human PRs get a warning so onboarding can still be reviewed.",
	"remediation": "Name a tool for the category in `.trustacks/profile.yaml` (a `source: declared` entry if discovery did not find one) through a reviewed Profile PR.",
	"controls": ["constitution: environment profile rules"],
}

missing contains cat if {
	some cat in util.params.required_categories
	not util.category_named(cat)
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile == null
	msg := "there is no Environment Profile to generate from"
	because := ["generation reads every tool choice from the Profile"]
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	some cat in missing
	msg := sprintf("the Profile names no tool for required category %s", [cat])
	because := util.param_because("required_categories")
}

warn contains util.violation(metadata, msg, because) if {
	not util.generating
	input.profile != null
	some cat in missing
	msg := sprintf("the Profile names no tool for required category %s", [cat])
	because := util.param_because("required_categories")
}
