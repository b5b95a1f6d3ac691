package trustacks.constitution.agents_hold_no_credentials

import rego.v1

import data.trustacks.lib.fixtures

fx_binding(subject) := {"at": "rbac.yaml:1", "kind": "ClusterRoleBinding", "role": "cluster-admin", "subjects": [subject]}

test_clean_change_allowed if {
	count(deny) == 0 with input as fixtures.base
}

test_kubeconfig_denied if {
	some v in deny with input as fixtures.with_facts({"credential_files": [{"path": "ops/kubeconfig", "kind": "kubeconfig with user credentials"}]})
	contains(v.msg, "ops/kubeconfig")
}

test_role_for_bot_denied if {
	some v in deny with input as fixtures.with_k8s({"bindings": [fx_binding("trustacks-bot")]})
	contains(v.msg, "cluster-admin")
}

test_role_for_argocd_allowed if {
	count(deny) == 0 with input as fixtures.with_k8s({"bindings": [fx_binding("argocd-application-controller")]})
}
