"""Every text the slash commands show to people: usage lines, errors and reply templates.

Kept out of the logic (STYLE.md: text shown to users lives in constants) so wording changes never touch
the parser or the dispatcher, and so tests can assert on the template rather than on copied strings.
Every failure says how to retry. Keys of `USAGE` and `SUMMARY` are `CommandName` values.
"""

from __future__ import annotations

PREFIX = "/trustacks"

#: one usage line per command (shown after an error, and by `help`)
USAGE: dict[str, str] = {
    "help": "/trustacks help [COMMAND]",
    "discover": "/trustacks discover",
    "generate": "/trustacks generate [ci|docker|helm|kustomize|argocd|all]",
    "explain": "/trustacks explain [RULE-ID]",
    "rules": "/trustacks rules",
    "rebase": "/trustacks rebase",
    "recreate": "/trustacks recreate",
    "waive": '/trustacks waive RULE-ID --until YYYY-MM-DD --reason "why this is acceptable"',
    "profile show": "/trustacks profile show",
    "gaps": "/trustacks gaps",
}

#: what each command does, one line each
SUMMARY: dict[str, str] = {
    "help": "list the commands (or show one command's usage)",
    "discover": "re-run discovery for this repo and update the Environment Profile PR",
    "generate": "regenerate artifacts from the merged Profile (all of them, or one kind) and update the PRs",
    "explain": "why the policy verdict: a rule's text and its because trail (the rules cited here, by default)",
    "rules": "the policy rules active for this repo, by layer",
    "rebase": "rebuild this bot branch on the current base (read-and-preserve); never on a branch a human edited",
    "recreate": "discard this bot branch (including any human commits on it) and regenerate it",
    "waive": "open a waiver PR in the platform repo for a human to approve (pack and overlay rules only)",
    "profile show": "show the Environment Profile",
    "gaps": "gap analysis: rules the Profile's tooling cannot satisfy yet",
}

# ---------------------------------------------------------------------------- parser replies

TOO_LARGE = (
    "This comment is {size} bytes; TruStacks reads commands only from comments up to {limit} bytes. "
    "Post the command in a short comment of its own."
)
BINARY = (
    "This comment contains control or binary characters, so TruStacks did not read it. "
    "Post the command as plain text in a comment of its own."
)
TOO_MANY = "This comment has {count} commands; TruStacks runs at most {limit} per comment. Split them up."
LINE_TOO_LONG = "A command line is {length} characters long (limit {limit}). Shorten it and comment again."
UNKNOWN = "{word} is not a TruStacks command."
DID_YOU_MEAN = "Did you mean `{nearest}`?"
BAD_QUOTES = "Could not read the arguments ({error}); check the quotes and comment again."
UNEXPECTED_ARG = "`{command}` takes no argument {arg}."
BAD_TARGET = "{arg} is not something `generate` knows. Choose one of: {choices}."
DUPLICATE_TARGET = "{arg} is given twice."
ALL_ALONE = "`all` cannot be combined with other kinds."
TOO_MANY_ARGS = "`{command}` takes at most one argument."
BAD_RULE_ID = (
    "{arg} is not a rule ID. Rule IDs look like `SOC2-CC6.1-IMAGE-SCAN`: capital letters and digits, "
    "then dash-separated parts (at most {limit} characters)."
)
MISSING_RULE = "Name the rule to waive."
CONSTITUTION_RULE = (
    "{rule} is a constitution rule (`TS-...`). Constitution rules cannot be waived, by anyone, "
    "so TruStacks will not open a waiver for it. Fix the cause instead; `/trustacks explain {rule}` says how."
)
UNKNOWN_FLAG = "{arg} is not an option of `waive` (use `--until` and `--reason`)."
DUPLICATE_FLAG = "`--{flag}` is given twice."
MISSING_UNTIL = "A waiver needs an expiry: `--until YYYY-MM-DD`."
UNTIL_ONE_VALUE = "`--until` takes exactly one date (YYYY-MM-DD)."
BAD_DATE = "{arg} is not an ISO-8601 date; write it as YYYY-MM-DD."
PAST_DATE = "{date} is not in the future (today is {today}); a waiver must expire after today."
FAR_DATE = "{date} is more than {days} days away; waivers are temporary, choose an earlier expiry."
MISSING_REASON = 'A waiver needs a reason: `--reason "why this is acceptable"`.'
SHORT_REASON = "The reason is too short ({length} characters; at least {limit}). Say why this is acceptable."
LONG_REASON = "The reason is too long ({length} characters; at most {limit}). Link to a ticket for details."
USAGE_LINE = "Usage: `{usage}`"
HELP_HINT = "Comment `/trustacks help` for the list of commands."

# ---------------------------------------------------------------------------- dispatcher replies

