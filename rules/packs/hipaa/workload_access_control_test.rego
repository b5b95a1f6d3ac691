package trustacks.packs.hipaa.workload_access_control

import rego.v1

import data.trustacks.lib.fixtures

fx_w := {"at": "k8s/deploy.yaml:1", "kind": "Deployment", "name": "shop", "probes": true, "privileged": false, "host_network": false, "host_pid": false}

test_unprivileged_allowed if {
	count(deny) == 0 with input as fixtures.with_k8s({"workloads": [fx_w]})
}

test_privileged_denied if {
	some v in deny with input as fixtures.with_k8s({"workloads": [object.union(fx_w, {"privileged": true})]})
	v.msg == "k8s/deploy.yaml:1: Deployment shop sets privileged"
}

test_host_network_denied if {
	count(deny) == 1 with input as fixtures.with_k8s({"workloads": [object.union(fx_w, {"host_network": true})]})
}
