package trustacks.packs.soc2.monitoring

import rego.v1

import data.trustacks.lib.fixtures

fx_workload(probes) := {"at": "k8s/deploy.yaml:1", "kind": "Deployment", "name": "shop", "probes": probes, "privileged": false, "host_network": false, "host_pid": false}

test_monitored_allowed if {
	count(deny) == 0 with input as fixtures.with_k8s({"workloads": [fx_workload(true)]})
	count(warn) == 0 with input as fixtures.with_k8s({"workloads": [fx_workload(true)]})
}

test_no_observability_denied if {
	some v in deny with input as fixtures.without_category("observability")
	contains(v.msg, "no observability tool")
}

test_workload_without_probes_warns if {
	count(warn) == 1 with input as fixtures.with_k8s({"workloads": [fx_workload(false)]})
}
