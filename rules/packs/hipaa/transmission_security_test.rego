package trustacks.packs.hipaa.transmission_security

import rego.v1

import data.trustacks.lib.fixtures

test_tls_only_allowed if {
	count(deny) == 0 with input as fixtures.with_k8s({"ingresses": [{"at": "i.yaml:1", "name": "a", "tls": true}]})
}

test_http_endpoint_denied if {
	some v in deny with input as fixtures.with_facts({"insecure_urls": [{"at": "values.yaml:4", "url": "http://api.example.com"}]})
	contains(v.msg, "http://api.example.com")
}

test_plain_ingress_denied if {
	count(deny) == 1 with input as fixtures.with_k8s({"ingresses": [{"at": "i.yaml:1", "name": "a", "tls": false}]})
}
