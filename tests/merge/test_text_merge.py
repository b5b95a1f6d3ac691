"""Line-wise merge (git merge-file semantics) for Dockerfiles, Jenkinsfiles and Helm templates."""

from __future__ import annotations

import pytest

from bot.merge import merge_file

BASE = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nUSER 10001\nCMD [\"app\"]\n"


def test_non_overlapping_changes_from_both_sides_are_combined() -> None:
    current = BASE.replace("WORKDIR /app\n", "WORKDIR /app\nENV TZ=UTC\n")
    generated = BASE.replace("python:3.11", "python:3.12")
    result = merge_file("Dockerfile", current=current, base=BASE, generated=generated)
    assert result.strategy == "text" and result.mode == "three-way" and not result.conflicts
    assert result.content == current.replace("python:3.11", "python:3.12")


def test_overlapping_changes_keep_the_human_file_and_report_each_hunk() -> None:
    current = BASE.replace("USER 10001", "USER 65532")
    generated = BASE.replace("USER 10001", "USER nobody")
    result = merge_file("Dockerfile", current=current, base=BASE, generated=generated)
    assert result.content is None and result.final == current and not result.changed
    assert [n.key for n in result.conflicts] == ["line 4"]
    assert "USER nobody" in result.conflicts[0].message
    assert not result.record_base  # reported again next time, until a human resolves it


def test_crlf_human_file_merges_with_an_lf_generator_and_stays_crlf() -> None:
    current = BASE.replace("\n", "\r\n")
    generated = BASE.replace("CMD", "EXPOSE 8080\nCMD")
    result = merge_file("Dockerfile", current=current, base=BASE, generated=generated)
    assert not result.conflicts
    assert result.content == generated.replace("\n", "\r\n")


def test_bom_is_kept() -> None:
    result = merge_file("Jenkinsfile", current="\ufeff" + BASE, base=BASE, generated=BASE + "# end\n")
    assert result.content == "\ufeff" + BASE + "# end\n"


def test_without_a_base_the_human_file_is_kept_and_the_difference_reported() -> None:
    result = merge_file("Dockerfile", current=BASE, base=None, generated=BASE.replace("3.11", "3.12"))
    assert result.mode == "preserve" and result.content is None
    assert [n.key for n in result.notes] == ["(file)"] and "2 lines" in result.notes[0].message


def test_helm_templates_merge_line_wise_but_workflow_expressions_do_not_count_as_templates() -> None:
    template = "kind: Service\nmetadata:\n  name: {{ .Release.Name }}\n"
    result = merge_file("chart/templates/svc.yaml", current="# mine\n" + template, base=template,
                        generated=template + "spec: {}\n")
    assert result.strategy == "text" and result.content == "# mine\n" + template + "spec: {}\n"
    workflow = "on: push\nenv:\n  SHA: ${{ github.sha }}\n"
    assert merge_file(".github/workflows/x.yml", current=workflow, base=None, generated=workflow + "a: 1\n").strategy == "yaml"


def test_git_missing_is_an_error_not_a_rewrite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = merge_file("Dockerfile", current=BASE + "# mine\n", base=BASE, generated=BASE + "# theirs\n")
    assert result.mode == "error" and result.content is None and "git merge-file" in result.error


def test_conflict_markers_in_the_human_file_are_not_mistaken_for_a_conflict() -> None:
    current = BASE + "# <<<<<<< not a marker\n"
    result = merge_file("Dockerfile", current=current, base=BASE, generated=BASE.replace("3.11", "3.12"))
    assert not result.conflicts and result.content == current.replace("3.11", "3.12")
