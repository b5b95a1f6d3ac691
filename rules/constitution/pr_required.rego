package trustacks.constitution.pr_required

import rego.v1

import data.trustacks.lib.util

metadata := {
	"id": "TS-PROC-001",
	"title": "Changes reach protected branches only by pull request with a human approval",
	"severity": "critical",
	"description": "Every change reaches the default branch (or any protected branch) through a pull request that at least `min_approvals` humans other than its author approved. There is no autonomous merge path: no auto-merge steps or bot auto-merge settings.",
	"remediation": "Open the change as a pull request from a feature branch, ask a human reviewer to approve it, and remove any auto-merge step or `automerge` setting.",
	"controls": ["constitution: process rules"],
}

deny contains util.violation(metadata, msg, because) if {
	util.agent_change
	input.proposal.head_branch == input.proposal.base_branch
	msg := sprintf("the change would land on %s directly, without a pull request", [input.proposal.base_branch])
	because := [sprintf("head branch %s is the base branch", [input.proposal.head_branch])]
}

deny contains util.violation(metadata, msg, because) if {
	some am in input.facts.auto_merge
	msg := sprintf("%s merges without a human (%s)", [am.at, am.how])
	because := ["no autonomous merge path: a human merges every change"]
}

deny contains util.violation(metadata, msg, because) if {
	input.pr != null
	input.pr.base in util.protected_branches
	n := count(human_approvers)
	n < util.params.min_approvals
	msg := sprintf("PR #%v into %s has %d human approval(s) from someone other than its author; %d required", [input.pr.number, input.pr.base, n, util.params.min_approvals])
	because := array.concat([sprintf("%s is protected", [input.pr.base])], util.param_because("min_approvals"))
}

human_approvers contains a.user if {
	some a in input.pr.approvals
	a.is_agent == false
	a.user != input.pr.author
	not a.user in util.params.agent_identities
}
