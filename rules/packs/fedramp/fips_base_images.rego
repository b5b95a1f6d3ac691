package trustacks.packs.fedramp.fips_base_images

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "FEDRAMP-SC13-001",
	"title": "Images build on FIPS-validated base images",
	"severity": "high",
	"description": "SC-13 (cryptographic protection): containers use FIPS 140-validated cryptographic modules. Every Dockerfile base image in the change is a FIPS variant (its name or tag says `fips`) or comes from an accepted FIPS repository (`fips_base_images`, e.g. Iron Bank, UBI).",
	"remediation": "Switch the `FROM` line to a FIPS-validated base image (Iron Bank, UBI with FIPS mode, Chainguard `-fips` images).",
	"controls": ["FedRAMP SC-13", "NIST 800-53 SC-13"],
}

deny contains util.violation(metadata, msg, because) if {
	some img in input.facts.images
	img.source == "dockerfile"
	not img.templated
	not fips(img)
	msg := sprintf("%s: base image %s is not FIPS-validated", [img.at, img.ref])
	because := ["FedRAMP SC-13: FIPS-validated cryptography"]
}

fips(img) if contains(lower(img.ref), "fips")

fips(img) if {
	some pattern in object.get(util.params, "fips_base_images", [])
	glob.match(pattern, ["/"], img.name)
}
