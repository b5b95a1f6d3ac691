"""Commands end to end: GitHub issue_comment and GitLab note payloads -> handler -> handle_comment -> local forge."""

from __future__ import annotations

import types
from datetime import date, timedelta

import pytest

from bot import pipeline
from bot.commands import CommandName, CommentContext, handle_comment, texts
from bot.commands.dispatch import HANDLERS, MAX_REPLY_CHARS, READ_ONLY
from bot.commands.waiver import WAIVERS_PATH
from bot.forges.base import ForgeError
from bot.forges.local import LocalForge
from bot.policy.waivers import load_waivers, read_entries
from bot.pr_identity import parse_marker
from bot.profile import PROFILE_PATH

from .conftest import APP, PLATFORM, READER, STRANGER, WRITER

LATER = (date.today() + timedelta(days=30)).isoformat()
REASON = "base image CVE has no fix upstream yet, tracked in SEC-42"


def test_every_command_has_a_handler():
    assert set(HANDLERS) == set(CommandName)
    assert READ_ONLY <= set(CommandName)


# ---------------------------------------------------------------------------- who may run commands


async def test_help_on_a_bot_pr_lists_every_command(world):
    number = await world.bot_generate_pr()
    [reply] = await world.github("/trustacks help", number=number)
    for name in CommandName:
        assert name.usage in reply
    assert "not available here" not in reply


@pytest.mark.parametrize("user", [READER, STRANGER])
async def test_without_write_access_nothing_runs(world, user):
    number = await world.bot_generate_pr()
    before = await world.forge.branch_sha(APP, pipeline.generate_branch(APP))
    replies = await world.github("/trustacks recreate\n/trustacks help", number=number, user=user)
    assert replies == [texts.NEEDS_WRITE.format(author=user, repo=APP)]
    assert await world.forge.branch_sha(APP, pipeline.generate_branch(APP)) == before
    # even a malformed command from a reader only gets the refusal (no usage text)
    assert await world.github("/trustacks rebse", number=number, user=user) == [
        texts.NEEDS_WRITE.format(author=user, repo=APP)]


async def test_gitlab_reporter_is_refused(world):
    number = await world.bot_generate_pr()
    replies = await world.gitlab("/trustacks rebase", number=number, user=READER)
    assert replies == [texts.NEEDS_WRITE.format(author=READER, repo=APP)]


async def test_bots_and_the_app_itself_are_ignored(world):
    number = await world.bot_generate_pr()
    assert await world.github("/trustacks help", number=number, user="renovate[bot]", user_type="Bot") == []
    assert await world.github("/trustacks help", number=number, user=world.forge.bot_login, user_type="Bot") == []
    assert await world.gitlab("/trustacks help", number=number, user="project_42_bot_abc", bot=True) == []
    # the bot's own help text contains commands; answering it would loop
    assert await world.github(texts.USAGE["rebase"], number=number, user=world.forge.bot_login) == []
    assert await world.comments(APP, number) == []


@pytest.mark.parametrize("action", ["edited", "deleted"])
async def test_edited_and_deleted_comments_are_ignored(world, action):
    number = await world.bot_generate_pr()
    assert await world.github("/trustacks help", number=number, action=action) == []


async def test_gitlab_note_update_is_ignored_and_create_runs(world):
    number = await world.bot_generate_pr()
    assert await world.gitlab("/trustacks help", number=number, action="update") == []
    [reply] = await world.gitlab("/trustacks help", number=number)
    assert texts.HELP_HEADER in reply


async def test_plain_comments_get_no_reply(world):
    number = await world.bot_generate_pr()
    assert await world.github("LGTM, thanks TruStacks! /trustacks is great", number=number) == []


# ---------------------------------------------------------------------------- limits on forks and human PRs


async def test_fork_mr_allows_only_help_and_explain(world):
    number = await world.bot_generate_pr()
    sha = await world.forge.branch_sha(APP, pipeline.generate_branch(APP))
    replies = await world.gitlab("/trustacks rebase\n/trustacks help\n/trustacks rules", number=number,
                                 source="mallory/app")
    assert replies[0] == texts.FORK_LIMITED.format(command="rebase", repo=APP)
    assert texts.HELP_LIMITED_FORK in replies[1]
    assert replies[2] == texts.FORK_LIMITED.format(command="rules", repo=APP)
    assert await world.forge.branch_sha(APP, pipeline.generate_branch(APP)) == sha


