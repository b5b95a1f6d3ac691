package trustacks.constitution.blast_radius_rollback

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-CITE-002",
	"title": "Every agent proposal states its blast radius and rollback",
	"severity": "medium",
	"description": "An agent's proposal says what it affects (files, services, environments) and how to undo it (revert the PR; for GitOps, what to sync back). An agent's pull request body carries both sections.",
	"remediation": "Fill the proposal's blast radius and rollback steps; the PR body renders them under \"Blast radius\" and \"Rollback\".",
	"controls": ["constitution: citation rules"],
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	util.proposal_stage
	some part in ["blast_radius", "rollback"]
	count(input.proposal[part]) == 0
	msg := sprintf("the proposal has no %s", [replace(part, "_", " ")])
	because := ["PR bodies include blast radius and rollback steps"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.facts.pr_body != null
	some part in ["blast_radius", "rollback"]
	input.facts.pr_body[part] == false
	msg := sprintf("the body of PR #%v has no %s section", [input.pr.number, replace(part, "_", " ")])
	because := ["PR bodies include blast radius and rollback steps"]
}
