package trustacks.packs.pci.key_protection

import rego.v1

import data.trustacks.lib.fixtures

test_managed_secrets_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_no_secrets_manager_denied if {
	some v in deny with input as fixtures.without_category("secrets_management")
	v.msg == "the Profile names no secrets manager"
}

test_plain_secret_denied if {
	count(deny) == 1 with input as fixtures.with_k8s({"secrets": [{"at": "s.yaml:1", "name": "cards"}]})
}
