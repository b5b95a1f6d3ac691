"""Reference for the secret scan: the per-keyword algorithm `bot/policy/secret_scan.py` replaced.

Kept only for the differential tests (`test_secret_scan_equivalence.py`): one `str.find` pass per
keyword over the whole change, then `_LITERAL` tried at every occurrence of every literal keyword.
It reads the patterns, keywords and filters from the real module, so the tests compare the two
search algorithms, never two copies of the pattern table.
"""

from __future__ import annotations

import bisect
from typing import Iterator, Sequence

from bot.policy import secret_scan as real
from bot.policy.secret_scan import SecretHit


def scan_many(files: Sequence[tuple[str, str, str | None]]) -> list[SecretHit]:
    texts = [t[: real.MAX_SCAN_BYTES] for _, t, _ in files]
    lowers = [t.lower() for t in texts]
    big = "\x00".join(lowers)
    starts, pos = [], 0
    for low in lowers:
        starts.append(pos)
        pos += len(low) + 1
    present: list[set[str]] = [set() for _ in files]
    for kw in real._ALL_KEYWORDS:
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
    for pat in real.PATTERNS:
        if present.isdisjoint(pat.keywords):
            continue
        for m in pat.regex.finditer(text):
            value = m.group(0)
            if pat.kind == "AWS access key id" and "EXAMPLE" in text[m.start(): m.end() + 8]:
                continue
            preview = (value[: pat.preview] + "****") if pat.preview else ""
            hits.append((m.start(), pat.kind, preview))
            if len(hits) >= real.MAX_HITS_PER_FILE:
                break
    literal_kws = present & real._LITERAL_KEYWORDS
    if literal_kws:
        hits += _literals(path, text, lower, literal_kws)
    if not hits:
        return []
    old_lines = {x.strip() for x in old.split("\n")} if old else set()
    lines = text.split("\n")
    out: dict[tuple[int, str], SecretHit] = {}
    for offset, kind, preview in sorted(hits)[: real.MAX_HITS_PER_FILE]:
        line_no = text.count("\n", 0, offset) + 1
        introduced = lines[line_no - 1].strip() not in old_lines
        out.setdefault((line_no, kind), SecretHit(path, line_no, kind, preview, introduced))
    specific = {line for line, kind in out if kind not in real._GENERIC}
    return [h for (line, kind), h in out.items() if kind not in real._GENERIC or line not in specific]


def _literals(path: str, text: str, lower: str, keywords: set[str]) -> Iterator[tuple[int, str, str]]:
    code = path.lower().endswith(real._CODE_SUFFIXES)
    if len(lower) != len(text):
        return
    for m in _keyword_matches(lower, keywords):
        start = m.start()
        while start > 0 and text[start - 1] in real._KEY_CHARS:
            start -= 1
        key = text[start: m.start()] + text[m.start(): m.end()].split('"')[0].split("'")[0].rstrip(" \t:=>")
        v = real._VALUE.match(text, m.end())
        if v is None:
            continue
        quote, value = v.group("q"), v.group("val")
        if code and not quote:
            continue
        if len(value) < 4 or real._NOT_LITERAL.match(value):
            continue
        if real._REFERENCE_KEYS.match(key) or (code and real._CODE_REFERENCE.search(value) and not quote):
            continue
        low = key.lower()
        is_password = "pass" in low or low.endswith("pwd")
        if not is_password and real._K8S_NAME.match(value) and "-" in value:
            continue
        if not is_password and value.isalpha() and value.islower() and len(value) < 8:
            continue
        yield (start, "password literal" if is_password else "secret literal", f"(key {key})")


def _keyword_matches(lower: str, keywords: set[str]) -> Iterator:
    seen: set[int] = set()
    for kw in sorted(keywords):
        i = lower.find(kw)
        while i >= 0:
            if i not in seen:
                seen.add(i)
                m = real._LITERAL.match(lower, i)
                if m is not None:
                    yield m
            i = lower.find(kw, i + 1)
