package trustacks.packs.hipaa.integrity

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "HIPAA-164.312c-001",
	"title": "Deployed images are pinned by digest",
	"severity": "medium",
	"description": "164.312(c)(1) integrity: what runs is exactly what was scanned and signed. Images in deployment manifests are referenced by `@sha256:` digest, not by a mutable tag.",
	"remediation": "Reference the image by digest (`image: repo@sha256:...`), e.g. let the GitOps image updater write digests.",
	"controls": ["HIPAA 164.312(c)(1)"],
}

deny contains util.violation(metadata, msg, because) if {
	some img in input.facts.images
	img.source == "manifest"
	not img.templated
	not img.pinned
	msg := sprintf("%s: image %s is not pinned by digest", [img.at, img.ref])
	because := ["HIPAA 164.312(c)(1): protect ePHI from improper alteration"]
}
