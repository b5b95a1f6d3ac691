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

# Each distinct base image is checked once, however many Dockerfiles use it.
not_fips contains ref if {
	some pair in {[i.ref, i.name] | some i in input.facts.images; i.source == "dockerfile"; not i.templated}
	[ref, name] := pair
	not fips(ref, name)
}

deny contains util.violation(metadata, msg, because) if {
	some img in input.facts.images
	img.source == "dockerfile"
	img.ref in not_fips
	msg := sprintf("%s: base image %s is not FIPS-validated", [img.at, img.ref])
	because := ["FedRAMP SC-13: FIPS-validated cryptography"]
}

fips(ref, _) if contains(lower(ref), "fips")

fips(_, name) if {
	some pattern in object.get(util.params, "fips_base_images", [])
	glob.match(pattern, ["/"], name)
}
