package trustacks.packs.fedramp.us_registries

import rego.v1

import data.trustacks.lib.fixtures

fx_params := {"allowed_registries": ["*.dkr.ecr.us-east-1.amazonaws.com", "registry1.dso.mil"]}

fx_image(registry) := {"ref": sprintf("%s/shop:1", [registry]), "name": "shop", "at": "k8s/d.yaml:9", "source": "manifest", "registry": registry, "pinned": true, "templated": false}

test_us_ecr_allowed if {
	inp := fixtures.with_facts({"images": [fx_image("123456789012.dkr.ecr.us-east-1.amazonaws.com")]})
	count(deny) == 0 with input as inp with data.trustacks.effective.params as fx_params
}

test_eu_ecr_denied if {
	inp := fixtures.with_facts({"images": [fx_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com")]})
	some v in deny with input as inp with data.trustacks.effective.params as fx_params
	contains(v.msg, "not a US-hosted registry")
}

test_docker_hub_denied if {
	inp := fixtures.with_facts({"images": [fx_image("docker.io")]})
	count(deny) == 1 with input as inp with data.trustacks.effective.params as fx_params
}

test_profile_registry_outside_us_denied if {
	entry := {"tool": "acr", "source": "declared", "settings": {"host": "acme.azurecr.io"}, "ref": "x"}
	inp := object.union(fixtures.base, {"profile": {"tooling": {"registry": [entry]}}})
	some v in deny with input as inp with data.trustacks.effective.params as fx_params
	contains(v.msg, "acme.azurecr.io")
}
