package trustacks.packs.soc2.no_plaintext_secrets

import rego.v1

import data.trustacks.lib.fixtures

test_no_secret_manifest_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_plain_secret_denied if {
	some v in deny with input as fixtures.with_k8s({"secrets": [{"at": "k8s/db.yaml:1", "name": "db"}]})
	v.msg == "k8s/db.yaml:1: Secret db stores values in git"
}
