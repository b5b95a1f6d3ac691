package trustacks.packs.hipaa.audit_controls

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "HIPAA-164.312b-001",
	"title": "Audit logging is in place for what is deployed",
	"severity": "high",
	"description": "164.312(b) audit controls: generation for ePHI systems needs the Profile to name an observability tool that records and examines activity (logs, traces).",
	"remediation": "Name the logging/observability tool (Datadog, Splunk, Prometheus+Grafana...) in the Profile.",
	"controls": ["HIPAA 164.312(b)"],
	"requires": [{"category": "observability", "tools": [], "purpose": "audit logging"}],
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	not util.category_named("observability")
	msg := "the Profile names no observability tool to record audit logs"
	because := ["HIPAA 164.312(b): audit controls"]
}
