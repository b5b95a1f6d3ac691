package trustacks.constitution.ci_oidc

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-CRED-002",
	"title": "CI authenticates to clouds with OIDC, never with stored keys",
	"severity": "high",
	"description": "CI pipelines obtain short-lived cloud credentials through OIDC federation (GitHub `id-token: write`, GitLab `id_tokens`, workload identity). Stored access keys, client secrets or service-account key files passed through CI secrets are long-lived credentials and are refused.",
	"remediation": "Configure OIDC trust in the cloud account (AWS IAM role, GCP workload identity provider, Azure federated credential), grant the job `id-token: write`, and delete the stored key.",
	"controls": ["constitution: credential rules"],
}

deny contains util.violation(metadata, msg, because) if {
	some f in input.facts.ci
	some a in f.cloud_auth
	a.method == "static"
	msg := sprintf("%s authenticates to %s with a stored key (%s); use OIDC", [a.at, a.provider, a.detail])
	because := ["stored cloud keys are long-lived credentials"]
}

warn contains util.violation(metadata, msg, because) if {
	some f in input.facts.ci
	f.system == "github-actions"
	some a in f.cloud_auth
	a.method == "oidc"
	not f.id_token_write
	msg := sprintf("%s uses OIDC but %s does not grant `id-token: write`; the login will fail", [a.at, f.path])
	because := ["GitHub issues OIDC tokens only to jobs with id-token: write"]
}
