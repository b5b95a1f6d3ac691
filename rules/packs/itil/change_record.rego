package trustacks.packs.itil.change_record

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "ITIL-CHG-001",
	"title": "Every change references a change record",
	"severity": "medium",
	"description": "ITIL change enablement: every pull request (the bot's and humans') names its change record, e.g. a ServiceNow `CHG0012345` or a Jira key, in its title or body. Accepted formats come from `change_ref_patterns`.",
	"remediation": "Open or find the change record and put its ID in the PR title or body (for the bot: `/trustacks generate` from an issue or comment that names it).",
	"controls": ["ITIL 4 change enablement"],
}

deny contains util.violation(metadata, msg, because) if {
	not referenced
	patterns := object.get(util.params, "change_ref_patterns", [])
	msg := sprintf("no change record reference (formats: %s)", [concat(", ", patterns)])
	because := ["ITIL: every change is traceable to an approved change record"]
}

referenced if {
	some ref in input.facts.change_refs
	some pattern in util.params.change_ref_patterns
	regex.match(pattern, ref)
}
