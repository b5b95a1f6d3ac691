package trustacks.packs.soc2.ingress_tls

import rego.v1

import data.trustacks.lib.fixtures

test_tls_ingress_allowed if {
	count(deny) == 0 with input as fixtures.with_k8s({"ingresses": [{"at": "k8s/ing.yaml:1", "name": "shop", "tls": true}]})
}

test_plain_ingress_denied if {
	some v in deny with input as fixtures.with_k8s({"ingresses": [{"at": "k8s/ing.yaml:1", "name": "shop", "tls": false}]})
	contains(v.msg, "has no tls section")
}
