package trustacks.packs.soc2.monitoring

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "SOC2-CC7.2-001",
	"title": "Deployed services are monitored",
	"severity": "medium",
	"description": "CC7.2 (monitoring): generation needs an observability tool in the Profile, and workloads declare liveness and readiness probes so failures are detected.",
	"remediation": "Name the observability tool in the Profile; add livenessProbe and readinessProbe to each container.",
	"controls": ["SOC2 CC7.2"],
	"requires": [{"category": "observability", "tools": [], "purpose": "monitoring and alerting"}],
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	not util.category_named("observability")
	msg := "the Profile names no observability tool to monitor what this change deploys"
	because := ["SOC2 CC7.2: monitor system components"]
}

warn contains util.violation(metadata, msg, because) if {
	some w in input.facts.k8s.workloads
	not w.probes
	msg := sprintf("%s: %s %s has no liveness/readiness probes", [w.at, w.kind, w.name])
	because := ["SOC2 CC7.2: detect failing components"]
}
