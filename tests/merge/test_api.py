"""The public surface the pipeline calls, and the strategy registry."""

from __future__ import annotations

import bot.merge as merge
from bot.merge import STRATEGIES, MergeMode, MergeResult, strategy_for
from bot.merge import textmerge, yamlmerge


def test_public_api() -> None:
    for name in ("merge_file", "MergeResult", "GeneratedLock", "LOCK_PATH"):
        assert name in merge.__all__ and hasattr(merge, name)
    assert {m.value for m in MergeMode} == {"create", "preserve", "three-way", "unchanged", "error"}


def test_every_strategy_is_registered_and_has_its_module() -> None:
    modules = {"yaml": yamlmerge.merge_yaml, "text": textmerge.merge_text}
    assert set(STRATEGIES) == set(modules)
    samples = {
        ".github/workflows/ci.yml": "yaml",
        "charts/app/values.yaml": "yaml",
        "charts/app/templates/deployment.yaml": "yaml",  # no template syntax in it: plain YAML
        "Dockerfile": "text",
        "Jenkinsfile": "text",
        "app.json": "text",
    }
    for path, expected in samples.items():
        assert strategy_for(path, "a: 1\n") == expected, path
        assert strategy_for(path, "a: 1\n") in STRATEGIES
    assert strategy_for("charts/app/templates/svc.yaml", "name: {{ .Values.name }}\n") == "text"
    assert strategy_for("apps/set.yaml", "name: '{{ .path.basename }}'\n") == "yaml"  # quoted: still YAML
    assert strategy_for("x.yaml", "a: {{ broken\n") == "text"  # a template outside templates/


def test_record_base_only_when_the_generator_output_was_taken_into_account() -> None:
    assert MergeResult("a", True, MergeMode.THREE_WAY).record_base
    assert MergeResult(None, False, MergeMode.PRESERVE).record_base
    assert not MergeResult(None, False, MergeMode.ERROR, error="x").record_base
    final = MergeResult(None, False, MergeMode.UNCHANGED, original="kept")
    assert final.final == "kept"
