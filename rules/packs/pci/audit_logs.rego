package trustacks.packs.pci.audit_logs

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "PCI-10.2-001",
	"title": "Audit logs are collected for deployed systems",
	"severity": "high",
	"description": "PCI DSS 10.2: audit logs capture activity on system components; generation needs the Profile to name the logging/observability tool that collects them.",
	"remediation": "Name the logging tool (Splunk, Datadog, ...) in the Profile.",
	"controls": ["PCI DSS 10.2", "PCI DSS 10.4"],
	"requires": [{"category": "observability", "tools": [], "purpose": "audit log collection"}],
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	not util.category_named("observability")
	msg := "the Profile names no tool that collects audit logs"
	because := ["PCI DSS 10.2"]
}
