"""Secret-pattern scan: where a change puts credentials, reported by path:line and kind, never by value.

Feeds TS-CRED-001 (DESIGN.md §3: no long-lived static credentials in code or CI configuration). Each
pattern has cheap keywords; one Aho-Corasick pass (`ahocorasick_rs`) over the lower-cased text of the
whole change finds every occurrence of every keyword at once, so a clean file costs nothing but its
share of that pass. A pattern's regular expression runs only on files that contain one of its
keywords, and the `password:` literal matcher is tried only at the keyword offsets the pass found.
A hit records the kind and at most a redacted prefix (`AKIA****`) or the key name of a `password:`
literal: the value itself never enters the facts, the policy messages or the logs.

Reference formats: AWS key IDs (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html),
GitHub tokens (https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/),
GitLab tokens (https://docs.gitlab.com/security/tokens/), PEM private keys (RFC 7468).
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Iterator, Sequence

import ahocorasick_rs

MAX_SCAN_BYTES = 1_000_000
MAX_HITS_PER_FILE = 50


@dataclass(frozen=True)
class SecretPattern:
    kind: str
    #: lower-case substrings; the regex runs only on files containing one (all keywords of all
    #: patterns are found together in one Aho-Corasick pass, so adding one costs next to nothing)
    keywords: tuple[str, ...]
    regex: re.Pattern[str]
    #: characters of the match shown before `****` (0: show nothing but the kind)
    preview: int = 0
    #: every match starts this many characters before an occurrence of a keyword (a case-sensitive
    #: literal at a fixed place): the regex is tried only there instead of at every offset of the file
    anchor: int | None = None
    #: lower-case substrings every match also contains: on ASCII text the regex is skipped unless all
    #: are present (on other text IGNORECASE folds e.g. `ſ` to `s`, which lower-casing does not)
    requires: tuple[str, ...] = ()


PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("AWS access key id", ("akia", "abia", "acca"), re.compile(r"\b(?:AKIA|ABIA|ACCA)[0-9A-Z]{16}\b"), 4,
                  anchor=0),
    SecretPattern(
        "AWS secret access key",
        ("secret",),
        re.compile(r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),
        requires=("aws", "access"),
    ),
    SecretPattern("GCP service account key", ("service_account",), re.compile(r'"type"\s*:\s*"service_account"')),
    SecretPattern("Google API key", ("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), 4, anchor=0),
    SecretPattern("Azure storage account key", ("accountkey",), re.compile(r"(?i)AccountKey=[A-Za-z0-9+/=]{80,90}")),
    SecretPattern("Azure client secret", ("q~",), re.compile(r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])"),
                  anchor=4),
    SecretPattern("Azure SAS token", ("sig=",), re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{40,}")),
    SecretPattern(
        "private key",
        ("private",),
        re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    ),
    SecretPattern("GitHub token", ("gh", "github_pat_"),  # "github_pat_" holds no "gh"
                  re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"), 4, anchor=0),
    SecretPattern("GitLab token", ("glpat-",), re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b"), 6, anchor=0),
    SecretPattern("Slack token", ("xox",), re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"), 5, anchor=0),
    SecretPattern("Slack webhook", ("hooks.slack",),
                  re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+")),
    SecretPattern("Stripe live key", ("_live_",), re.compile(r"\b[sr]k_live_[0-9a-zA-Z]{24,}\b"), 8, anchor=2),
    SecretPattern("npm token", ("npm_",), re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), 4, anchor=0),
    SecretPattern("PyPI token", ("pypi-",), re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"), 5, anchor=0),
)

# `password: value` style literals: the key names a secret, the value is a literal, not a reference.
_LITERAL_KEYWORDS = frozenset({"passw", "pwd", "secret", "token", "api", "access", "private"})
# The key's last word, then the separator: a literal alternation the regex engine scans quickly; the
# rest of the key is read backwards from the match and the value forwards (no backtracking regex).
_LITERAL = re.compile(r"""(?:passw(?:or)?d|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key)["']?[ \t]*(?::|=>|=)[ \t]*""")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_VALUE = re.compile(r"""(?P<q>["']?)(?P<val>[^\s"'#,;)}\]]+)(?P=q)""")
_ALL_KEYWORDS = tuple(sorted({k for p in PATTERNS for k in (*p.keywords, *p.requires)} | _LITERAL_KEYWORDS))
# keyword -> indexes of the PATTERNS it selects
_BY_KEYWORD = MappingProxyType({k: tuple(i for i, p in enumerate(PATTERNS) if k in p.keywords) for k in _ALL_KEYWORDS})
_CODE_SUFFIXES = (".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".java", ".kt", ".cs", ".rb", ".php", ".rs", ".scala", ".groovy", ".swift")
_NOT_LITERAL = re.compile(
    r"""^(?:\$|\{\{|%\{|<|\(|@|\*{3,}|x{4,}|true$|false$|null$|none$|nil$|yes$|no$|~$|redacted$|changeit$|example$|dummy$|placeholder$|replace[_-]?me$|your[_-])""",
    re.I,
)
# keys that name a reference to a secret (a Kubernetes Secret name, a file path), not a secret
_REFERENCE_KEYS = re.compile(r"(?i)^(?:existing|tls|ca[_.-]|imagepull|pull|kube|service[_.-]?account)")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CODE_REFERENCE = re.compile(r"[\[(.]")


_GENERIC = frozenset({"password literal", "secret literal"})


@dataclass(frozen=True)
class SecretHit:
    path: str
    line: int
    kind: str
    preview: str  # "AKIA****", "(key db_password)" or ""
    introduced: bool

    @property
    def at(self) -> str:
        return f"{self.path}:{self.line}"

    def to_fact(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "at": self.at, "kind": self.kind, "preview": self.preview,
                "introduced": self.introduced}


def scan(path: str, text: str, *, old: str | None = None) -> list[SecretHit]:
    """Secret-like values in `text`. A hit on a line that `old` already had is `introduced=False`."""
    return scan_many([(path, text, old)])


def scan_many(files: Sequence[tuple[str, str, str | None]]) -> list[SecretHit]:
    """`scan` over many files at once: one keyword pass over all of them, then per-file checks."""
    return [h for hits in scan_each(files) for h in hits]


def scan_each(files: Sequence[tuple[str, str, str | None]]) -> list[list[SecretHit]]:
    """`scan_many`, with the hits of each file apart (in the order of `files`)."""
    texts = [t[:MAX_SCAN_BYTES] for _, t, _ in files]
    lowers = [t.lower() for t in texts]
    found = keyword_offsets(lowers)
    return [_scan_one(path, text, lower, offsets, old) if offsets else []
            for (path, _, old), text, lower, offsets in zip(files, texts, lowers, found)]


@functools.lru_cache(maxsize=1)
def _automaton() -> ahocorasick_rs.AhoCorasick:
    """Every keyword (lower case), built once; matches are reported as (index into _ALL_KEYWORDS, start, end)."""
    return ahocorasick_rs.AhoCorasick(list(_ALL_KEYWORDS))


_SURROGATE = re.compile("[\ud800-\udfff]")


def keyword_offsets(lowers: Sequence[str]) -> list[dict[str, list[int]]]:
    """For each (lower-cased) text: keyword -> start offsets of every occurrence, overlaps included.

    The texts are joined with NUL (no keyword contains one, so no match spans two texts) and
    searched in one pass. Offsets are character offsets into each text.
    """
    big = "\x00".join(lowers)
    starts, pos = [], 0
    for low in lowers:
        starts.append(pos)
        pos += len(low) + 1
    try:
        matches = _automaton().find_matches_as_indexes(big, overlapping=True)
    except UnicodeEncodeError:  # lone surrogates cannot be UTF-8 encoded; one char each keeps offsets
        matches = _automaton().find_matches_as_indexes(_SURROGATE.sub("\ufffd", big), overlapping=True)
    out: list[dict[str, list[int]]] = [{} for _ in lowers]
    idx, lo, hi = -1, 0, -1  # the text [lo, hi) the previous match fell in
    for kw, start, _end in matches:
        if not lo <= start < hi:
            idx = bisect.bisect_right(starts, start) - 1
            lo, hi = starts[idx], starts[idx + 1] if idx + 1 < len(starts) else pos
        out[idx].setdefault(_ALL_KEYWORDS[kw], []).append(start - lo)
    return out


def _scan_one(path: str, text: str, lower: str, offsets: dict[str, list[int]], old: str | None) -> list[SecretHit]:
    hits: list[tuple[int, str, str]] = []
    is_ascii, aligned = text.isascii(), len(lower) == len(text)  # aligned: offsets in `lower` are offsets in `text`
    for index in sorted({i for k in offsets for i in _BY_KEYWORD[k]}):  # PATTERNS order, as hits are capped
        pat = PATTERNS[index]
        if is_ascii and not all(r in offsets for r in pat.requires):
            continue
        found = _anchored(pat, text, offsets) if pat.anchor is not None and aligned else pat.regex.finditer(text)
        for m in found:
            value = m.group(0)
            if pat.kind == "AWS access key id" and "EXAMPLE" in text[m.start(): m.end() + 8]:
                continue  # AWS's documented example key
            preview = (value[: pat.preview] + "****") if pat.preview else ""
            hits.append((m.start(), pat.kind, preview))
            if len(hits) >= MAX_HITS_PER_FILE:
                break
    at = {i for kw in _LITERAL_KEYWORDS if kw in offsets for i in offsets[kw]}
    if at:
        hits += _literals(path, text, lower, sorted(at))
    if not hits:
        return []
    old_lines = set(_stripped_lines(old)) if old else set()
    lines = text.split("\n")
    out: dict[tuple[int, str], SecretHit] = {}
    for offset, kind, preview in sorted(hits)[:MAX_HITS_PER_FILE]:
        line_no = text.count("\n", 0, offset) + 1
        introduced = lines[line_no - 1].strip() not in old_lines
        out.setdefault((line_no, kind), SecretHit(path, line_no, kind, preview, introduced))
    specific = {line for line, kind in out if kind not in _GENERIC}
    return [h for (line, kind), h in out.items() if kind not in _GENERIC or line not in specific]


def _anchored(pat: SecretPattern, text: str, offsets: dict[str, list[int]]) -> Iterator[re.Match[str]]:
    """What `pat.regex.finditer(text)` yields, trying the regex only where a match can start.

    No match can start anywhere else (`SecretPattern.anchor`), so the first candidate at or after the
    end of the previous match that matches is the next leftmost match, exactly as finditer finds it.
    """
    starts = sorted({i - pat.anchor for k in pat.keywords for i in offsets.get(k, ()) if i >= pat.anchor})  # type: ignore[operator]
    end = 0
    for start in starts:
        if start < end:
            continue
        m = pat.regex.match(text, start)
        if m is not None:
            end = max(m.end(), start + 1)
            yield m


def _literals(path: str, text: str, lower: str, offsets: Iterable[int]) -> Iterator[tuple[int, str, str]]:
    """`key: value` literals whose key ends in a literal keyword found at one of `offsets`."""
    code = path.lower().endswith(_CODE_SUFFIXES)
    # The regex is tried only where a keyword occurs, case-sensitively on the lower-cased text;
    # offsets carry over only when lower-casing kept every character's length (ASCII does).
    if len(lower) != len(text):
        return
    for i in offsets:
        m = _LITERAL.match(lower, i)
        if m is None:
            continue
        start = m.start()
        while start > 0 and text[start - 1] in _KEY_CHARS:
            start -= 1
        key = text[start: m.start()] + text[m.start(): m.end()].split('"')[0].split("'")[0].rstrip(" \t:=>")
        v = _VALUE.match(text, m.end())
        if v is None:
            continue
        quote, value = v.group("q"), v.group("val")
        if code and not quote:
            continue  # in code an unquoted value is an expression, not a literal
        if len(value) < 4 or _NOT_LITERAL.match(value):
            continue
        if _REFERENCE_KEYS.match(key) or (code and _CODE_REFERENCE.search(value) and not quote):
            continue
        low = key.lower()
        is_password = "pass" in low or low.endswith("pwd")
        if not is_password and _K8S_NAME.match(value) and "-" in value:
            continue  # `tokenSecret: my-app-token` names a Kubernetes object
        if not is_password and value.isalpha() and value.islower() and len(value) < 8:
            continue  # `secret: enabled`, `token: auto`: words, not secrets
        yield (start, "password literal" if is_password else "secret literal", f"(key {key})")


def _stripped_lines(text: str) -> Iterator[str]:
    for line in text.split("\n"):
        yield line.strip()
