package trustacks.constitution.signed_artifacts

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-SUPPLY-002",
	"title": "Released artifacts are signed",
	"severity": "high",
	"description": "A CI pipeline that pushes an image or another release artifact signs it (Cosign / Sigstore, keyless with the CI's OIDC identity or with a KMS key) in the same pipeline.",
	"remediation": "Add `cosign sign --yes <image>@<digest>` after the push (sigstore/cosign-installer installs it); keyless signing needs `id-token: write`.",
	"controls": ["constitution: supply chain rules"],
	"requires": [{"category": "sbom_signing", "tools": ["cosign", "sigstore"], "purpose": "artifact signing"}],
}

deny contains util.violation(metadata, msg, because) if {
	some f in util.pushing_ci
	count(f.signs) == 0
	msg := sprintf("%s publishes an artifact (%s) but never signs it", [f.path, concat(", ", f.pushes)])
	because := ["every released artifact is signed (Cosign)"]
}
