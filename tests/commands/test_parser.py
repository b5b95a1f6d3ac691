"""The pure parser: which lines count, validation of every argument, hostile input, never raising."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import Command, CommandName, Ignore, Reply, parse
from bot.commands import texts
from bot.commands.parser import (
    MAX_COMMANDS,
    MAX_COMMENT_BYTES,
    MAX_LINE_CHARS,
    MAX_REASON_CHARS,
    MAX_WAIVER_DAYS,
    MIN_REASON_CHARS,
    nearest,
)

TODAY = date(2026, 11, 23)
REASON = "scanner false positive on the base image"


def cmds(text: str, **kw) -> list[Command]:
    out = parse(text, today=TODAY, **kw)
    assert isinstance(out, list), out
    return out


def reply(text: str, **kw) -> Reply:
    out = parse(text, today=TODAY, **kw)
    assert isinstance(out, Reply), out
    return out


# ---------------------------------------------------------------------------- each command


@pytest.mark.parametrize(
    "text,expected",
    [
        ("/trustacks help", Command(CommandName.HELP)),
        ("/trustacks", Command(CommandName.HELP)),
        ("/trustacks help waive", Command(CommandName.HELP, topic=CommandName.WAIVE)),
        ("/trustacks help profile show", Command(CommandName.HELP, topic=CommandName.PROFILE_SHOW)),
        ("/trustacks discover", Command(CommandName.DISCOVER)),
        ("/trustacks generate", Command(CommandName.GENERATE)),
        ("/trustacks generate all", Command(CommandName.GENERATE)),
        ("/trustacks generate ci", Command(CommandName.GENERATE, targets=("ci",))),
        ("/trustacks generate helm ArgoCD", Command(CommandName.GENERATE, targets=("helm", "argocd"))),
        ("/trustacks explain", Command(CommandName.EXPLAIN)),
        ("/trustacks explain SOC2-CC6.1-IMAGE-SCAN", Command(CommandName.EXPLAIN, rule="SOC2-CC6.1-IMAGE-SCAN")),
        ("/trustacks explain TS-PROC-001", Command(CommandName.EXPLAIN, rule="TS-PROC-001")),
        ("/trustacks rules", Command(CommandName.RULES)),
        ("/trustacks rebase", Command(CommandName.REBASE)),
        ("/trustacks recreate", Command(CommandName.RECREATE)),
        ("/trustacks profile show", Command(CommandName.PROFILE_SHOW)),
        ("/trustacks gaps", Command(CommandName.GAPS)),
        (f'/trustacks waive PCI-6.4 --until 2027-01-31 --reason "{REASON}"',
         Command(CommandName.WAIVE, rule="PCI-6.4", until=date(2027, 1, 31), reason=REASON)),
    ],
)
def test_every_command_parses(text, expected):
    assert cmds(text) == [expected]


def test_every_command_name_has_usage_summary_and_round_trips():
    for name in CommandName:
        assert name.usage.startswith("/trustacks " + name.value.split()[0])
        assert name.summary
    # the canonical text of a command parses back to the same command
    samples = [Command(n) for n in CommandName if n is not CommandName.WAIVE] + [
        Command(CommandName.GENERATE, targets=("docker", "kustomize")),
        Command(CommandName.HELP, topic=CommandName.PROFILE_SHOW),
        Command(CommandName.WAIVE, rule="HIPAA-164.312-A", until=date(2027, 5, 1), reason="it's a 'quoted' reason"),
    ]
    for command in samples:
        assert cmds(command.text) == [command]


def test_waive_flag_forms():
    equals = cmds(f"/trustacks waive SOC2-CC7.1-X --until=2027-01-31 --reason={REASON.replace(' ', '_')}")[0]
    assert equals.until == date(2027, 1, 31) and equals.reason == REASON.replace(" ", "_")
    unquoted = cmds(f"/trustacks waive SOC2-CC7.1-X --reason {REASON} --until 2027-01-31")[0]
    assert unquoted.reason == REASON
    dashes = cmds('/trustacks waive SOC2-CC7.1-X --until 2027-01-31 --reason "upstream -- not ours, see JIRA-12"')[0]
    assert dashes.reason == "upstream -- not ours, see JIRA-12"
    unicode = cmds('/trustacks waive SOC2-CC7.1-X --until 2027-01-31 --reason "Ausnahme für Prüfung — ticket ✓"')[0]
    assert unicode.reason == "Ausnahme für Prüfung — ticket ✓"
    stamped = cmds(f'/trustacks waive SOC2-CC7.1-X --until 2027-01-31T23:30:00-05:00 --reason "{REASON}"')[0]
    assert stamped.until == date(2027, 2, 1)  # the UTC date


# ---------------------------------------------------------------------------- which lines count


def test_only_lines_starting_with_the_prefix_count():
    assert parse("please run /trustacks rebase", today=TODAY) == Ignore("no command")
    assert isinstance(parse("/trustacksrebase", today=TODAY), Ignore)
    assert isinstance(parse("/trustacks-rebase", today=TODAY), Ignore)
    assert isinstance(parse("> /trustacks rebase", today=TODAY), Ignore)  # a quote reply
    assert isinstance(parse("    /trustacks rebase", today=TODAY), Ignore)  # indented code
    assert isinstance(parse("\t/trustacks rebase", today=TODAY), Ignore)
    assert isinstance(parse("／trustacks rebase", today=TODAY), Ignore)  # fullwidth solidus look-alike
    assert cmds("   /trustacks rebase") == [Command(CommandName.REBASE)]
    assert cmds("/TruStacks REBASE") == [Command(CommandName.REBASE)]


def test_commands_in_code_fences_do_not_run():
    text = "Try this:\n```\n/trustacks recreate\n```\n~~~~\n/trustacks discover\n```\n~~~~\n/trustacks help\n"
    assert cmds(text) == [Command(CommandName.HELP, line=9)]


def test_several_commands_run_in_order_with_their_lines():
    text = "LGTM, but first:\r\n/trustacks rebase\r\nthen\n/trustacks generate ci\n/trustacks profile show"
    assert [(c.name, c.line) for c in cmds(text)] == [
        (CommandName.REBASE, 2), (CommandName.GENERATE, 4), (CommandName.PROFILE_SHOW, 5)]


def test_one_bad_line_means_nothing_runs():
    out = reply("/trustacks rebase\n/trustacks generate nope")
    assert out.command is CommandName.GENERATE


def test_bot_name_is_configurable():
    assert cmds("/acmebot rules", bot_name="acmebot") == [Command(CommandName.RULES)]
    assert isinstance(parse("/trustacks rules", bot_name="acmebot", today=TODAY), Ignore)


# ---------------------------------------------------------------------------- unknown commands and bad arguments


@pytest.mark.parametrize("typo,expected", [
    ("rebse", CommandName.REBASE), ("recreat", CommandName.RECREATE), ("genrate", CommandName.GENERATE),
    ("explian", CommandName.EXPLAIN), ("waiver", CommandName.WAIVE), ("profiles", CommandName.PROFILE_SHOW),
    ("discovr", CommandName.DISCOVER), ("gap", CommandName.GAPS), ("rule", CommandName.RULES),
])
def test_unknown_command_replies_with_the_nearest_usage(typo, expected):
    out = reply(f"/trustacks {typo}")
    assert out.command is expected
    assert expected.usage in out.text and "Did you mean" in out.text


def test_unknown_command_with_nothing_close_points_to_help():
    out = reply("/trustacks deploy-to-prod now")
    assert out.command is None and texts.HELP_HINT in out.text
    assert nearest("zzzz") is None


@pytest.mark.parametrize("text,command,fragment", [
    ("/trustacks rebase now", CommandName.REBASE, "takes no argument"),
    ("/trustacks profile", CommandName.PROFILE_SHOW, "not a TruStacks command"),
    ("/trustacks profile show all", CommandName.PROFILE_SHOW, "takes no argument"),
    ("/trustacks generate dockr", CommandName.GENERATE, "generate docker"),
    ("/trustacks generate ci ci", CommandName.GENERATE, "twice"),
    ("/trustacks generate all ci", CommandName.GENERATE, "cannot be combined"),
    ("/trustacks explain soc2-cc6.1", CommandName.EXPLAIN, "not a rule ID"),
    ("/trustacks explain A-1 B-2", CommandName.EXPLAIN, "at most one"),
    ("/trustacks explain SOC2-" + "X" * 90, CommandName.EXPLAIN, "not a rule ID"),
    ("/trustacks explain SOC2-..-X", CommandName.EXPLAIN, "not a rule ID"),
    ("/trustacks help frobnicate", CommandName.HELP, "not a TruStacks command"),
    ('/trustacks rebase "unclosed', CommandName.REBASE, "check the quotes"),
    ("/trustacks waive 'SOC2-X --until 2027-01-01", CommandName.WAIVE, "check the quotes"),
])
def test_bad_arguments_reply_with_usage(text, command, fragment):
    out = reply(text)
    assert out.command is command
    assert fragment in out.text
    assert command.usage in out.text


def test_echoed_user_text_cannot_ping_or_render():
    out = reply("/trustacks @everyone <img src=x onerror=alert(1)>")
    assert "`@everyone`" in out.text and "<img" not in out.text
    out = reply("/trustacks generate `rm -rf`")
    assert out.text.startswith("`'rm` is not")  # backticks cannot break out of the inline code


# ---------------------------------------------------------------------------- waive validation


def waive(args: str) -> Reply:
    out = reply(f"/trustacks waive {args}")
    assert out.command is CommandName.WAIVE
    return out


def test_waive_refuses_constitution_rules():
    out = waive(f'TS-PROC-001 --until 2027-01-31 --reason "{REASON}"')
    assert "cannot be waived" in out.text
    assert "cannot be waived" in waive(f'ts-proc-001 --until 2027-01-31 --reason "{REASON}"').text \
        or "not a rule ID" in waive(f'ts-proc-001 --until 2027-01-31 --reason "{REASON}"').text


@pytest.mark.parametrize("until,fragment", [
    (TODAY.isoformat(), "not in the future"),
    ((TODAY - timedelta(days=1)).isoformat(), "not in the future"),
    ("2020-01-01", "not in the future"),
    ((TODAY + timedelta(days=MAX_WAIVER_DAYS + 1)).isoformat(), "days away"),
    ("31/01/2027", "not an ISO-8601 date"),
    ("tomorrow", "not an ISO-8601 date"),
    ("2027-02-30", "not an ISO-8601 date"),
    ("9" * 60, "not an ISO-8601 date"),
])
def test_waive_dates(until, fragment):
    assert fragment in waive(f'SOC2-CC6.1-X --until {until} --reason "{REASON}"').text


def test_waive_accepts_the_limits():
    tomorrow = TODAY + timedelta(days=1)
    last = TODAY + timedelta(days=MAX_WAIVER_DAYS)
    for day in (tomorrow, last):
        assert cmds(f'/trustacks waive SOC2-CC6.1-X --until {day} --reason "{REASON}"')[0].until == day
    exact = "r" * MIN_REASON_CHARS
    assert cmds(f"/trustacks waive SOC2-CC6.1-X --until {tomorrow} --reason {exact}")[0].reason == exact


@pytest.mark.parametrize("args,fragment", [
    ("--until 2027-01-31 --reason 'because reasons'", "Name the rule"),
    ("SOC2-CC6.1-X --reason 'because reasons'", "needs an expiry"),
    ("SOC2-CC6.1-X --until --reason 'because reasons'", "needs an expiry"),
    ("SOC2-CC6.1-X --until 2027-01-31 2027-02-01 --reason 'because reasons'", "exactly one date"),
    ("SOC2-CC6.1-X --until 2027-01-31", "needs a reason"),
    ("SOC2-CC6.1-X --until 2027-01-31 --reason", "needs a reason"),
    ("SOC2-CC6.1-X --until 2027-01-31 --reason '   '", "needs a reason"),
    ("SOC2-CC6.1-X --until 2027-01-31 --reason short", "too short"),
    (f"SOC2-CC6.1-X --until 2027-01-31 --reason '{'x' * (MAX_REASON_CHARS + 1)}'", "too long"),
    ("SOC2-CC6.1-X --until 2027-01-31 --reason 'because reasons' --approver me", "not an option"),
    ("SOC2-CC6.1-X --until 2027-01-31 --until 2027-02-01 --reason 'because reasons'", "given twice"),
    ("SOC2-CC6.1-X OTHER-1 --until 2027-01-31 --reason 'because reasons'", "takes no argument"),
    ("lowercase-id --until 2027-01-31 --reason 'because reasons'", "not a rule ID"),
])
def test_waive_argument_errors(args, fragment):
    assert fragment in waive(args).text


# ---------------------------------------------------------------------------- hostile input


def test_a_megabyte_comment_is_refused_without_reading_it():
    filler = ("lorem ipsum dolor sit amet " * 40 + "\n") * 1000
    assert len(filler) > 1_000_000
    assert isinstance(parse(filler, today=TODAY), Ignore)
    out = reply("/trustacks rebase\n" + filler)
    assert str(MAX_COMMENT_BYTES) in out.text
    # multi-byte characters count as bytes, not characters
    wide = "/trustacks help\n" + "é" * (MAX_COMMENT_BYTES // 2)
    assert len(wide) < MAX_COMMENT_BYTES and isinstance(parse(wide, today=TODAY), Reply)


@pytest.mark.parametrize("payload", [
    "/trustacks rebase\x00", "/trustacks \x1b[31mrebase", "/trustacks help\n\x7f",
    "/trustacks waive SOC2-X-1 --until 2027-01-31 --reason 'ok \u202e gnirts desrever'",
    "/trustacks help \ud800",
])
def test_binary_and_control_characters_are_refused(payload):
    assert reply(payload).text == texts.BINARY


def test_binary_without_a_command_is_ignored():
    assert isinstance(parse("\x00\x01\x02 random bytes", today=TODAY), Ignore)
    assert isinstance(parse(b"\xff\xfe\x00garbage", today=TODAY), Ignore)  # type: ignore[arg-type]
    assert cmds(b"/trustacks rules") == [Command(CommandName.RULES)]  # type: ignore[arg-type]


def test_too_many_commands_and_too_long_lines():
    many = "\n".join(["/trustacks help"] * (MAX_COMMANDS + 1))
    assert "at most" in reply(many).text
    assert len(cmds("\n".join(["/trustacks help"] * MAX_COMMANDS))) == MAX_COMMANDS
    long = "/trustacks explain " + "A" * MAX_LINE_CHARS
    assert "characters long" in reply(long).text


def test_empty_and_non_text_inputs_are_ignored():
    for value in ("", "   ", "\n\n", None, 42):
        assert isinstance(parse(value, today=TODAY), Ignore)  # type: ignore[arg-type]


def test_shell_metacharacters_are_just_text():
    out = reply("/trustacks generate ci; rm -rf / && curl evil | sh")
    assert out.command is CommandName.GENERATE  # `ci;` is an unknown target, nothing is executed
    out = reply("/trustacks explain $(whoami)")
    assert "not a rule ID" in out.text


# ---------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_raises_on_arbitrary_text(text):
    out = parse(text, today=TODAY)
    assert isinstance(out, (list, Reply, Ignore))


_FRAGMENTS = st.sampled_from([
    "/trustacks", "/TRUSTACKS", " ", "\n", "\r\n", "help", "waive", "generate", "explain", "profile", "show",
    "--until", "--reason", "--until=", "2027-01-31", "2020-01-01", "'", '"', "\\", "SOC2-CC6.1-X", "TS-PROC-1",
    "ci", "all", "```", "    ", "é", "\x00", "\u202e", "--", "=", "#",
])


@settings(max_examples=500, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=30).map("".join))
def test_parse_never_raises_on_command_like_text(text):
    out = parse(text, today=TODAY)
    assert isinstance(out, (list, Reply, Ignore))
    if isinstance(out, list):
        assert 1 <= len(out) <= MAX_COMMANDS
        for command in out:
            assert isinstance(command.name, CommandName)
            if command.name is CommandName.WAIVE:
                assert command.rule and not command.rule.upper().startswith("TS-")
                assert command.until is not None and command.until > TODAY
                assert command.reason and MIN_REASON_CHARS <= len(command.reason) <= MAX_REASON_CHARS
    if isinstance(out, Reply):
        assert out.text.strip()
