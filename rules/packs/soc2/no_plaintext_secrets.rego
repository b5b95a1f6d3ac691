package trustacks.packs.soc2.no_plaintext_secrets

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "SOC2-CC6.1-001",
	"title": "Secrets are managed, never committed as plain Kubernetes Secrets",
	"severity": "high",
	"description": "CC6.1 (logical access): credentials reach workloads through the secrets manager the Profile names (Vault, External Secrets, Sealed Secrets, AWS Secrets Manager). A `kind: Secret` manifest with `data`/`stringData` in git is a plaintext credential store.",
	"remediation": "Replace the Secret with an ExternalSecret, SealedSecret or Vault injection backed by the Profile's secrets manager.",
	"controls": ["SOC2 CC6.1"],
	"requires": [{"category": "secrets_management", "tools": [], "purpose": "managed secrets for workloads"}],
}

deny contains util.violation(metadata, msg, because) if {
	some s in input.facts.k8s.secrets
	msg := sprintf("%s: Secret %s stores values in git", [s.at, s.name])
	because := ["SOC2 CC6.1: restrict logical access to credentials"]
}
