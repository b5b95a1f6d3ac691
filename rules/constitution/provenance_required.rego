package trustacks.constitution.provenance_required

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-SUPPLY-003",
	"title": "Released artifacts carry a provenance attestation",
	"severity": "high",
	"description": "A CI pipeline that pushes an image or another release artifact records how it was built: an in-toto / SLSA provenance attestation (cosign attest, slsa-github-generator, actions/attest-build-provenance, in-toto-run, witness).",
	"remediation": "Add `cosign attest --type slsaprovenance` (or actions/attest-build-provenance, or the SLSA generator workflow) after the push.",
	"controls": ["constitution: supply chain rules"],
	"requires": [{"category": "sbom_signing", "tools": ["in-toto", "cosign", "sigstore"], "purpose": "provenance attestation"}],
}

deny contains util.violation(metadata, msg, because) if {
	some f in util.pushing_ci
	count(f.provenance) == 0
	msg := sprintf("%s publishes an artifact (%s) without a provenance attestation", [f.path, concat(", ", f.pushes)])
	because := ["every released artifact has in-toto provenance"]
}
