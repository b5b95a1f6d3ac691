"""Secret-pattern scan: where a change puts credentials, reported by path:line and kind, never by value.

Feeds TS-CRED-001 (DESIGN.md §3: no long-lived static credentials in code or CI configuration). Each
pattern has cheap keywords checked first with substring search, so a clean file costs a few
microseconds; the regular expression runs only on files that contain a keyword. A hit records the
kind and at most a redacted prefix (`AKIA****`) or the key name of a `password:` literal: the value
itself never enters the facts, the policy messages or the logs.

Reference formats: AWS key IDs (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html),
GitHub tokens (https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/),
GitLab tokens (https://docs.gitlab.com/security/tokens/), PEM private keys (RFC 7468).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

MAX_SCAN_BYTES = 1_000_000
MAX_HITS_PER_FILE = 50


@dataclass(frozen=True)
class SecretPattern:
    kind: str
    #: lower-case substrings; the regex runs only on files containing one. Few and short on purpose:
    #: each absent keyword costs one pass over the whole change (~0.1 ms per 240 KiB)
    keywords: tuple[str, ...]
    regex: re.Pattern[str]
    #: characters of the match shown before `****` (0: show nothing but the kind)
    preview: int = 0


PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("AWS access key id", ("akia", "abia", "acca"), re.compile(r"\b(?:AKIA|ABIA|ACCA)[0-9A-Z]{16}\b"), 4),
    SecretPattern(
        "AWS secret access key",
        ("secret",),
        re.compile(r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),
    ),
    SecretPattern("GCP service account key", ("service_account",), re.compile(r'"type"\s*:\s*"service_account"')),
    SecretPattern("Google API key", ("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), 4),
    SecretPattern("Azure storage account key", ("accountkey",), re.compile(r"(?i)AccountKey=[A-Za-z0-9+/=]{80,90}")),
    SecretPattern("Azure client secret", ("q~",), re.compile(r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])")),
    SecretPattern("Azure SAS token", ("sig=",), re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{40,}")),
    SecretPattern(
        "private key",
        ("private",),
        re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    ),
    SecretPattern("GitHub token", ("gh",),
                  re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"), 4),
    SecretPattern("GitLab token", ("glpat-",), re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b"), 6),
    SecretPattern("Slack token", ("xox",), re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"), 5),
    SecretPattern("Slack webhook", ("hooks.slack",),
                  re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+")),
    SecretPattern("Stripe live key", ("_live_",), re.compile(r"\b[sr]k_live_[0-9a-zA-Z]{24,}\b"), 8),
    SecretPattern("npm token", ("npm_",), re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), 4),
    SecretPattern("PyPI token", ("pypi-",), re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"), 5),
)

# `password: value` style literals: the key names a secret, the value is a literal, not a reference.
_LITERAL_KEYWORDS = frozenset({"passw", "pwd", "secret", "token", "api", "access", "private"})
# The key's last word, then the separator: a literal alternation the regex engine scans quickly; the
# rest of the key is read backwards from the match and the value forwards (no backtracking regex).
_LITERAL = re.compile(r"""(?:passw(?:or)?d|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key)["']?[ \t]*(?::|=>|=)[ \t]*""")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_VALUE = re.compile(r"""(?P<q>["']?)(?P<val>[^\s"'#,;)}\]]+)(?P=q)""")
_ALL_KEYWORDS = tuple(sorted({k for p in PATTERNS for k in p.keywords} | _LITERAL_KEYWORDS))
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
    """`scan` over many files at once: each keyword is searched for once over all of them."""
    texts = [t[:MAX_SCAN_BYTES] for _, t, _ in files]
    lowers = [t.lower() for t in texts]
    big = "\x00".join(lowers)
    starts, pos = [], 0
    for low in lowers:
        starts.append(pos)
        pos += len(low) + 1
    present: list[set[str]] = [set() for _ in files]
    for kw in _ALL_KEYWORDS:
        i = big.find(kw)
        while i >= 0:
            idx = bisect.bisect_right(starts, i) - 1
            present[idx].add(kw)
            nxt = idx + 1
            i = big.find(kw, starts[nxt]) if nxt < len(starts) else -1
    out: list[SecretHit] = []
    for (path, _, old), text, lower, found in zip(files, texts, lowers, present):
        if found:
            out += _scan_one(path, text, lower, found, old)
    return out


def _scan_one(path: str, text: str, lower: str, present: set[str], old: str | None) -> list[SecretHit]:
    hits: list[tuple[int, str, str]] = []
    for pat in PATTERNS:
        if present.isdisjoint(pat.keywords):
            continue
        for m in pat.regex.finditer(text):
            value = m.group(0)
            if pat.kind == "AWS access key id" and "EXAMPLE" in text[m.start(): m.end() + 8]:
                continue  # AWS's documented example key
            preview = (value[: pat.preview] + "****") if pat.preview else ""
            hits.append((m.start(), pat.kind, preview))
            if len(hits) >= MAX_HITS_PER_FILE:
                break
    literal_kws = present & _LITERAL_KEYWORDS
    if literal_kws:
        hits += _literals(path, text, lower, literal_kws)
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


def _literals(path: str, text: str, lower: str, keywords: set[str]) -> Iterator[tuple[int, str, str]]:
    code = path.lower().endswith(_CODE_SUFFIXES)
    # The regex is tried only where a keyword occurs, case-sensitively on the lower-cased text;
    # offsets carry over only when lower-casing kept every character's length (ASCII does).
    if len(lower) != len(text):
        return
    for m in _keyword_matches(lower, keywords):
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


def _keyword_matches(lower: str, keywords: set[str]) -> Iterator[re.Match[str]]:
    seen: set[int] = set()
    for kw in sorted(keywords):
        i = lower.find(kw)
        while i >= 0:
            if i not in seen:
                seen.add(i)
                m = _LITERAL.match(lower, i)
                if m is not None:
                    yield m
            i = lower.find(kw, i + 1)


def _stripped_lines(text: str) -> Iterator[str]:
    for line in text.split("\n"):
        yield line.strip()
