package trustacks.constitution.no_self_approval

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-PROC-002",
	"title": "Agents cannot approve pull requests, and nobody approves their own",
	"severity": "critical",
	"description": "An approval by the pull request's author, or by any agent (the bot or another automation account), is refused: a human who did not write the change must approve it.",
	"remediation": "Dismiss the approval and ask a human reviewer who did not author the change to review it.",
	"controls": ["constitution: process rules"],
}

deny contains util.violation(metadata, msg, because) if {
	some a in input.pr.approvals
	a.user == input.pr.author
	msg := sprintf("%s approved their own PR #%v", [a.user, input.pr.number])
	because := ["an author's approval is not a review"]
}

deny contains util.violation(metadata, msg, because) if {
	some a in input.pr.approvals
	a.user != input.pr.author
	is_agent(a)
	msg := sprintf("agent %s approved PR #%v: agents never approve", [a.user, input.pr.number])
	because := ["agents propose, humans approve"]
}

is_agent(a) if a.is_agent == true

is_agent(a) if a.user in util.params.agent_identities
