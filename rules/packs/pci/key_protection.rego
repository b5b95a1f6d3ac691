package trustacks.packs.pci.key_protection

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "PCI-3.5-001",
	"title": "Keys and secrets are held by a secrets manager",
	"severity": "critical",
	"description": "PCI DSS 3.5 (protect keys used to secure stored account data): generation needs a secrets manager in the Profile, and no change stores secret values in plain Kubernetes Secrets.",
	"remediation": "Name the secrets manager in the Profile and reference secrets through it (ExternalSecret, Vault, SealedSecret).",
	"controls": ["PCI DSS 3.5", "PCI DSS 3.6"],
	"requires": [{"category": "secrets_management", "tools": [], "purpose": "key and secret custody"}],
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	not util.category_named("secrets_management")
	msg := "the Profile names no secrets manager"
	because := ["PCI DSS 3.5: keys are stored in the fewest possible locations"]
}

deny contains util.violation(metadata, msg, because) if {
	some s in input.facts.k8s.secrets
	msg := sprintf("%s: Secret %s keeps secret values in git", [s.at, s.name])
	because := ["PCI DSS 3.5: protect keys"]
}
