"""The one-pass secret scan finds exactly what the per-keyword scan it replaced found.

`reference_secret_scan.py` keeps the old algorithm (one `str.find` pass per keyword); hypothesis
builds changes out of keywords in any case, key names, separators, token-shaped values, non-ASCII
and NUL characters, and both scanners must return the same hits in the same order.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.policy import secret_scan
from bot.policy.secret_scan import PATTERNS, keyword_offsets, scan_many

from . import reference_secret_scan as reference

KEYS = ["password", "db_password", "PASSWD", "pwd", "api_key", "api-key", "ApiKey", "access_key", "secret",
        "clientSecret", "token", "GITHUB_TOKEN", "private_key", "existingSecret", "tlsSecret", "aws_secret_access_key",
        "AccountKey=", "sig=", "service_account"]
VALUES = ["hunter2", "correct-horse", "${DB_PASSWORD}", "{{ .Values.pw }}", "enabled", "my-app-token", "changeit",
          "AKIA" + "Q" * 16, "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1" * 18, "github_pat_" + "b" * 30, "glpat-" + "c" * 22,
          "xoxb-1234567890-abc", "sk_live_" + "d" * 24, "npm_" + "e" * 36, "pypi-AgEIcHlwaS5vcmc" + "f" * 50,
          "AIza" + "g" * 35, "A" * 40, "x" * 86, "abc1Q~" + "h" * 32, "?sig=" + "i" * 44,
          "-----BEGIN RSA PRIVATE KEY-----", "https://hooks.slack.com/services/T0/B0/Zz", '"type": "service_account"']
SEPARATORS = [": ", "=", " = ", " => ", '": "', "': '", ":", "\t=\t"]
NOISE = ["\n", "\n", " ", "  - ", "#", '"', "'", "(", "[", "é", "İ", "ß", "\x00", "xoxox", "ghooks.slack", "passwpwd",
         "apiaccess", "secretoken", "_live_", "q~"]


def _case(s: str, flips: list[bool]) -> str:
    return "".join(c.upper() if f else c for c, f in zip(s, flips + [False] * len(s)))


FRAGMENT = st.one_of(
    st.builds(lambda k, sep, v: f"{k}{sep}{v}", st.sampled_from(KEYS), st.sampled_from(SEPARATORS), st.sampled_from(VALUES)),
    st.builds(_case, st.sampled_from(KEYS + VALUES), st.lists(st.booleans(), max_size=12)),
    st.sampled_from(NOISE),
    st.text(string.ascii_letters + string.digits + "_-~.:=/+", max_size=12),
)
TEXT = st.lists(FRAGMENT, max_size=30).map("".join)
PATHS = st.sampled_from(["values.yaml", "app.py", "deploy/x.yml", "main.go", ".env", "Jenkinsfile", "k.JS"])
FILES = st.lists(st.tuples(PATHS, TEXT, st.one_of(st.none(), TEXT)), max_size=6)


def _facts(hits):
    return [h.to_fact() for h in hits]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=FILES)
def test_one_pass_scan_equals_the_per_keyword_scan(files):
    assert _facts(scan_many(files)) == _facts(reference.scan_many(files))


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(TEXT.map(str.lower), max_size=5))
def test_keyword_offsets_are_every_occurrence(texts):
    found = keyword_offsets(texts)
    assert len(found) == len(texts)
    for text, offsets in zip(texts, found):
        expected: dict[str, list[int]] = {}
        for kw in secret_scan._ALL_KEYWORDS:
            i = text.find(kw)
            while i >= 0:
                expected.setdefault(kw, []).append(i)
                i = text.find(kw, i + 1)
        assert {k: sorted(v) for k, v in offsets.items()} == expected


def test_overlapping_and_adjacent_keywords_are_all_found():
    [offsets] = keyword_offsets(["xoxox ghooks.slack passwpwd"])
    assert offsets["xox"] == [0, 2]
    assert offsets["gh"] == [6] and offsets["hooks.slack"] == [7]
    assert offsets["passw"] == [19] and offsets["pwd"] == [24]


def test_lone_surrogates_do_not_break_the_scan():
    text = "\udcff password: hunter22\n"
    assert [(h.line, h.kind) for h in scan_many([("values.yaml", text, None)])] == [(1, "password literal")]
    assert _facts(scan_many([("values.yaml", text, None)])) == _facts(reference.scan_many([("values.yaml", text, None)]))


def test_every_pattern_still_fires_on_its_own_example():
    """No pattern was lost in the rewrite: each kind is found in a line made for it."""
    examples = {
        "AWS access key id": "key: AKIA" + "Q" * 16,
        "AWS secret access key": "aws_secret_access_key = " + "A" * 40,
        "GCP service account key": '{"type": "service_account"}',
        "Google API key": "k: AIza" + "g" * 35,
        "Azure storage account key": "DefaultEndpointsProtocol=https;AccountKey=" + "x" * 86,
        "Azure client secret": "v: abc1Q~" + "h" * 32,
        "Azure SAS token": "u: https://a.blob.core.windows.net/c?sv=1&sig=" + "i" * 44,
        "private key": "-----BEGIN RSA PRIVATE KEY-----",
        "GitHub token": "t: ghp_" + "a1" * 18,
        "GitLab token": "t: glpat-" + "c" * 22,
        "Slack token": "t: xoxb-1234567890-abc",
        "Slack webhook": "u: https://hooks.slack.com/services/T0/B0/Zz",
        "Stripe live key": "k: sk_live_" + "d" * 24,
        "npm token": "t: npm_" + "e" * 36,
        "PyPI token": "t: pypi-AgEIcHlwaS5vcmc" + "f" * 50,
    }
    assert set(examples) == {p.kind for p in PATTERNS}
    for kind, line in examples.items():
        kinds = {h.kind for h in scan_many([("notes.txt", line + "\n", None)])}
        assert kind in kinds, (kind, kinds)


def test_a_fine_grained_github_token_alone_is_found():
    """`github_pat_` contains no "gh": with "gh" as its only keyword such a file was never scanned."""
    token = "github_pat_" + "B" * 40
    assert [(h.kind, h.preview) for h in scan_many([("ci.env", f"export X={token}\n", None)])] == [("GitHub token", "gith****")]
