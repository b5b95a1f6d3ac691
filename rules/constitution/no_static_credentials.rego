package trustacks.constitution.no_static_credentials

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-CRED-001",
	"title": "No long-lived static credentials in code or CI configuration",
	"severity": "critical",
	"description": "Cloud access keys (AWS, GCP, Azure), private keys, API tokens and `password:` literals never appear in code or CI configuration. Facts come from a secret-pattern scan in Python; messages carry path:line and the kind of secret, never the value.",
	"remediation": "Remove the value, rotate the credential (treat it as leaked), and read it at run time from the secrets manager named in the Profile or use short-lived OIDC tokens.",
	"controls": ["constitution: credential rules"],
	"requires": [{"category": "secret_scanning", "tools": [], "purpose": "secret scanning"}],
}

deny contains util.violation(metadata, msg, because) if {
	some s in input.facts.secrets
	s.introduced
	msg := sprintf("%s: %s %s", [s.at, s.kind, s.preview])
	because := ["the change adds this line; static credentials are never allowed in code or CI"]
}

warn contains util.violation(metadata, msg, because) if {
	some s in input.facts.secrets
	not s.introduced
	msg := sprintf("%s: %s %s already in a file this change touches", [s.at, s.kind, s.preview])
	because := ["pre-existing: rotate it and move it to the secrets manager"]
}
