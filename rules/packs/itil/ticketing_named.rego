package trustacks.packs.itil.ticketing_named

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "ITIL-CHG-002",
	"title": "The Profile names the change-management system",
	"severity": "low",
	"description": "ITIL change enablement: generated changes are linked to the ticketing system where change records live, so the Profile names it (Jira, ServiceNow, Linear, Azure Boards).",
	"remediation": "Declare the ticketing tool in the Profile.",
	"controls": ["ITIL 4 change enablement"],
	"requires": [{"category": "ticketing", "tools": ["servicenow", "jira", "linear", "azure-boards"], "purpose": "change records"}],
}

warn contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	not util.category_named("ticketing")
	msg := "the Profile names no ticketing system for change records"
	because := ["ITIL: change records live in the ticketing system"]
}
