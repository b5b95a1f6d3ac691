package trustacks.packs.pci.public_apps_protected

import rego.v1

import data.trustacks.lib.fixtures

test_protected_allowed if {
	count(deny) == 0 with input as fixtures.with_k8s({"ingresses": [{"at": "i.yaml:1", "name": "a", "tls": true}]})
}

test_no_ingress_tool_denied if {
	count(deny) == 1 with input as fixtures.without_category("mesh_ingress")
}

test_plain_ingress_denied if {
	some v in deny with input as fixtures.with_k8s({"ingresses": [{"at": "i.yaml:1", "name": "a", "tls": false}]})
	contains(v.msg, "without TLS")
}
