package trustacks.packs.hipaa.workload_access_control

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "HIPAA-164.312a-001",
	"title": "Workloads get no host-level access",
	"severity": "high",
	"description": "164.312(a)(1) access control: containers handling ePHI run unprivileged, without the host's network or process namespace, so a compromised workload cannot reach other tenants' data.",
	"remediation": "Remove `privileged: true`, `hostNetwork: true` and `hostPID: true`; set `runAsNonRoot: true` in the securityContext.",
	"controls": ["HIPAA 164.312(a)(1)"],
}

deny contains util.violation(metadata, msg, because) if {
	some w in input.facts.k8s.workloads
	some flag in ["privileged", "host_network", "host_pid"]
	w[flag] == true
	msg := sprintf("%s: %s %s sets %s", [w.at, w.kind, w.name, flag])
	because := ["HIPAA 164.312(a)(1): access control"]
}