async def test_fork_flag_from_the_handler_context(world):
    number = await world.bot_generate_pr()
    ctx = CommentContext(forge=world.forge, flow=world.flow, repo=APP, number=number, author=WRITER,
                         author_is_bot=False, comment_id=7, action="created", is_fork=True, pr_author="x",
                         pr_head="x", forge_kind="github")
    replies = await handle_comment(ctx, "/trustacks waive SOC2-CC8.1-CHANGE --until %s --reason '%s'" % (LATER, REASON))
    assert replies == [texts.FORK_LIMITED.format(command="waive", repo=APP)]
    assert await world.forge.find_change_requests(PLATFORM, state="all") == []


async def test_human_pr_allows_only_read_only_commands(world):
    number = world.human_pr(APP, "feature/login")
    replies = await world.github("/trustacks rebase\n/trustacks recreate\n/trustacks profile show", number=number)
    allowed = ", ".join(f"`{n.value}`" for n in CommandName if n in READ_ONLY)
    assert replies[0] == texts.NOT_BOT_PR.format(command="rebase", allowed=allowed)
    assert replies[1] == texts.NOT_BOT_PR.format(command="recreate", allowed=allowed)
    assert "| ci | GitHub Actions | discovered |" in replies[2]
    [help_reply] = await world.github("/trustacks help", number=number)
    assert "not opened by TruStacks" in help_reply and "_(not available here)_" in help_reply


async def test_a_trustacks_branch_without_the_marker_is_not_the_bots(world):
    number = world.human_pr(APP, "trustacks/generate/acme-app-lookalike", body="looks like the bot's")
    [reply] = await world.github("/trustacks recreate", number=number)
    assert reply.startswith("`recreate` works only on pull requests TruStacks opened")


# ---------------------------------------------------------------------------- discover and generate


async def test_discover_updates_the_profile_pr(world):
    number = world.human_pr(APP, "feature/x")  # discover on a human PR is not allowed...
    [refused] = await world.github("/trustacks discover", number=number)
    assert refused.startswith("`discover` works only")
    gen = await world.bot_generate_pr()  # ...on the bot's PR it is
    [reply] = await world.github("/trustacks discover", number=gen)
    assert reply == texts.DISCOVER_NOTHING.format(repos=f"`{APP}`")
    assert world.engines.discovered == [APP]
    world.engines.ci_tool = "gitlab-ci"  # the repo changed: discovery now differs from the Profile
    [reply] = await world.github("/trustacks discover", number=gen)
    [profile_pr] = await world.forge.find_change_requests(PLATFORM, head=pipeline.profile_branch(PLATFORM))
    assert reply == f"- Opened {PLATFORM}#{profile_pr.number}: Update the TruStacks Environment Profile"
    proposed = await world.forge.read_file(PLATFORM, PROFILE_PATH, ref=profile_pr.head)
    assert b"gitlab-ci" in proposed
    assert b"github-actions" in await world.forge.read_file(PLATFORM, PROFILE_PATH)  # main untouched
    [again] = await world.github("/trustacks discover", number=gen)
    assert "is up to date" in again


async def test_discover_on_the_profile_pr_rediscovers_every_repo_it_names(world):
    world.engines.ci_tool = "jenkins"
    gen = await world.bot_generate_pr()
    await world.github("/trustacks discover", number=gen)
    [profile_pr] = await world.forge.find_change_requests(PLATFORM)
    world.engines.discovered.clear()
    [reply] = await world.github("/trustacks discover", repo=PLATFORM, number=profile_pr.number)
    assert world.engines.discovered == [APP]
    assert "is up to date" in reply


async def test_generate_opens_and_then_updates_the_pr(world):
    gen = await world.bot_generate_pr()
    world.engines.dockerfile = "FROM python:3.13-slim\nUSER 10001\n"
    [reply] = await world.github("/trustacks generate docker", number=gen)
    assert reply == f"- Updated {APP}#{gen}: TruStacks: ci, docker for app" \
        + "\n\n" + texts.GAPS_REPORTED + "\n- no SBOM tool named in the Profile"
    assert world.engines.generate_calls[-1] == {"services": ["app"], "only": {"docker"}}
    head = pipeline.generate_branch(APP)
    assert b"3.13" in await world.forge.read_file(APP, "Dockerfile", ref=head)
    await world.github("/trustacks generate", number=gen)
    assert world.engines.generate_calls[-1]["only"] is None


