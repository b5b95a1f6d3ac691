package trustacks.constitution.profile_refs

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-CITE-003",
	"title": "Every generated tool choice cites the Profile entry that decided it",
	"severity": "medium",
	"description": "A generation proposal names, for each tool it uses, the Environment Profile entry that informed the choice (`.trustacks/profile.yaml#tooling.<category>[<n>]`), and every reference resolves to an entry of the current Profile.",
	"remediation": "Generate from the merged Profile so each tool choice carries its Profile reference; refresh the Profile first if an entry moved.",
	"controls": ["constitution: citation rules"],
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	util.proposal_stage
	util.generating
	count(input.proposal.profile_refs) == 0
	msg := "the generation proposal cites no Profile entry for its tool choices"
	because := ["PR bodies name which Profile entries informed each tool choice"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	some ref in input.facts.profile_refs_unresolved
	msg := sprintf("%s does not resolve to an entry of the current Profile", [ref])
	because := ["a tool choice must cite a real Profile entry"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.facts.pr_body != null
	input.facts.pr_body.kind == "generate"
	input.facts.pr_body.profile_refs == false
	msg := sprintf("the body of PR #%v has no \"Why these tools\" Profile references", [input.pr.number])
	because := ["PR bodies name which Profile entries informed each tool choice"]
}
