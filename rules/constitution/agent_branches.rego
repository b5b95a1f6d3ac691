package trustacks.constitution.agent_branches

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-PROC-003",
	"title": "Agents never write to the default or a protected branch",
	"severity": "critical",
	"description": "An agent's change lives on its own branch under `trustacks/` and reaches the default branch only through a pull request. A head branch that is the default branch, a protected branch or outside `trustacks/` is refused (the forge's write guard refuses it too).",
	"remediation": "Propose the change on a branch named `trustacks/<kind>/<slug>` and open a pull request.",
	"controls": ["constitution: process rules"],
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	not startswith(input.proposal.head_branch, "trustacks/")
	msg := sprintf("agent branch %s is outside trustacks/", [input.proposal.head_branch])
	because := ["agents write only to branches under trustacks/"]
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.proposal.head_branch in util.protected_branches
	msg := sprintf("agent change would write to protected branch %s", [input.proposal.head_branch])
	because := [sprintf("protected: %s", [concat(", ", sort([b | some b in util.protected_branches]))])]
}