async def test_generate_denied_by_policy_opens_nothing(world):
    gen = await world.bot_generate_pr()
    world.policy.deny["SOC2-CC6.1-IMAGE-SCAN"] = ("CI builds an image without scanning it", ())
    world.engines.workflow = "name: ci\non: [push]\njobs: {}\n"
    sha = await world.forge.branch_sha(APP, pipeline.generate_branch(APP))
    [reply] = await world.github("/trustacks generate ci", number=gen)
    assert "Not opened, policy denied" in reply
    assert "`SOC2-CC6.1-IMAGE-SCAN` (packs, high): CI builds an image without scanning it" in reply
    assert await world.forge.branch_sha(APP, pipeline.generate_branch(APP)) == sha


async def test_generate_without_a_merged_profile(world):
    gen = await world.bot_generate_pr()
    world.admin.push(PLATFORM, "main", {PROFILE_PATH: None}, user="demo-admin")
    [reply] = await world.github("/trustacks generate", number=gen)
    assert reply == texts.NO_PROFILE.format(platform=PLATFORM)


# ---------------------------------------------------------------------------- rebase and recreate


async def test_rebase_rebuilds_on_the_current_base(world):
    gen = await world.bot_generate_pr()
    branch = pipeline.generate_branch(APP)
    [current] = await world.github("/trustacks rebase", number=gen)
    assert current == texts.REBASE_CURRENT.format(branch=branch, base="main")
    new_base = world.admin.push(APP, "main", {"CHANGELOG.md": "v2\n"}, user="demo-admin")
    [reply] = await world.github("/trustacks rebase", number=gen)
    sha = await world.forge.branch_sha(APP, branch)
    assert reply == texts.REBASED.format(branch=branch, base="main", sha=sha[:7])
    commits = await world.forge.branch_commits(APP, branch, "main")
    assert len(commits) == 1 and commits[0].author_email == world.forge.bot_email
    assert await world.forge.branch_commits(APP, "main", branch) == []  # nothing on main is missing
    assert await world.forge.read_file(APP, "CHANGELOG.md", ref=branch) == b"v2\n"
    assert new_base != sha


async def test_rebase_refuses_a_branch_a_human_pushed_to(world):
    gen = await world.bot_generate_pr()
    branch = pipeline.generate_branch(APP)
    human = world.admin.push(APP, branch, {"Dockerfile": "FROM python:3.12-slim\nUSER app\n"}, user=WRITER)
    world.admin.push(APP, "main", {"CHANGELOG.md": "v2\n"}, user="demo-admin")
    [reply] = await world.gitlab("/trustacks rebase", number=gen)
    assert reply == texts.REBASE_EDITED.format(branch=branch, who=f"commits {human[:7]}")
    assert "/trustacks recreate" in reply
    assert await world.forge.branch_sha(APP, branch) == human  # untouched
    assert await world.forge.read_file(APP, "Dockerfile", ref=branch) == b"FROM python:3.12-slim\nUSER app\n"


async def test_automation_on_the_ignore_list_does_not_count_as_human(world):
    gen = await world.bot_generate_pr()
    branch = pipeline.generate_branch(APP)
    world.admin.push(APP, branch, {"fmt.txt": "x\n"}, user="fmt-bot", email="fmt@automation.example")
    world.flow.ignore_emails = ["*@automation.example"]
    world.admin.push(APP, "main", {"CHANGELOG.md": "v2\n"}, user="demo-admin")
    [reply] = await world.github("/trustacks rebase", number=gen)
    assert reply.startswith("Rebuilt")


