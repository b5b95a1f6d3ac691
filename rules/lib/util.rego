# Helpers every rule uses. No deny/warn here: lib holds functions, never verdicts.
package trustacks.lib.util

import rego.v1

# The effective parameters, merged strictest-wins across layers by the engine.
params := data.trustacks.effective.params

# The rule IDs loaded in this engine (citations must name real rules).
rule_ids := {id | some id in data.trustacks.effective.rule_ids}

# A violation object. The engine takes the rule ID, layer and severity from metadata.
violation(meta, msg, because) := {"rule": meta.id, "msg": msg, "because": because}

# The change comes from an agent (the bot's own proposal, or a PR an agent authored).
agent_change if input.proposal.author_is_agent == true

# The change is a pull request by a human in a repo the bot watches.
human_pr if {
	input.pr != null
	input.pr.author_is_agent == false
}

# Branches nobody writes to directly: the default branch and every protected branch.
protected_branches contains input.proposal.default_branch
protected_branches contains b if some b in input.proposal.protected_branches

# Profile categories that name at least one tool.
named_categories contains cat if {
	some cat, entries in input.profile.tooling
	count(entries) > 0
}

category_named(cat) if cat in named_categories

# Tools the Profile names in one category.
profile_tools(cat) := {e.tool | some e in input.profile.tooling[cat]}

# CI files in the proposal that build something (and so must scan, test, sign...).
building_ci contains f if {
	some f in input.facts.ci
	count(f.builds) > 0
}

pushing_ci contains f if {
	some f in input.facts.ci
	count(f.pushes) > 0
}

# Kinds of proposal the bot generates from the Profile (tooling requirements apply to them).
generating if input.proposal.kind == "generate"

# "path:line" list as one readable string.
join_at(items) := concat(", ", [i.at | some i in items])

# The severity names in order; index = rank (higher is more severe).
severities := ["info", "low", "medium", "high", "critical"]

severity_rank(s) := i if severities[i] == s

# Before the PR exists: the bot is evaluating its own proposal.
proposal_stage if input.pr == null

# The "because" trail of an effective parameter (which layers set or tightened it).
param_because(name) := object.get(data.trustacks.effective.because, name, [])
