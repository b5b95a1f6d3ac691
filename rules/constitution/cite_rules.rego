package trustacks.constitution.cite_rules

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-CITE-001",
	"title": "Every agent proposal cites the rules that motivated it",
	"severity": "medium",
	"description": "An agent's proposal names the rule IDs that motivated it, each one a rule this engine knows; an agent's pull request body lists rule IDs. Humans can then check the proposal against the rules it claims to serve.",
	"remediation": "Set the proposal's citations to the IDs of the rules it implements (see `trustacks rule list`); the PR body's Policy section lists them.",
	"controls": ["constitution: citation rules"],
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	util.proposal_stage
	count(input.proposal.cites_rules) == 0
	msg := "the proposal cites no rule"
	because := ["every proposal carries a citation back to the rule that motivated it"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	some r in input.proposal.cites_rules
	not r in util.rule_ids
	msg := sprintf("the proposal cites %s, which is not a loaded rule", [r])
	because := ["citations must name real rules"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.facts.pr_body != null
	count(input.facts.pr_body.rule_ids) == 0
	msg := sprintf("the body of PR #%v lists no rule IDs", [input.pr.number])
	because := ["PR bodies include the rule IDs that motivated them"]
}
