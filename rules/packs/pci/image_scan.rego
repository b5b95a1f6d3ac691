package trustacks.packs.pci.image_scan

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "PCI-6.3.3-001",
	"title": "Released images are scanned for known vulnerabilities",
	"severity": "high",
	"description": "PCI DSS 6.3.3 (known vulnerabilities are patched): a pipeline that pushes an image scans that image, not only the source tree. The pack also lowers the allowed vulnerability threshold to `high` (TS-SUPPLY-004 enforces it).",
	"remediation": "Scan the built image before pushing it, e.g. `trivy image --exit-code 1 --severity HIGH,CRITICAL <image>`.",
	"controls": ["PCI DSS 6.3.3", "PCI DSS 11.3.1"],
	"requires": [{"category": "image_scanning", "tools": [], "purpose": "image vulnerability scanning"}],
}

deny contains util.violation(metadata, msg, because) if {
	some f in util.pushing_ci
	not scans_image(f)
	msg := sprintf("%s pushes an image that no step scans", [f.path])
	because := ["PCI DSS 6.3.3: identify known vulnerabilities in what is released"]
}

scans_image(f) if {
	some s in f.vuln_scans
	s.target == "image"
}
