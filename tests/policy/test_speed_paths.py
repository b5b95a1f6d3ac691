"""The shortcuts taken for speed change nothing: the composer without the tag resolver, the
evaluator's unparsed answer, and evaluation in the child against evaluation in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.policy import PolicyEngine
from bot.policy.ci import yamlnodes

from .conftest import GOOD_WORKFLOW, make_profile, make_proposal

APPS = Path(__file__).resolve().parents[2] / "fixtures" / "apps"

TRICKY = [
    "a: &x {b: 1, c: [true, 1.5, null, ~, 0x1F, 2001-12-14]}\nd:\n  <<: *x\n  b: 2\n",
    "include:\n  - !reference [.setup, script]\njob:\n  script: !!str 12\n  tags: [on, off, yes]\n",
    "---\nkind: A\n...\n---\n- 1\n- [2, {k: v}]\n",
    "steps:\n  - run: |\n      echo one\n      echo two\n    with: {x: '1', y: \"2\"}\n",
    "? [complex, key]\n: value\nplain: multi\n  line\n",
]


def _plain(node):
    """A tree with every line number made visible, for exact comparison."""
    if isinstance(node, dict):
        return ("map", node.line, dict(node.key_lines), {k: _plain(v) for k, v in node.items()})
    if isinstance(node, list):
        return ("list", node.line, [_plain(v) for v in node])
    return node


def _compose_with(loader, text):
    return [_plain(yamlnodes._build(n, [yamlnodes.MAX_NODES], 0)) for n in yaml.compose_all(text, Loader=loader) if n is not None]


def test_the_composer_without_resolver_builds_the_same_trees():
    texts = [*TRICKY, GOOD_WORKFLOW]
    texts += [f.read_text() for f in sorted(APPS.rglob("*")) if f.suffix in (".yml", ".yaml") and f.is_file()]
    assert len(texts) > 20
    for text in texts:
        try:
            expected = _compose_with(yamlnodes._Base, text)
        except yaml.YAMLError:  # e.g. a Helm template: both refuse it
            with pytest.raises(yamlnodes.YamlError):
                yamlnodes.load_all(text)
            continue
        assert _compose_with(yamlnodes._Loader, text) == expected, text[:80]
        assert [_plain(d) for d in yamlnodes.load_all(text)] == expected


NEWLINE_RULE = """package trustacks.overlay.lines

import rego.v1

metadata := {"id": "ACME-LINES-001", "title": "lines", "severity": "low", "description": "d", "remediation": "r"}

warn contains {"msg": concat("", ["first\\n", "second \\"quoted\\"\\t", input.proposal.repo]), "because": ["a\\nb"]} if {
	input.proposal.kind == "generate"
}
"""


def test_the_evaluator_answer_keeps_newlines_and_quotes_in_strings(tmp_path):
    d = tmp_path / "overlay"
    d.mkdir()
    (d / "lines.rego").write_text(NEWLINE_RULE)
    profile, proposal = make_profile(), make_proposal()
    with PolicyEngine.load(overlay_dir=d) as isolated:
        got = isolated.evaluate(proposal, profile)
    [v] = [v for v in got.warn if v.rule == "ACME-LINES-001"]
    assert v.msg == 'first\nsecond "quoted"\tacme/shop' and v.because == ("a\nb",)
    assert got == PolicyEngine.load(overlay_dir=d, isolate=False).evaluate(proposal, profile)


def test_the_child_and_this_process_decide_alike(engine_all, engine_isolated):
    profile = make_profile()
    proposals = [
        make_proposal(),
        make_proposal(files={".github/workflows/build.yml": GOOD_WORKFLOW.replace("id-token: write", "id-token: none"),
                             "values.yaml": "db:\n  password: hunter2hunter2\n"}),
        make_proposal(base_branch="main", head_branch="main", citations=[]),
    ]
    for p in proposals:
        assert engine_isolated.evaluate(p, profile) == engine_all.evaluate(p, profile)
    assert not engine_all.evaluate(proposals[1], profile).allowed
