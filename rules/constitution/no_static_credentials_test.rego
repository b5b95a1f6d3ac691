package trustacks.constitution.no_static_credentials

import rego.v1

import data.trustacks.lib.fixtures

fx_aws := {"path": "deploy.sh", "line": 3, "at": "deploy.sh:3", "kind": "AWS access key id", "preview": "AKIA****", "introduced": true}

test_no_secrets_allowed if {
	count(deny) == 0 with input as fixtures.base
	count(warn) == 0 with input as fixtures.base
}

test_introduced_aws_key_denied if {
	some v in deny with input as fixtures.with_facts({"secrets": [fx_aws]})
	v.msg == "deploy.sh:3: AWS access key id AKIA****"
}

test_preexisting_secret_only_warns if {
	old := object.union(fx_aws, {"introduced": false})
	count(deny) == 0 with input as fixtures.with_facts({"secrets": [old]})
	count(warn) == 1 with input as fixtures.with_facts({"secrets": [old]})
}

test_password_literal_denied if {
	pw := {"path": "values.yaml", "line": 9, "at": "values.yaml:9", "kind": "password literal", "preview": "", "introduced": true}
	count(deny) == 1 with input as fixtures.with_facts({"secrets": [pw, fx_aws]}) with input.facts.secrets as [pw]
}
