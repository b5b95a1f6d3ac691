"""The CI classifiers' case-insensitive regexes and their lower-cased twins match alike.

`classify.Folded` runs a case-sensitive twin on lower-cased ASCII text because Python's engine scans
IGNORECASE alternations slowly. Hypothesis builds step strings out of the words the patterns look
for, in any case, with flags, paths and non-ASCII characters, and every Folded regex must give the
same span and group as the original IGNORECASE regex.
"""

from __future__ import annotations

import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.policy.ci import classify
from bot.policy.ci.classify import MATCHERS, Folded, fold_pattern

FOLDED = [f for f in (classify._ANY_RUN, classify._ANY_USES, classify._SCAN_WORDS, classify._AUTH_WORDS,
                      classify._UPLOAD_WORDS, *(m.run for m in MATCHERS), *(m.uses for m in MATCHERS)) if f is not None]
WORDS = sorted({w for f in FOLDED for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]{1,}", f.pattern)})
PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from([" ", "  ", "\n", "/", "@", "@v4", ":", "=", "--push", "--sbom=true", "|| true", "task:", "template:",
                     "K", "ſ", "é", "\t", "-", "."]),
    st.text(string.ascii_letters + string.digits + " -_/.:=@", max_size=6),
)


def _case(s: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if f else c for c, f in zip(s, flips + [False] * len(s)))


STEP_TEXT = st.builds(_case, st.lists(PIECES, max_size=12).map("".join), st.lists(st.booleans(), max_size=60))


def test_every_classifier_regex_has_a_twin():
    assert len(FOLDED) > 15 and all(f.twin is not None for f in FOLDED)


def test_fold_keeps_escapes_and_group_names():
    assert fold_pattern(r"(?P<g0>^Docker@\d)|\S+[A-Z]\.X(?P=g0)") == r"(?P<g0>^docker@\d)|\S+[a-z]\.x(?P=g0)"


@settings(max_examples=400, deadline=None)
@given(text=STEP_TEXT)
def test_twins_match_like_the_ignorecase_originals(text):
    for f in FOLDED:
        got, want = f.search(text), f.regex.search(text)
        assert (got and (got.span(), got.lastgroup)) == (want and (want.span(), want.lastgroup)), (f.pattern[:60], text)


def test_non_ascii_text_uses_the_original():
    f = Folded(re.compile(r"snyk", re.I))
    assert f.search("ſnyk") is not None  # IGNORECASE folds the long s; lower-casing does not
    assert f.twin is not None and f.twin.search("ſnyk".lower()) is None