async def test_recreate_discards_human_commits(world):
    gen = await world.bot_generate_pr()
    branch = pipeline.generate_branch(APP)
    world.admin.push(APP, branch, {"Dockerfile": "FROM scratch\n", "extra.txt": "mine\n"}, user=WRITER)
    [reply] = await world.github("/trustacks recreate", number=gen)
    sha = await world.forge.branch_sha(APP, branch)
    assert reply == texts.RECREATED.format(branch=branch, base="main", sha=sha[:7])
    commits = await world.forge.branch_commits(APP, branch, "main")
    assert [c.author_email for c in commits] == [world.forge.bot_email]
    assert await world.forge.read_file(APP, "extra.txt", ref=branch) is None
    assert await world.forge.read_file(APP, "Dockerfile", ref=branch) == world.engines.dockerfile.encode()
    # and the PR is the same one, still open
    [pr] = await world.forge.find_change_requests(APP, head=branch)
    assert pr.number == gen


async def test_rebuild_when_nothing_is_left_to_propose(world):
    gen = await world.bot_generate_pr()
    world.admin.push(APP, "main", {"Dockerfile": world.engines.dockerfile, ".github/workflows/ci.yml":
                                   world.engines.workflow}, user="demo-admin")
    [reply] = await world.github("/trustacks rebase", number=gen)
    assert reply == texts.REBUILD_GONE.format(base="main")


async def test_recreate_on_a_waiver_pr_is_explained_not_attempted(world):
    gen = await world.bot_generate_pr()
    await world.github(f"/trustacks waive SOC2-CC8.1-CHANGE --until {LATER} --reason '{REASON}'", number=gen)
    [waiver_pr] = await world.forge.find_change_requests(PLATFORM)
    [reply] = await world.github("/trustacks recreate", repo=PLATFORM, number=waiver_pr.number)
    assert reply == texts.REBUILD_UNSUPPORTED.format(kind="`waiver`")


# ---------------------------------------------------------------------------- waive


async def test_waive_opens_a_waiver_pr_for_a_human(world):
    gen = await world.bot_generate_pr()
    body = f'/trustacks waive SOC2-CC6.1-IMAGE-SCAN --until {LATER} --reason "{REASON} @security-team <b>x</b>"'
    [reply] = await world.github(body, number=gen)
    [pr] = await world.forge.find_change_requests(PLATFORM)
    assert reply.startswith(f"Opened waiver request {PLATFORM}#{pr.number} in `{PLATFORM}`")
    assert pr.head == "trustacks/waiver/soc2-cc6.1-image-scan--acme-app" and pr.base == "main"
    assert parse_marker(pr.body).kind == "waiver"
    assert "@\u200bsecurity-team" in pr.body and "&lt;b&gt;" in pr.body and "<b>" not in pr.body
    text = await world.forge.read_file(PLATFORM, WAIVERS_PATH, ref=pr.head)
    [(_line, entry)] = read_entries(text)
    assert entry["rule"] == "SOC2-CC6.1-IMAGE-SCAN" and entry["scope"]["repo"] == APP
    assert entry["expires"] == LATER and entry["reason"] == f"{REASON} @security-team <b>x</b>"
    assert f"requested by {WRITER} in {APP}#{gen}" in text.decode()
    # no effect until a human signs: the policy's own loader ignores the entry and says why
    loaded = load_waivers(text, trusted_keys={})
    assert loaded.active == [] and len(loaded.rejected) == 1
    assert await world.forge.read_file(PLATFORM, WAIVERS_PATH) is None  # nothing on main
    # the same request again changes nothing
    [again] = await world.github(body, number=gen)
    assert again.startswith(f"Waiver request {PLATFORM}#{pr.number}")
    assert len(await world.forge.find_change_requests(PLATFORM)) == 1


async def test_waive_appends_to_an_existing_file_without_rewriting_it(world):
    existing = ("# Org waivers, reviewed by security.\nwaivers:\n    - rule: PCI-6.4-A   # keep this comment\n"
                "      scope: {repo: acme/legacy, path: 'svc/**'}\n      reason: legacy, see PAY-1\n"
                "      approver: bob\n      expires: 2027-01-01\n      signature: eyJhbGciOiJFUzI1NiJ9..sig\n")
    world.admin.push(PLATFORM, "main", {WAIVERS_PATH: existing}, user="demo-admin")
    gen = await world.bot_generate_pr()
    [reply] = await world.gitlab(f"/trustacks waive SOC2-CC8.1-CHANGE --until {LATER} --reason '{REASON}'",
                                 number=gen)
    assert reply.startswith("Opened waiver request")
    [pr] = await world.forge.find_change_requests(PLATFORM)
    text = (await world.forge.read_file(PLATFORM, WAIVERS_PATH, ref=pr.head)).decode()
    assert text.startswith(existing)  # every byte a human wrote is kept
    assert "\n    - rule: SOC2-CC8.1-CHANGE\n" in text  # indented like the existing entries
    assert [e["rule"] for _, e in read_entries(text)] == ["PCI-6.4-A", "SOC2-CC8.1-CHANGE"]
    [exists] = await world.github(f"/trustacks waive PCI-6.4-A --until {LATER} --reason '{REASON}'",
                                  repo=PLATFORM, number=pr.number)
    assert "No active rule" in exists  # unknown to the loaded policy: nothing to waive


