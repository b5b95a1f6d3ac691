package trustacks.constitution.sbom_required

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-SUPPLY-001",
	"title": "Released artifacts have an SBOM",
	"severity": "high",
	"description": "A CI pipeline that pushes an image or another release artifact also generates its software bill of materials (Syft, or an equivalent such as `docker buildx --sbom` or CycloneDX) in the same pipeline.",
	"remediation": "Add an SBOM step after the build (e.g. `syft <image> -o spdx-json` or anchore/sbom-action) and attach it to the image with `cosign attest --type spdxjson`.",
	"controls": ["constitution: supply chain rules"],
	"requires": [{"category": "sbom_signing", "tools": ["syft"], "purpose": "SBOM generation"}],
}

deny contains util.violation(metadata, msg, because) if {
	some f in util.pushing_ci
	count(f.sbom) == 0
	msg := sprintf("%s publishes an artifact (%s) but generates no SBOM", [f.path, concat(", ", f.pushes)])
	because := ["every released artifact has an SBOM (Syft)"]
}
