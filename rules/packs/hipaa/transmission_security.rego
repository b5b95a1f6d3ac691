package trustacks.packs.hipaa.transmission_security

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "HIPAA-164.312e-001",
	"title": "Data in transit is encrypted",
	"severity": "high",
	"description": "164.312(e)(1) transmission security: configuration and manifests use TLS endpoints (no plain `http://` to non-local hosts) and every Ingress terminates TLS.",
	"remediation": "Use `https://` endpoints and add `tls:` to each Ingress.",
	"controls": ["HIPAA 164.312(e)(1)"],
	"requires": [{"category": "mesh_ingress", "tools": [], "purpose": "TLS termination"}],
}

deny contains util.violation(metadata, msg, because) if {
	some u in input.facts.insecure_urls
	msg := sprintf("%s: plaintext endpoint %s", [u.at, u.url])
	because := ["HIPAA 164.312(e)(1): encrypt ePHI in transit"]
}

deny contains util.violation(metadata, msg, because) if {
	some i in input.facts.k8s.ingresses
	not i.tls
	msg := sprintf("%s: Ingress %s serves plain HTTP", [i.at, i.name])
	because := ["HIPAA 164.312(e)(1): encrypt ePHI in transit"]
}
