package trustacks.packs.hipaa.integrity

import rego.v1

import data.trustacks.lib.fixtures

fx_img := {"ref": "ghcr.io/acme/shop:1.2", "at": "k8s/deploy.yaml:20", "source": "manifest", "registry": "ghcr.io", "pinned": false, "templated": false}

test_digest_pinned_allowed if {
	count(deny) == 0 with input as fixtures.with_facts({"images": [object.union(fx_img, {"pinned": true})]})
}

test_tagged_manifest_image_denied if {
	some v in deny with input as fixtures.with_facts({"images": [fx_img]})
	contains(v.msg, "not pinned by digest")
}

test_templated_and_dockerfile_images_ignored if {
	imgs := [object.union(fx_img, {"templated": true}), object.union(fx_img, {"source": "dockerfile"})]
	count(deny) == 0 with input as fixtures.with_facts({"images": imgs})
}
