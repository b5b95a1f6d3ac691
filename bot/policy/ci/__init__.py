"""CI pipeline files parsed into steps, one module per CI system, registered in `PARSERS`.

Policy rules decide on facts, not raw text (DESIGN.md §7): each parser turns one pipeline file into a
`CiDocument` (its steps with line numbers, permissions blocks, OIDC declarations, calls to reusable
pipelines), and `classify.py` derives what the steps do (build, push, test, SBOM, sign, attest, scan,
authenticate, upload source, auto-merge). A parser returns None for a file that is not its kind and
a document with `error` set for a file it cannot read, never an exception.

Adding a CI system: a module with a `PARSER` object (`system`, `claims(path, text)`, `parse(path,
text)`), one line in `PARSERS`, and a test (tests/policy/test_ci_registry.py checks the list).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Mapping, Protocol


@dataclass(frozen=True)
class Step:
    """One step (or script line) of a pipeline: what it runs and with which inputs."""

    line: int
    job: str = ""
    uses: str = ""  # action, task, template or image reference
    run: str = ""  # shell text
    params: Mapping[str, str] = field(default_factory=dict)  # with: / inputs: / task params
    env: Mapping[str, str] = field(default_factory=dict)
    continue_on_error: bool = False
    #: line of the first line of `run` (multi-line scripts: line of a match = run_line + offset)
    run_line: int = 0


@dataclass
class CiDocument:
    path: str
    system: str
    steps: list[Step] = field(default_factory=list)
    #: {"scope": "workflow"|"job <id>", "line": int, "value": "write-all"|"read-all"|{...}}
    permissions: list[dict] = field(default_factory=list)
    id_token_write: bool = False
    oidc_declared: bool = False  # GitLab id_tokens, Azure workload identity
    calls: list[str] = field(default_factory=list)  # local reusable pipelines this file calls
    images: list[tuple[str, int]] = field(default_factory=list)  # job/container images (ref, line)
    error: str | None = None


class CiParser(Protocol):
    system: str

    def claims(self, path: str, text: str) -> bool:
        """Whether this file belongs to this CI system (cheap: path and a substring or two)."""
        ...

    def parse(self, path: str, text: str) -> CiDocument:
        ...


@functools.lru_cache(maxsize=1)
def _parsers() -> tuple[CiParser, ...]:
    from bot.policy.ci import azure_pipelines, github_actions, gitlab_ci, jenkins, tekton

    return (
        github_actions.PARSER,
        gitlab_ci.PARSER,
        azure_pipelines.PARSER,
        jenkins.PARSER,
        tekton.PARSER,
    )


def parsers() -> tuple[CiParser, ...]:
    """The registered parsers, in the order they are asked to claim a file."""
    return _parsers()


def parse_ci(path: str, text: str) -> CiDocument | None:
    """The first parser that claims the file parses it; None when it is not a pipeline file."""
    for parser in _parsers():
        if parser.claims(path, text):
            return parser.parse(path, text)
    return None
