"""Every (language/framework x CI platform) pipeline passes its platform's validator and runs only valid shell."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.generate import validators
from tests.generate.conftest import CI_PROFILES, Corpus, pairs

CI_PAIRS = pairs(sorted(CI_PROFILES.values()))
SCHEMA_PAIRS = [p for p in CI_PAIRS if p[0] in (CI_PROFILES["github-actions"], CI_PROFILES["gitlab-ci"],
                                                 CI_PROFILES["azure-pipelines"])]


def test_every_platform_and_language_is_covered(corpus: Corpus) -> None:
    seen = {(c.ci_tool, c.service.language, c.service.framework) for c in corpus.cases.values() if c.files("ci")}
    languages = {(s.language, s.framework) for c in corpus.cases.values() for s in [c.service] if s.language}
    for tool in CI_PROFILES:
        assert {(lang, fw) for t, lang, fw in seen if t == tool} == languages, tool
    assert len(languages) == 9


@pytest.mark.parametrize("profile_name,service_name", SCHEMA_PAIRS)
def test_pipeline_passes_the_platform_schema(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    files = case.files("ci")
    assert len(files) == 1
    path = str(case.paths[files[0].path])
    assert path in corpus.schema_reports, "validator did not see the file"
    assert corpus.schema_reports[path] == []


def test_schema_validator_rejects_a_broken_pipeline(tmp_path) -> None:
    """The batch validator reports errors per file (so the tests above can fail)."""
    good = tmp_path / "good.yml"
    good.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: 'true'\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    steps: 3\n")
    report = validators.check_jsonschema("github-actions", [good, bad])
    assert report[str(good)] == [] and report[str(bad)]


# --------------------------------------------------------------------------- shell inside pipelines


def _scripts(case) -> list[tuple[str, str, str]]:
    """(label, shell, script) for every script the pipeline would run."""
    out = []
    for gen in case.files("ci"):
        label = f"{case.profile_name}/{case.service.name}/{gen.path}"
        if gen.path.endswith("Jenkinsfile"):
            for i, m in enumerate(re.finditer(r"sh '''\n(.*?)\n\s*'''", gen.content, re.S)):
                body = m.group(1).replace("\\\\", "\x00").replace("\\'", "'").replace("\x00", "\\")
                out.append((f"{label}#sh{i}", "sh", body))
            continue
        doc = yaml.safe_load(gen.content) if case.ci_tool != "tekton" else None
        if case.ci_tool == "github-actions":
            for job, spec in doc["jobs"].items():
                for i, step in enumerate(spec["steps"]):
                    if "run" in step:
                        out.append((f"{label}#{job}.{i}", "bash", step["run"]))
        elif case.ci_tool == "gitlab-ci":
            for job, spec in doc.items():
                if isinstance(spec, dict) and "script" in spec:
                    body = "\n".join([*spec.get("before_script", []), *spec["script"]])
                    out.append((f"{label}#{job}", "sh", body))
        elif case.ci_tool == "azure-pipelines":
            for stage in doc["stages"]:
                for job in stage["jobs"]:
                    for i, step in enumerate(job["steps"]):
                        body = step.get("script") or step.get("inputs", {}).get("inlineScript")
                        if body:
                            out.append((f"{label}#{job['job']}.{i}", "bash", body))
        elif case.ci_tool == "tekton":
            for obj in yaml.safe_load_all(gen.content):
                for step in (obj.get("spec") or {}).get("steps", []):
                    if "script" in step:
                        shell = "sh" if step["script"].startswith(("#!/bin/sh", "#!/busybox/sh")) else "bash"
                        out.append((f"{label}#{obj['metadata']['name']}.{step['name']}", shell, step["script"]))
    return out


@pytest.mark.parametrize("tool", sorted(CI_PROFILES))
def test_every_pipeline_script_parses(corpus: Corpus, tool: str) -> None:
    scripts = [s for c in corpus.cases.values() if c.ci_tool == tool for s in _scripts(c)]
    assert len(scripts) >= 9 * 3
    assert validators.shell_errors(scripts) == {}


def test_shell_check_catches_a_broken_script() -> None:
    assert validators.shell_errors([("x", "sh", "if true; then echo\n")])


# --------------------------------------------------------------------------- Jenkins and Tekton structure


@pytest.mark.parametrize("profile_name,service_name", pairs([CI_PROFILES["jenkins"]]))
def test_jenkinsfile_is_a_balanced_declarative_pipeline(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    text = case.file("Jenkinsfile").content
    code = re.sub(r"'''.*?'''", "''", text, flags=re.S)
    code = re.sub(r"'(?:[^'\\\n]|\\.)*'", "''", code)
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', code)
    code = re.sub(r"//[^\n]*", "", code)
    assert code.count("{") == code.count("}") and code.count("(") == code.count(")")
    assert code.lstrip().startswith("pipeline {")
    for block in ("agent any", "environment {", "stages {"):
        assert block in code
    stages = re.findall(r"stage\('([^']*)'\)", text)
    assert stages[0].startswith("Build and test") and "Image: build, scan, SBOM" in stages


@pytest.mark.parametrize("profile_name,service_name", pairs([CI_PROFILES["tekton"]]))
def test_tekton_objects_are_well_formed(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    docs = [d for gen in case.files("ci") for d in yaml.safe_load_all(gen.content)]
    tasks = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Task"}
    pipeline = next(d for d in docs if d["kind"] == "Pipeline")
    runs = [d for d in docs if d["kind"] == "PipelineRun"]
    errors: list[str] = []
    for obj in docs:
        assert obj["apiVersion"] == "tekton.dev/v1"
        errors += validators.definition_errors("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", obj["metadata"],
                                               f"{obj['kind']}.metadata.")
    for name, task in tasks.items():
        spec = task["spec"]
        params = {p["name"] for p in spec.get("params", [])}
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for v in spec.get("volumes", []):
            errors += validators.definition_errors("io.k8s.api.core.v1.Volume", v, f"{name}.volumes.")
        for step in spec["steps"]:
            container = {k: v for k, v in step.items() if k != "script"}  # a step is a container plus `script`
            errors += validators.definition_errors("io.k8s.api.core.v1.Container", container, f"{name}.{step['name']}.")
            assert not ("script" in step and ("command" in step or "args" in step)), step["name"]  # Tekton refuses both
            for mount in step.get("volumeMounts", []):
                assert mount["name"] in volumes
            text = yaml.safe_dump(step)
            for ref in re.findall(r"\$\(params\.([a-z-]+)\)", text):
                assert ref in params, f"{name}: $(params.{ref}) is not a param"
    assert errors == []
    names = {t["name"] for t in pipeline["spec"]["tasks"]}
    declared = {p["name"] for p in pipeline["spec"]["params"]}
    for t in pipeline["spec"]["tasks"]:
        ref = t["taskRef"].get("name")
        if ref:
            assert ref in tasks
            assert {p["name"] for p in t.get("params", [])} == {p["name"] for p in tasks[ref]["spec"].get("params", [])}
        assert set(t.get("runAfter", [])) <= names
        for ref in re.findall(r"\$\(params\.([a-z-]+)\)", yaml.safe_dump(t)):
            assert ref in declared
    assert {r["spec"]["pipelineRef"]["name"] for r in runs} == {pipeline["metadata"]["name"]}
    assert sorted(p["value"] for r in runs for p in r["spec"]["params"] if p["name"] == "publish") == ["false", "true"]
