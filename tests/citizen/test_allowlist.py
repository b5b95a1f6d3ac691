"""The server-wide repo filter: globs per segment, `!` negation, last match wins, exact case."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from bot.allowlist import RepoFilter, RepoFilterError, glob_match


def test_org_glob_with_negation():
    f = RepoFilter.parse("org/*,!org/legacy-*")
    assert f.allows("org/app")
    assert not f.allows("org/legacy-billing")
    assert not f.allows("other/app"), "an allowlist denies repos no pattern matches"


def test_last_match_wins_both_ways():
    f = RepoFilter.parse("org/*, !org/legacy-*, org/legacy-keep")
    assert f.allows("org/legacy-keep")
    assert not f.allows("org/legacy-old")
    reordered = RepoFilter.parse("org/legacy-keep, org/*, !org/legacy-*")
    assert not reordered.allows("org/legacy-keep")


def test_denylist_only_allows_the_rest():
    f = RepoFilter.parse("!org/legacy-*")
    assert f.allows("org/app") and f.allows("elsewhere/x")
    assert not f.allows("org/legacy-1")


def test_empty_filter_allows_everything():
    assert RepoFilter.parse("").allows("any/repo")
    assert RepoFilter.parse(None).allows("any/repo")
    assert RepoFilter.parse("# only a comment\n\n").allows("any/repo")


def test_newlines_comments_and_spaces():
    f = RepoFilter.parse("# platform team\norg/*\n  ! org/secret  \n")
    assert [str(r) for r in f.rules] == ["org/*", "!org/secret"]
    assert not f.allows("org/secret") and f.allows("org/public")


def test_exact_case_sensitive():
    f = RepoFilter.parse("Org/App")
    assert f.allows("Org/App")
    assert not f.allows("org/app")
    assert not RepoFilter.parse("org/*,!org/legacy").allows("org/legacy")
    assert RepoFilter.parse("org/*,!org/legacy").allows("org/Legacy")


def test_star_stays_in_one_segment_and_double_star_crosses():
    assert not RepoFilter.parse("org/*").allows("org/team/app")
    assert RepoFilter.parse("org/**").allows("org/team/app")
    assert RepoFilter.parse("org/**").allows("org/app")
    assert RepoFilter.parse("**/app").allows("org/team/app")
    assert not RepoFilter.parse("org/**/app").allows("org/team/other")
    assert RepoFilter.parse("org/**/app").allows("org/app")
    assert not RepoFilter.parse("*").allows("org/app")


def test_character_classes_and_question_mark():
    f = RepoFilter.parse("org/svc-[ab]?")
    assert f.allows("org/svc-a1") and f.allows("org/svc-b2")
    assert not f.allows("org/svc-c1") and not f.allows("org/svc-a12")


def test_verdict_names_the_deciding_pattern():
    f = RepoFilter.parse("org/*,!org/legacy-*")
    v = f.decide("org/legacy-x")
    assert not v.allowed and v.rule is not None and v.rule.index == 2
    assert "'!org/legacy-*'" in v.because
    assert "no allowing pattern" in f.decide("x/y").because


@pytest.mark.parametrize("text, needle", [
    ("org/*,!", "empty repo pattern"),
    ("/org/app", "empty segment"),
    ("org//app", "empty segment"),
    ("org/app/", "empty segment"),
    ("org/a**", "'**' must be a whole segment"),
    ("org/my app", "white space"),
])
def test_bad_patterns_are_refused_with_their_position(text, needle):
    with pytest.raises(RepoFilterError) as err:
        RepoFilter.parse(text)
    assert needle in str(err.value)
    assert "entry" in str(err.value)


# ---------------------------------------------------------------- properties

segment = st.text(alphabet="abcXY-_.0", min_size=1, max_size=6)
names = st.lists(segment, min_size=1, max_size=4).map("/".join)
pattern_segment = st.one_of(segment, st.sampled_from(["*", "?", "a*", "*-*", "[ab]*"]))
patterns = st.lists(st.one_of(pattern_segment, st.just("**")), min_size=1, max_size=4).map("/".join)


def _reference(name: str, pattern: str) -> bool:
    """An independent translation to one regex over "/" + name (glob_match walks segment by segment)."""
    out = ""
    for seg in pattern.split("/"):
        if seg == "**":
            out += "(?:/[^/]+)*"
            continue
        piece, j = "", 0
        while j < len(seg):
            c = seg[j]
            if c == "*":
                piece += "[^/]*"
            elif c == "?":
                piece += "[^/]"
            elif c == "[":
                end = seg.index("]", j)
                piece += "[" + seg[j + 1:end] + "]"
                j = end
            else:
                piece += re.escape(c)
            j += 1
        out += "/" + piece
    return re.fullmatch(out, "/" + name) is not None


@settings(max_examples=300, deadline=None)
@given(name=names, pattern=patterns)
def test_glob_match_agrees_with_a_regex_translation(name, pattern):
    assert glob_match(name, pattern) == _reference(name, pattern)


@settings(max_examples=200, deadline=None)
@given(pats=st.lists(patterns, max_size=5), neg=st.lists(st.booleans(), min_size=5, max_size=5), repo=names)
def test_appending_an_exact_pattern_decides(pats, neg, repo):
    text = ",".join(("!" if n else "") + p for p, n in zip(pats, neg))
    assert not RepoFilter.parse(f"{text},!{repo}").allows(repo)
    assert RepoFilter.parse(f"{text},{repo}").allows(repo)


@settings(max_examples=200, deadline=None)
@given(pats=st.lists(patterns, min_size=1, max_size=5), neg=st.lists(st.booleans(), min_size=5, max_size=5),
       repo=names)
def test_decision_is_the_last_matching_pattern(pats, neg, repo):
    rules = [(p, not n) for p, n in zip(pats, neg)]
    f = RepoFilter.parse(",".join(("" if a else "!") + p for p, a in rules))
    matching = [a for p, a in rules if glob_match(repo, p)]
    expected = matching[-1] if matching else not any(a for _, a in rules)
    assert f.allows(repo) == expected


@settings(max_examples=100, deadline=None)
@given(repo=names)
def test_a_literal_pattern_matches_only_itself(repo):
    assert RepoFilter.parse(repo).allows(repo)
    other = repo.swapcase()
    if other != repo:
        assert not RepoFilter.parse(repo).allows(other)
