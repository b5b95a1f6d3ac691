package trustacks.packs.fedramp.us_registries

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "FEDRAMP-SA9.5-001",
	"title": "Images come only from US-hosted registries",
	"severity": "high",
	"description": "SA-9(5) (processing and storage location): images in the change, and the registries the Profile names, are hosted in the United States (`allowed_registries`, intersected across layers).",
	"remediation": "Mirror the image to an approved US registry (ECR us-*, GovCloud, *.azurecr.us, us-docker.pkg.dev, Iron Bank) and reference it there.",
	"controls": ["FedRAMP SA-9(5)"],
	"requires": [{"category": "registry", "tools": ["ecr", "acr", "gar", "harbor", "artifactory", "quay"], "purpose": "US-hosted registry"}],
}

allowed_host(host) if {
	some pattern in util.params.allowed_registries
	glob.match(pattern, ["."], host)
}

# Each distinct registry is matched against the patterns once, however many images use it.
outside_us contains host if {
	some host in {img.registry | some img in input.facts.images; not img.templated}
	not allowed_host(host)
}

deny contains util.violation(metadata, msg, because) if {
	some img in input.facts.images
	not img.templated
	img.registry in outside_us
	msg := sprintf("%s: %s is pulled from %s, not a US-hosted registry", [img.at, img.ref, img.registry])
	because := ["FedRAMP SA-9(5): data stays in the US"]
}

deny contains util.violation(metadata, msg, because) if {
	util.generating
	some e in input.profile.tooling.registry
	host := object.get(e.settings, "host", "")
	host != ""
	not allowed_host(host)
	msg := sprintf("Profile registry %s (%s) is not US-hosted", [e.tool, host])
	because := ["FedRAMP SA-9(5): data stays in the US"]
}
