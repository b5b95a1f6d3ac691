package trustacks.packs.fedramp.fips_base_images

import rego.v1

import data.trustacks.lib.fixtures

fx_base(ref, name) := {"ref": ref, "name": name, "at": "Dockerfile:1", "source": "dockerfile", "registry": "docker.io", "pinned": false, "templated": false}

fx_params := {"fips_base_images": ["registry1.dso.mil/ironbank/**"]}

test_fips_tag_allowed if {
	imgs := [fx_base("cgr.dev/chainguard/python-fips:latest", "cgr.dev/chainguard/python-fips")]
	count(deny) == 0 with input as fixtures.with_facts({"images": imgs}) with data.trustacks.effective.params as fx_params
}

test_ironbank_allowed if {
	imgs := [fx_base("registry1.dso.mil/ironbank/opensource/python:3.12", "registry1.dso.mil/ironbank/opensource/python")]
	count(deny) == 0 with input as fixtures.with_facts({"images": imgs}) with data.trustacks.effective.params as fx_params
}

test_plain_base_image_denied if {
	imgs := [fx_base("python:3.12-slim", "docker.io/library/python")]
	some v in deny with input as fixtures.with_facts({"images": imgs}) with data.trustacks.effective.params as fx_params
	contains(v.msg, "python:3.12-slim is not FIPS-validated")
}