NEEDS_WRITE = (
    "@{author}: TruStacks commands need write access to `{repo}` (Developer or higher on GitLab). "
    "Nothing was done. Ask someone with write access to run it."
)
FORK_LIMITED = (
    "`{command}` is not available on a pull request from a fork: only `help` and `explain` are. "
    "Nothing was done. Push the branch to `{repo}` itself to use the other commands."
)
NOT_BOT_PR = (
    "`{command}` works only on pull requests TruStacks opened; on this one only {allowed} are available. "
    "Nothing was done. Run it on the bot's PR instead."
)
FAILED = "`{command}` failed: {error}. Nothing after it was run; comment the command again to retry."
INTERNAL_ERROR = "an internal error (logged on the TruStacks server)"
TRUNCATED = "\n\n_(reply shortened to fit in a comment)_"
NOT_RUN = "Not run because an earlier command failed: {commands}."

HELP_HEADER = "**TruStacks commands** (comment one per line; each line starts with `/trustacks`):"
HELP_LIMITED_FORK = "On a pull request from a fork only `help` and `explain` are available."
HELP_LIMITED_HUMAN = "This pull request was not opened by TruStacks, so only {allowed} are available here."
HELP_FOOTER = (
    "Only people with write access can run commands. Nothing a command does changes policy, the Profile or a "
    "branch except through a pull request that a human reviews and merges."
)

NO_PROFILE = (
    "There is no merged Environment Profile in `{platform}` yet. Merge the Profile PR first "
    "(or comment `/trustacks discover` to propose one)."
)
PROFILE_UNREADABLE = "The Environment Profile in `{platform}` cannot be read: {error}. Fix it in a PR, then retry."
NO_REPOS = "No repository to discover: the Profile names no services yet. Comment this on an application repo's PR."
DISCOVER_NOTHING = "Discovery of {repos} matches the Environment Profile: nothing to update."
NO_SERVICES = "The Environment Profile names no service in `{repo}`, so there is nothing to generate here."
GENERATE_NOTHING = "Generated files for {services} already match: nothing to update."
GAPS_REPORTED = "Gaps (what the Profile does not name yet):"

OUTCOME = {
    "opened": "Opened {link}: {title}",
    "updated": "Updated {link}: {title}",
    "unchanged": "{link} is up to date: {title}",
    "edited": "{link} was edited by a human, so it was not changed (its description was refreshed): {title}",
    "denied": "Not opened, policy denied **{title}**:",
    "empty": "Nothing to change for **{title}**.",
}

REBASE_EDITED = (
    "Not rebased: someone other than TruStacks pushed to `{branch}` ({who}), and TruStacks never rewrites a "
    "branch a human edited. Rebase it yourself, or comment `/trustacks recreate` to discard those commits "
    "and regenerate the branch."
)
REBASED = "Rebuilt `{branch}` on the current `{base}` ({sha})."
REBASE_CURRENT = "`{branch}` is already built on the current `{base}`; nothing to do."
REBUILD_GONE = (
    "Nothing to rebuild: what this PR proposes now matches `{base}`. Close this PR if it is no longer needed."
)
RECREATED = "Discarded `{branch}` and regenerated it on the current `{base}` ({sha})."
REBUILD_UNSUPPORTED = (
    "TruStacks does not rebuild {kind} PRs. Close this one and run the command that opened it again."
)
DENIED_ON_REBUILD = "Not rebuilt: policy denied the regenerated proposal."

EXPLAIN_NONE = (
    "This PR cites no policy rules. Name one: `/trustacks explain RULE-ID` (`/trustacks rules` lists them)."
)
EXPLAIN_UNKNOWN = "No active rule has the ID `{rule}`. `/trustacks rules` lists the rules for this repo."
RULES_NONE = "No policy rules are loaded for this repo."

WAIVE_UNKNOWN_RULE = (
    "No active rule has the ID `{rule}`, so there is nothing to waive. `/trustacks rules` lists them."
)
WAIVE_CONSTITUTION = CONSTITUTION_RULE
WAIVE_OPENED = (
    "Opened waiver request {link} in `{platform}` for `{rule}` on `{repo}` until {until}. "
    "It has no effect until an approver signs it and a human merges it."
)
WAIVE_UPDATED = (
    "Updated waiver request {link} in `{platform}` for `{rule}` on `{repo}` until {until}. "
    "It has no effect until an approver signs it and a human merges it."
)
WAIVE_UNCHANGED = "Waiver request {link} for `{rule}` on `{repo}` already says this; nothing changed."
WAIVE_EDITED = (
    "Waiver request {link} was edited by a human, so TruStacks did not change its branch. "
    "Edit the waiver file there, or close it and comment again."
)
WAIVE_DENIED = "Policy denied the waiver request for `{rule}`:"
WAIVE_EXISTS = (
    "`{path}` in `{platform}` already has a waiver for `{rule}` on `{repo}` (expires {expires}). "
    "To change or renew it, edit that entry in a PR (an approver must sign it again)."
)
WAIVE_BY_HAND = (
    "TruStacks did not open a waiver PR: {problem}. Add this entry to `{path}` in `{platform}` in a PR "
    "yourself (an approver fills in `approver` and signs it):\n\n```yaml\n{entry}```"
)