async def test_waive_when_an_entry_exists_or_the_file_cannot_be_appended(world):
    gen = await world.bot_generate_pr()
    world.admin.push(PLATFORM, "main", {WAIVERS_PATH: (
        "waivers:\n- rule: SOC2-CC8.1-CHANGE\n  scope: {repo: acme/app}\n  reason: old one\n"
        "  approver: bob\n  expires: 2027-01-01\n")}, user="demo-admin")
    [exists] = await world.github(f"/trustacks waive SOC2-CC8.1-CHANGE --until {LATER} --reason '{REASON}'",
                                  number=gen)
    assert "already has a waiver" in exists and "expires 2027-01-01" in exists
    world.admin.push(PLATFORM, "main", {WAIVERS_PATH: "waivers: []\nnotes: keep\n"}, user="demo-admin")
    [by_hand] = await world.github(f"/trustacks waive SOC2-CC8.1-CHANGE --until {LATER} --reason '{REASON}'",
                                   number=gen)
    assert "did not open a waiver PR" in by_hand and "```yaml\n  # requested by alice" in by_hand
    assert await world.forge.find_change_requests(PLATFORM, state="all") == []


async def test_waive_is_allowed_on_a_human_pr_only_as_refused(world):
    number = world.human_pr(APP, "feature/y")
    [reply] = await world.github(f"/trustacks waive SOC2-CC8.1-CHANGE --until {LATER} --reason '{REASON}'",
                                 number=number)
    assert reply.startswith("`waive` works only")


@pytest.mark.parametrize("rule,expected", [
    ("TS-PROC-001", "cannot be waived"),
    ("ACME-ONLY-CONST", "cannot be waived"),  # constitution by its loaded layer, whatever its ID
    ("SOC2-CC9.9-NOPE", "No active rule has the ID"),
])
async def test_waive_refusals(world, rule, expected):
    gen = await world.bot_generate_pr()
    [reply] = await world.github(f"/trustacks waive {rule} --until {LATER} --reason '{REASON}'", number=gen)
    assert expected in reply
    assert await world.forge.find_change_requests(PLATFORM, state="all") == []


async def test_waive_with_a_past_date_or_no_reason_is_refused(world):
    gen = await world.bot_generate_pr()
    [past] = await world.github(f"/trustacks waive SOC2-CC8.1-CHANGE --until 2020-01-01 --reason '{REASON}'",
                                number=gen)
    assert "not in the future" in past and texts.USAGE["waive"] in past
    [no_reason] = await world.gitlab(f"/trustacks waive SOC2-CC8.1-CHANGE --until {LATER}", number=gen)
    assert "needs a reason" in no_reason
    assert await world.forge.find_change_requests(PLATFORM, state="all") == []


# ---------------------------------------------------------------------------- explain, rules, gaps, profile show


async def test_explain_a_rule_with_its_because_trail(world):
    number = world.human_pr(APP, "feature/scan")
    world.policy.deny["SOC2-CC6.1-IMAGE-SCAN"] = (
        "image ghcr.io/acme/app is pushed without a scan",
        ("pack soc2 is enabled for acme", "Profile names trivy for image_scanning", "ci.yml:12 pushes an image"))
    [reply] = await world.github("/trustacks explain SOC2-CC6.1-IMAGE-SCAN", number=number)
    assert "**`SOC2-CC6.1-IMAGE-SCAN`** Images are scanned before deploy (pack soc2, high)" in reply
    assert "_How to fix:_ Add the Profile's image scanner to CI." in reply
    assert "On this PR it **denies**: image ghcr.io/acme/app is pushed without a scan" in reply
    assert "1. pack soc2 is enabled for acme\n2. Profile names trivy" in reply
    proposal, _profile, pr_meta = world.policy.calls[-1]
    assert "NOTES.md" in proposal.changed_paths and pr_meta["number"] == number


