"""Server-wide repo allowlist/denylist, and the segment globs it shares with the org config.

`RepoFilter.parse("org/*,!org/legacy-*")` reads a list of repo-name globs, separated by commas or
new lines (`#` starts a comment line). A pattern starting with `!` denies, any other allows. As in a
.gitignore file the **last matching pattern wins**, so `org/*,!org/legacy-*,org/legacy-keep` allows
`org/legacy-keep` and denies every other `org/legacy-*`.

When no pattern matches a repo:
- an empty filter allows every repo (no filter configured);
- a filter with at least one allowing pattern denies it (it is an allowlist);
- a filter made only of `!` patterns allows it (it is a denylist).

Globs are matched against the whole name, segment by segment (`/` separates segments):
`*` matches any run of characters inside one segment, `?` one character, `[abc]`/`[!abc]` one
character of a class, and a segment that is exactly `**` matches zero or more whole segments
(`org/**` covers GitLab subgroups: `org/team/app`). `org/*` does not match `org/team/app`.

Comparison is **exact and case-sensitive**: `Org/App` and `org/app` are different names. Callers pass
the canonical full name the forge reports in the webhook (`repository.full_name`,
`project.path_with_namespace`), and operators write patterns in that same case.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache

#: a pattern longer than this is refused (forge names are far shorter)
MAX_PATTERN_CHARS = 512
MAX_PATTERNS = 10_000


class RepoFilterError(ValueError):
    """A pattern in the filter is unusable; the message names it and its position."""


@lru_cache(maxsize=4096)
def _segments(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("/"))


def glob_match(name: str, pattern: str) -> bool:
    """True when `name` matches the segment glob `pattern` (see the module docstring), case-sensitively."""
    return _match(_segments(pattern), tuple(name.split("/")))


def _match(pat: tuple[str, ...], segs: tuple[str, ...]) -> bool:
    # Iterative over the common case, recursive only at `**` (patterns hold few of them).
    i = j = 0
    while i < len(pat):
        if pat[i] == "**":
            rest = pat[i + 1 :]
            if not rest:
                return True
            return any(_match(rest, segs[k:]) for k in range(j, len(segs) + 1))
        if j >= len(segs) or not fnmatch.fnmatchcase(segs[j], pat[i]):
            return False
        i += 1
        j += 1
    return j == len(segs)


def check_glob(pattern: str, *, what: str = "pattern") -> str | None:
    """Why `pattern` is not a usable segment glob, or None when it is."""
    if not pattern:
        return f"empty {what}"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"{what} longer than {MAX_PATTERN_CHARS} characters"
    if any(c.isspace() for c in pattern):
        return f"{what} {pattern!r} contains white space"
    if pattern.startswith("/") or pattern.endswith("/") or "//" in pattern:
        return f"{what} {pattern!r} has an empty segment (a leading, trailing or doubled '/')"
    for seg in pattern.split("/"):
        if "**" in seg and seg != "**":
            return f"{what} {pattern!r}: '**' must be a whole segment (write 'org/**' or 'org/*')"
    return None


@dataclass(frozen=True)
class Rule:
    """One pattern of the filter; `allow` is False for a `!` pattern. `index` is 1-based, in list order."""

    pattern: str
    allow: bool
    index: int

    def __str__(self) -> str:
        return ("" if self.allow else "!") + self.pattern


@dataclass(frozen=True)
class Verdict:
    """The filter's answer for one repo and the rule that decided it (None: no rule matched)."""

    allowed: bool
    rule: Rule | None

    @property
    def because(self) -> str:
        if self.rule is not None:
            verb = "allowed" if self.rule.allow else "denied"
            return f"{verb} by pattern {self.rule.index} {str(self.rule)!r} (last match wins)"
        return "allowed: no pattern matched and the filter is not an allowlist" if self.allowed \
            else "denied: no allowing pattern matched"


@dataclass(frozen=True)
class RepoFilter:
    """An ordered list of allow (`org/*`) and deny (`!org/legacy-*`) repo-name globs; last match wins."""

    rules: tuple[Rule, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> "RepoFilter":
        """Read patterns separated by commas or new lines; blank entries and `#` comment lines are skipped.

        Raises RepoFilterError naming the first unusable pattern.
        """
        rules: list[Rule] = []
        for line in (text or "").splitlines():
            if line.strip().startswith("#"):
                continue
            for item in line.split(","):
                raw = item.strip()
                if not raw:
                    continue
                allow = not raw.startswith("!")
                pattern = raw if allow else raw[1:].strip()
                problem = check_glob(pattern, what="repo pattern")
                if problem:
                    raise RepoFilterError(f"repo filter entry {len(rules) + 1} ({raw!r}): {problem}")
                rules.append(Rule(pattern=pattern, allow=allow, index=len(rules) + 1))
                if len(rules) > MAX_PATTERNS:
                    raise RepoFilterError(f"repo filter has more than {MAX_PATTERNS} patterns")
        return cls(tuple(rules))

    @property
    def is_allowlist(self) -> bool:
        """True when unmatched repos are denied (at least one allowing pattern)."""
        return any(r.allow for r in self.rules)

    def decide(self, repo: str) -> Verdict:
        """The verdict for `repo` (exact, case-sensitive) and the pattern that decided it."""
        for rule in reversed(self.rules):
            if glob_match(repo, rule.pattern):
                return Verdict(allowed=rule.allow, rule=rule)
        return Verdict(allowed=not self.is_allowlist, rule=None)

    def allows(self, repo: str) -> bool:
        """Whether the bot may act in `repo` at all."""
        return self.decide(repo).allowed

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.rules)
