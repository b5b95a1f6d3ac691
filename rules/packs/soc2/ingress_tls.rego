package trustacks.packs.soc2.ingress_tls

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "SOC2-CC6.6-001",
	"title": "Ingress terminates TLS",
	"severity": "high",
	"description": "CC6.6 (boundary protection): every Ingress in the change serves TLS through the mesh or ingress controller the Profile names.",
	"remediation": "Add a `tls:` section with a certificate (cert-manager issuer annotation) to the Ingress.",
	"controls": ["SOC2 CC6.6"],
	"requires": [{"category": "mesh_ingress", "tools": [], "purpose": "TLS at the boundary"}],
}

deny contains util.violation(metadata, msg, because) if {
	some i in input.facts.k8s.ingresses
	not i.tls
	msg := sprintf("%s: Ingress %s has no tls section", [i.at, i.name])
	because := ["SOC2 CC6.6: protect the system boundary"]
}