async def test_explain_without_a_rule_explains_the_verdict(world):
    number = world.human_pr(APP, "feature/scan")
    [clean] = await world.github("/trustacks explain", number=number)
    assert clean == "Verdict on this PR: **pass**. " + texts.EXPLAIN_NONE
    world.policy.warn["SOC2-CC8.1-CHANGE"] = ("no change record linked", ())
    [reply] = await world.github("/trustacks explain", number=number)
    assert reply.startswith("Verdict on this PR: **warn**")
    assert "On this PR it **warns**: no change record linked" in reply
    [unknown] = await world.github("/trustacks explain NOPE-1", number=number)
    assert unknown == texts.EXPLAIN_UNKNOWN.format(rule="NOPE-1")


async def test_explain_is_allowed_on_forks(world):
    number = await world.bot_generate_pr()
    [reply] = await world.gitlab("/trustacks explain TS-PROC-001", number=number, source="mallory/app")
    assert "Changes reach main only by reviewed PR (constitution, critical)" in reply


async def test_rules_by_layer(world):
    number = world.human_pr(APP, "feature/z")
    [reply] = await world.github("/trustacks rules", number=number)
    assert reply.index("**constitution** (2)") < reply.index("**pack soc2** (2)") < reply.index("**overlay** (1)")
    assert "- `SOC2-CC6.1-IMAGE-SCAN` Images are scanned before deploy (high)" in reply


async def test_gaps_renders_the_gap_report_for_the_merged_profile(world, monkeypatch):
    import bot.policy.gaps as gaps

    seen = []

    def fake_report(profile, engine):
        seen.append((profile.platform_repo, engine))
        return types.SimpleNamespace(to_markdown=lambda: "# Gap Analysis Report\n\n- `SOC2-CC7.1-SBOM` ...")

    monkeypatch.setattr(gaps, "gap_report", fake_report)
    number = world.human_pr(APP, "feature/g")
    [reply] = await world.github("/trustacks gaps", number=number)
    assert reply.startswith("# Gap Analysis Report") and seen == [(PLATFORM, world.policy)]
    world.admin.push(PLATFORM, "main", {PROFILE_PATH: "version: [unclosed\n"}, user="demo-admin")
    [broken] = await world.github("/trustacks gaps", number=number)
    assert broken.startswith(f"The Environment Profile in `{PLATFORM}` cannot be read")


async def test_profile_show_on_the_profile_pr_shows_the_proposal(world):
    world.engines.ci_tool = "tekton"
    gen = await world.bot_generate_pr()
    await world.github("/trustacks discover", number=gen)
    [profile_pr] = await world.forge.find_change_requests(PLATFORM)
    [merged] = await world.github("/trustacks profile show", number=gen)
    assert "merged Environment Profile" in merged and "GitHub Actions" in merged and "Tekton" not in merged
    [proposed] = await world.github("/trustacks profile show", repo=PLATFORM, number=profile_pr.number)
    assert "proposed in this PR" in proposed and "| ci | Tekton | discovered |" in proposed
    assert "| app | `acme/app` | `.` | python | fastapi | 8000 |" in proposed


# ---------------------------------------------------------------------------- several commands, failures, hostile input


async def test_several_commands_run_in_order(world):
    number = await world.bot_generate_pr()
    replies = await world.github("Thanks!\n/trustacks help rebase\n/trustacks rules\n/trustacks explain", number=number)
    assert len(replies) == 3
    assert replies[0].startswith("`/trustacks rebase`")
    assert "policy rules active" in replies[1]
    assert replies[2].startswith("Verdict on this PR")


async def test_a_failing_command_stops_the_rest_and_says_how_to_retry(world, monkeypatch):
    number = await world.bot_generate_pr()

    async def broken(*args, **kwargs):
        raise ForgeError("acme/platform: the forge is down (HTTP 503); retry later")

    monkeypatch.setattr(pipeline, "load_profile", broken)
    replies = await world.github("/trustacks generate\n/trustacks rules", number=number)
    assert len(replies) == 1
    assert replies[0].startswith("`/trustacks generate` failed: acme/platform: the forge is down")
    assert "`/trustacks rules`" in replies[0] and "comment the command again" in replies[0]


