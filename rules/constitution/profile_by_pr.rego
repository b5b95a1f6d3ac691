package trustacks.constitution.profile_by_pr

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-PROF-001",
	"title": "The Environment Profile is never changed silently",
	"severity": "critical",
	"description": "Agents change `.trustacks/profile.yaml` only in a Profile proposal of its own, whose PR shows the diff with evidence. A generation proposal that also edits the Profile, a Profile proposal without its diff, or a Profile proposal that changes other files is refused.",
	"remediation": "Propose Profile changes separately (`/trustacks discover`), with the diff in the PR body; generate only from a merged Profile.",
	"controls": ["constitution: environment profile rules"],
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.facts.profile_changed
	input.proposal.kind != "profile"
	msg := sprintf("a %s proposal changes the Profile (%s)", [input.proposal.kind, concat(", ", input.facts.profile_files)])
	because := ["Profile changes travel in their own reviewed PR"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.proposal.kind == "profile"
	not input.proposal.has_details
	msg := "the Profile proposal carries no diff for reviewers"
	because := ["every Profile change is a PR a human reviews"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.proposal.kind == "profile"
	some f in input.proposal.files
	not f.path in input.facts.profile_files
	msg := sprintf("the Profile proposal also changes %s", [f.path])
	because := ["a Profile PR changes only the Profile"]
}
