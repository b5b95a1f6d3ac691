"""Hostile and broken repositories: malformed files, bombs, symlinks, huge and binary files, time limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.discovery import discover
from bot.discovery.base import Detector
from bot.discovery.engine import DETECTORS
from bot.tree import DirTree, MemoryTree

WORKFLOW = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: aquasecurity/trivy-action@0.24.0\n"


def _unparseable(result, fmt):
    return [str(e) for f in result.findings if f.category == "unparseable" and f.tool == fmt for e in f.evidence]


def test_malformed_yaml_json_toml_xml_become_unparseable_findings_not_crashes():
    tree = MemoryTree(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  build: [unclosed\n",
            "package.json": '{"name": "x", "dependencies": {"express": }',
            "pyproject.toml": '[project]\nname = "x\n',
            "pom.xml": "<project><parent><artifactId>spring-boot-starter-parent</artifactId></project>",
            "Dockerfile": "FROM python:3.12\n",
        }
    )
    result = discover(tree, repo="acme/broken")
    assert _unparseable(result, "yaml") == [".github/workflows/ci.yml:4"]
    assert _unparseable(result, "json") == ["package.json:1"]
    assert _unparseable(result, "toml") == ["pyproject.toml:2"]
    assert _unparseable(result, "xml") == ["pom.xml:1"]
    # the workflow still proves GitHub Actions even though it does not parse
    assert ("ci", "github-actions") in {f.key for f in result.findings}
    assert result.complete and not [s for s in result.skipped if s[0].startswith("<detector")]


def test_yaml_alias_bomb_is_refused_before_it_is_walked():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    tree = MemoryTree({".gitlab-ci.yml": "\n".join(lines) + "\n"})
    result = discover(tree, repo="acme/bomb", max_seconds=20)
    [finding] = [f for f in result.findings if f.category == "unparseable"]
    assert "aliases" in finding.evidence[0].snippet
    assert result.complete


def test_xml_entities_and_dtds_are_refused():
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        "<project><artifactId>&lol2;</artifactId></project>"
    )
    xxe = '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Project Sdk="Microsoft.NET.Sdk.Web">&x;</Project>'
    result = discover(MemoryTree({"pom.xml": laughs, "api/Api.csproj": xxe}), repo="acme/xml")
    assert sorted(_unparseable(result, "xml")) == ["api/Api.csproj:1", "pom.xml:1"]
    assert result.services == []


def test_unknown_yaml_tags_such_as_gitlab_reference_still_parse():
    text = ".setup:\n  script: [echo hi]\nbuild:\n  script:\n    - !reference [.setup, script]\n    - trivy image x\n"
    result = discover(MemoryTree({".gitlab-ci.yml": text}), repo="acme/tags")
    assert not _unparseable(result, "yaml")
    assert {("ci", "gitlab-ci"), ("image_scanning", "trivy")} <= {f.key for f in result.findings}


def test_helm_templates_are_not_judged_as_yaml():
    template = "{{- if .Values.ingress.enabled }}\nkind: Ingress\nspec:\n  ingressClassName: nginx\n{{- end }}\n"
    result = discover(MemoryTree({"chart/Chart.yaml": "apiVersion: v2\nname: x\nversion: 1.0.0\n",
                                  "chart/templates/ingress.yaml": template}), repo="acme/helm")
    assert ("mesh_ingress", "nginx") in {f.key for f in result.findings}
    assert not _unparseable(result, "yaml")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_out_of_the_repository_are_never_followed(tmp_path: Path):
    outside = tmp_path / "outside"
    (outside / "workflows").mkdir(parents=True)
    (outside / "workflows" / "ci.yml").write_text(WORKFLOW)
    (outside / "Jenkinsfile").write_text("pipeline { }\n")
    repo = tmp_path / "repo"
    (repo / ".github").mkdir(parents=True)
    os.symlink(outside / "workflows", repo / ".github" / "workflows")  # a linked directory
    os.symlink(outside / "Jenkinsfile", repo / "Jenkinsfile")  # a linked file
    (repo / "README.md").write_text("hello\n")
    result = discover(DirTree(repo), repo="acme/links")
    assert result.findings == []
    assert result.files_listed == 1


def test_oversized_and_binary_files_are_skipped_with_a_reason(tmp_path: Path):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "huge.yml").write_text(WORKFLOW + "#" * 5000 + "\n")
    (tmp_path / "Jenkinsfile").write_bytes(b"pipeline {\x00\x01\x02}\n")
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")
    result = discover(DirTree(tmp_path, max_file_bytes=4096), repo="acme/big")
    reasons = dict(result.skipped)
    assert reasons[".github/workflows/huge.yml"].startswith("larger than the read limit")
    assert reasons["Jenkinsfile"] == "binary file"
    assert not {("ci", "github-actions"), ("ci", "jenkins"), ("image_scanning", "trivy")} & {f.key for f in result.findings}


class _SlowTree(MemoryTree):
    def read(self, path: str) -> bytes | None:
        import time

        time.sleep(0.02)
        return super().read(path)


def test_time_budget_returns_partial_results_and_says_so():
    files = {f"svc{i}/.github/workflows/ci.yml": WORKFLOW for i in range(200)}
    result = discover(_SlowTree(files), repo="acme/slow", max_seconds=0.2)
    assert not result.complete
    assert any("time limit" in reason for _, reason in result.skipped)
    assert result.elapsed < 2.0
    assert result.files_read < 200


def test_a_failing_detector_does_not_hide_the_others():
    def boom(ctx):
        raise RuntimeError("bug")

    broken = Detector(name="broken", kinds=frozenset({"yaml"}), detect=boom)
    result = discover(MemoryTree({".github/workflows/ci.yml": WORKFLOW}), repo="acme/x", detectors=(broken, *DETECTORS))
    assert ("ci", "github-actions") in {f.key for f in result.findings}
    assert any(p == "<detector:broken>" and "RuntimeError" in r for p, r in result.skipped)


def test_nothing_from_the_repository_is_executed(tmp_path: Path):
    marker = tmp_path / "executed"
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "setup.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nfrom setuptools import setup\nsetup(install_requires=['flask'])\n"
    )
    (tmp_path / "repo" / "Dockerfile").write_text("FROM python:3.11\nEXPOSE 5000\n")
    result = discover(DirTree(tmp_path / "repo"), repo="acme/exec")
    assert not marker.exists()
    assert [(s.framework, s.port) for s in result.services] == [("flask", 5000)]
