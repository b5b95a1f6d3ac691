"""Golden three-way cases: fixtures/merge/<case>/{base,current,generated,expected,case.json}.

`base` is what the bot generated last time (absent: preserve mode), `current` is the human's file,
`generated` is the generator's new output and `expected` the file after the merge. `case.json` names
the repository path (it decides YAML or line-wise), the mode, and the keys of the expected conflicts
and kept-value notes. The scenario of the issue's "done when" is `workflow-human-edits` and
`values-human-edits`: the human edited the generated workflow and values.yaml, the generator moved on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.merge import GeneratedLock, merge_file

from .helpers import FIXTURES, load_all, read_text

CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and (p / "case.json").exists())


def _read(case: Path, name: str) -> str | None:
    path = case / name
    return read_text(path) if path.exists() else None


def test_cases_cover_the_issue() -> None:
    names = {c.name for c in CASES}
    assert {"workflow-human-edits", "values-human-edits", "preserve-existing-workflow", "dockerfile-linewise",
            "dockerfile-conflict", "helm-template-linewise", "unparseable-current", "multidoc-manifests",
            "crlf-values", "bom-workflow", "compose-anchors", "gitlab-ci-jobs"} <= names


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case(case: Path) -> None:
    meta = json.loads((case / "case.json").read_text())
    current, base, generated, expected = (_read(case, n) for n in ("current", "base", "generated", "expected"))
    assert current is not None and generated is not None and expected is not None

    # the base travels through the lock exactly as the pipeline would store and read it
    lock = GeneratedLock()
    if base is not None:
        lock.record(meta["path"], base, generator="test", version="1")
    lock = GeneratedLock.loads(lock.dumps())
    result = merge_file(meta["path"], current=current, base=lock.base_for(meta["path"]), generated=generated)

    assert result.final == expected
    assert result.mode == meta["mode"]
    assert sorted(n.key for n in result.conflicts) == sorted(meta["conflicts"])
    assert sorted(n.key for n in result.notes) == sorted(meta["notes"])
    assert all(n.conflict for n in result.conflicts) and not any(n.conflict for n in result.notes)
    assert all(n.path == meta["path"] for n in [*result.notes, *result.conflicts])
    assert result.changed == (expected != current)
    assert "<<<<<<<" not in expected and ">>>>>>>" not in expected
    if "error" in meta:
        assert result.error is not None and meta["error"] in result.error
        assert result.content is None
        return
    assert result.error is None
    if result.strategy == "yaml":
        # a second run over the merged file has nothing left to do
        again = merge_file(meta["path"], current=expected, base=base, generated=generated)
        assert again.content is None
        assert sorted(n.key for n in again.conflicts) == sorted(meta["conflicts"])


def test_conflicting_human_value_is_the_one_kept() -> None:
    case = FIXTURES / "values-human-edits"
    result = merge_file("values.yaml", current=read_text(case / "current"), base=read_text(case / "base"),
                        generated=read_text(case / "generated"))
    merged = load_all(result.final)[0]
    assert merged["image"]["tag"] == "1.15.0-rc1"  # both changed it: the human's stays
    assert merged["replicaCount"] == 6  # only the human changed it
    assert merged["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}  # only the generator changed it
    assert "nameOverride" not in merged  # the generator dropped it, the human never touched it
    assert merged["ingress"]["enabled"] is True  # the generator dropped it, but the human had changed it
    assert [e["name"] for e in merged["env"]] == ["LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT", "FEATURE_LEDGER_V2"]
    assert merged["env"][0]["value"] == "debug"
    conflict = next(n for n in result.conflicts if n.key == "image.tag")
    assert '"1.15.0-rc1"' in conflict.message and '"1.15.0"' in conflict.message and '"1.14.2"' in conflict.message