async def test_internal_errors_do_not_leak(world, monkeypatch):
    number = await world.bot_generate_pr()

    async def broken(*args, **kwargs):
        raise RuntimeError("secret=hunter2 at /srv/trustacks/config.yaml")

    monkeypatch.setattr(pipeline, "load_profile", broken)
    [reply] = await world.github("/trustacks profile show", number=number)
    assert "hunter2" not in reply and texts.INTERNAL_ERROR in reply


async def test_hostile_comments(world):
    number = await world.bot_generate_pr()
    huge = "/trustacks recreate\n" + "A" * (1024 * 1024)
    [too_big] = await world.github(huge, number=number)
    assert "bytes" in too_big and len(too_big) < 500
    assert await world.github("x" * (1024 * 1024), number=number) == []
    [binary] = await world.gitlab("/trustacks rebase\x00\x01", number=number)
    assert binary == texts.BINARY
    [quotes] = await world.github("/trustacks waive SOC2-CC8.1-CHANGE --reason \"unterminated", number=number)
    assert "check the quotes" in quotes
    [mention] = await world.github("/trustacks @org/everyone", number=number)
    assert "`@org/everyone`" in mention
    # nothing above changed a branch or opened a PR
    assert len(await world.forge.find_change_requests(PLATFORM, state="all")) == 0
    commits = await world.forge.branch_commits(APP, pipeline.generate_branch(APP), "main")
    assert len(commits) == 1


async def test_long_replies_are_cut_to_fit_a_comment(world, monkeypatch):
    number = await world.bot_generate_pr()
    monkeypatch.setitem(HANDLERS, CommandName.RULES, _huge_reply)
    [reply] = await world.github("/trustacks rules", number=number)
    assert len(reply) == MAX_REPLY_CHARS and reply.endswith(texts.TRUNCATED)


async def _huge_reply(run, command):
    return "x" * (MAX_REPLY_CHARS * 2)


# ---------------------------------------------------------------------------- acknowledgement


class ReactingForge(LocalForge):
    """The local forge plus GitHub's reaction call (LocalForge itself has none)."""

    def __init__(self, *args, fail: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reactions: list[tuple[str, int, str, int | None]] = []
        self.fail = fail

    async def add_reaction(self, repo, comment_id, content="eyes", *, number=None):
        if self.fail:
            raise ForgeError("reactions are rate limited")
        self.reactions.append((repo, comment_id, content, number))
        return 1


class AwardingForge(LocalForge):
    """The local forge plus GitLab's award-emoji call."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.awards: list[tuple[str, int, str, int | None]] = []

    async def award_emoji(self, repo, note_id, name="eyes", *, number=None):
        self.awards.append((repo, note_id, name, number))


@pytest.mark.parametrize("forge_cls,fail", [(ReactingForge, False), (ReactingForge, True), (AwardingForge, False)])
async def test_commands_are_acknowledged_quickly(world, tmp_path, forge_cls, fail):
    kwargs = {"fail": fail} if forge_cls is ReactingForge else {}
    forge = forge_cls(world.forge.data_dir, **kwargs)
    flow = pipeline.Flow(forge=forge, policy=world.policy, platform_repo=PLATFORM)
    number = await world.bot_generate_pr()
    ctx = CommentContext(forge=forge, flow=flow, repo=APP, number=number, author=WRITER, author_is_bot=False,
                         comment_id=1822334455, action="created", is_fork=False, pr_author=None, pr_head=None,
                         forge_kind="github")
    [reply] = await handle_comment(ctx, "/trustacks help")
    assert texts.HELP_HEADER in reply  # a failed reaction never blocks the command
    recorded = getattr(forge, "reactions", None) if forge_cls is ReactingForge else forge.awards
    assert recorded == ([] if fail else [(APP, 1822334455, "eyes", number)])
    assert await handle_comment(ctx, "no command here") == []
    assert recorded == ([] if fail else [(APP, 1822334455, "eyes", number)])  # nothing to acknowledge
    forge.close()
