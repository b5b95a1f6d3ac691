package trustacks.constitution.ci_oidc

import rego.v1

import data.trustacks.lib.fixtures

fx_static := {"provider": "aws", "method": "static", "at": ".github/workflows/build.yml:14", "detail": "aws-secret-access-key from a CI secret"}

test_oidc_allowed if {
	count(deny) == 0 with input as fixtures.base
	count(warn) == 0 with input as fixtures.base
}

test_stored_aws_key_denied if {
	some v in deny with input as fixtures.with_ci({"cloud_auth": [fx_static]})
	contains(v.msg, "with a stored key")
}

test_azure_client_secret_denied if {
	az := object.union(fx_static, {"provider": "azure", "detail": "azure/login creds"})
	some v in deny with input as fixtures.with_ci({"cloud_auth": [az]})
	contains(v.msg, "azure")
}

test_oidc_without_id_token_permission_warns if {
	count(warn) == 1 with input as fixtures.with_ci({"id_token_write": false})
	count(deny) == 0 with input as fixtures.with_ci({"id_token_write": false})
}
