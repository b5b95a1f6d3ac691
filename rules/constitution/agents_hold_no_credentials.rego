package trustacks.constitution.agents_hold_no_credentials

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-CRED-003",
	"title": "Agents never hold cluster, cloud or production credentials",
	"severity": "critical",
	"description": "No change commits credential material (kubeconfig with user credentials, cloud credential files, service-account keys, registry auth files, private key files), and no change grants a Kubernetes role to an agent identity. Agents work through pull requests, never through credentials.",
	"remediation": "Remove the credential file and rotate what it contained; bind roles to the GitOps controller's service account, never to the bot.",
	"controls": ["constitution: credential rules"],
}

deny contains util.violation(metadata, msg, because) if {
	some c in input.facts.credential_files
	msg := sprintf("%s is a %s; credentials never travel in a change", [c.path, c.kind])
	because := ["agents never hold cluster, cloud or production credentials"]
}

deny contains util.violation(metadata, msg, because) if {
	some b in input.facts.k8s.bindings
	some s in b.subjects
	agent_subject(s)
	msg := sprintf("%s: %s grants %s to agent identity %s", [b.at, b.kind, b.role, s])
	because := ["agents must not hold cluster credentials or roles"]
}

agent_subject(s) if contains(lower(s), "trustacks")

agent_subject(s) if s in util.params.agent_identities
