# Test support: a compliant input every rule test starts from, then changes one thing.
# Loaded into every test clone (a lib *_test.rego file without test_ rules), never into evaluation.
package trustacks.lib.fixtures

import rego.v1

ci_file := {
	"path": ".github/workflows/build.yml",
	"system": "github-actions",
	"builds": [".github/workflows/build.yml:20"],
	"pushes": [".github/workflows/build.yml:30"],
	"tests": [".github/workflows/build.yml:22"],
	"sbom": [".github/workflows/build.yml:32"],
	"signs": [".github/workflows/build.yml:34"],
	"provenance": [".github/workflows/build.yml:36"],
	"sast": [{"tool": "semgrep", "at": ".github/workflows/build.yml:24"}],
	"secret_scans": [],
	"vuln_scans": [{
		"tool": "trivy", "at": ".github/workflows/build.yml:26", "blocking": true,
		"fail_at": "high", "fail_at_rank": 3, "target": "image",
	}],
	"cloud_auth": [{"provider": "aws", "method": "oidc", "at": ".github/workflows/build.yml:14", "detail": "role-to-assume"}],
	"id_token_write": true,
	"permissions": [{"scope": "workflow", "at": ".github/workflows/build.yml:5", "value": {"contents": "read", "id-token": "write"}}],
	"source_uploads": [],
	"auto_merge": [],
	"tools": ["cosign", "semgrep", "syft", "trivy"],
	"parse_error": null,
}

profile := {
	"platform": {"repo": "acme/platform", "gitops_path": "apps", "deploy_with": "helm", "environments": ["dev", "prod"]},
	"tooling": {
		"ci": [{"tool": "github-actions", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.ci[0]"}],
		"registry": [{"tool": "ecr", "source": "declared", "settings": {"host": "123456789012.dkr.ecr.us-east-1.amazonaws.com"}, "ref": ".trustacks/profile.yaml#tooling.registry[0]"}],
		"image_scanning": [{"tool": "trivy", "source": "discovered", "settings": {"fips": true}, "ref": ".trustacks/profile.yaml#tooling.image_scanning[0]"}],
		"sast_sca": [{"tool": "semgrep", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.sast_sca[0]"}],
		"secret_scanning": [{"tool": "gitleaks", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.secret_scanning[0]"}],
		"sbom_signing": [
			{"tool": "syft", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.sbom_signing[0]"},
			{"tool": "cosign", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.sbom_signing[1]"},
		],
		"gitops": [{"tool": "argocd", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.gitops[0]"}],
		"mesh_ingress": [{"tool": "nginx", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.mesh_ingress[0]"}],
		"secrets_management": [{"tool": "vault", "source": "declared", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.secrets_management[0]"}],
		"observability": [{"tool": "prometheus", "source": "discovered", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.observability[0]"}],
		"ticketing": [{"tool": "jira", "source": "declared", "settings": {}, "ref": ".trustacks/profile.yaml#tooling.ticketing[0]"}],
		"compliance_evidence": [],
	},
	"named": ["ci", "gitops", "image_scanning", "mesh_ingress", "observability", "registry", "sast_sca", "sbom_signing", "secret_scanning", "secrets_management", "ticketing"],
	"services": [{"name": "shop", "repo": "acme/shop", "path": ".", "language": "python", "framework": "fastapi"}],
}

facts := {
	"ci": [ci_file],
	"secrets": [],
	"credential_files": [],
	"images": [],
	"k8s": {"secrets": [], "ingresses": [], "workloads": [], "bindings": []},
	"insecure_urls": [],
	"auto_merge": [],
	"profile_changed": false,
	"profile_files": [],
	"profile_refs_unresolved": [],
	"change_refs": ["CHG0012345"],
	"pr_body": null,
}

proposal := {
	"kind": "generate",
	"repo": "acme/shop",
	"base_branch": "main",
	"head_branch": "trustacks/generate/acme-shop",
	"default_branch": "main",
	"protected_branches": ["main", "release"],
	"files": [{"path": ".github/workflows/build.yml", "action": "create"}],
	"cites_rules": ["TS-SUPPLY-001"],
	"blast_radius": ["repo: acme/shop", "files: 1 (.github/workflows/build.yml)"],
	"rollback": ["Revert this PR."],
	"profile_refs": [".trustacks/profile.yaml#tooling.ci[0]"],
	"author": "trustacks[bot]",
	"author_is_agent": true,
	"title": "TruStacks: ci for shop (CHG0012345)",
	"has_details": true,
}

base := {"proposal": proposal, "facts": facts, "profile": profile, "pr": null}

# A human's pull request in the platform repo, approved by another human.
human_pr := {
	"number": 7,
	"author": "alice",
	"author_is_agent": false,
	"base": "main",
	"head": "feature/ingress",
	"title": "Add ingress (CHG0012345)",
	"approvals": [{"user": "bob", "is_agent": false}],
	"labels": [],
}

human := object.union(base, {
	"proposal": {"author": "alice", "author_is_agent": false, "head_branch": "feature/ingress", "kind": "pull_request", "cites_rules": [], "blast_radius": [], "rollback": [], "profile_refs": []},
	"pr": human_pr,
})

# Patch the single CI file of the base input.
with_ci(patch) := object.union(base, {"facts": {"ci": [object.union(ci_file, patch)]}})

with_facts(patch) := object.union(base, {"facts": patch})

with_proposal(patch) := object.union(base, {"proposal": patch})

with_k8s(patch) := object.union(base, {"facts": {"k8s": patch}})

# The base input with one Profile category emptied.
without_category(cat) := object.union(base, {"profile": {"tooling": {cat: []}, "named": [c | some c in profile.named; c != cat]}})
