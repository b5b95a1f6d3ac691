package trustacks.packs.pci.public_apps_protected

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "PCI-6.4-001",
	"title": "Public-facing web applications sit behind a managed, TLS-terminating ingress",
	"severity": "high",
	"description": "PCI DSS 6.4.1/6.4.2: public web applications are protected against attacks; generation needs the Profile to name the ingress or mesh that fronts them, and every Ingress serves TLS.",
	"remediation": "Name the ingress controller or mesh (with its WAF) in the Profile and add `tls:` to the Ingress.",
	"controls": ["PCI DSS 6.4.1", "PCI DSS 6.4.2", "PCI DSS 4.2.1"],
	"requires": [{"category": "mesh_ingress", "tools": [], "purpose": "protected public endpoints"}],
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	input.profile != null
	not util.category_named("mesh_ingress")
	msg := "the Profile names no ingress or mesh in front of public applications"
	because := ["PCI DSS 6.4"]
}

deny contains util.violation(metadata, msg, because) if {
	some i in input.facts.k8s.ingresses
	not i.tls
	msg := sprintf("%s: Ingress %s is public without TLS", [i.at, i.name])
	because := ["PCI DSS 4.2.1: strong cryptography over public networks"]
}
