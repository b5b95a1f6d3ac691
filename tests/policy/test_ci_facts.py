"""CI pipelines to facts: one realistic file per CI system, plus thresholds and auth details."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bot.policy.ci as ci_pkg
from bot.policy.ci import parse_ci, parsers
from bot.policy.ci.classify import file_facts

from .conftest import GOOD_WORKFLOW


def facts(path: str, text: str) -> dict:
    doc = parse_ci(path, text)
    assert doc is not None, f"{path} not claimed"
    assert doc.error is None, doc.error
    return file_facts(doc)


def lines(items: list) -> list[int]:
    return [int(str(x if isinstance(x, str) else x["at"]).rsplit(":", 1)[1]) for x in items]


def test_registry_lists_every_parser_module():
    skip = {"classify", "yamlnodes"}
    modules = {m.name for m in pkgutil.iter_modules(ci_pkg.__path__)} - skip
    registered = {type(p).__module__.rsplit(".", 1)[1] for p in parsers()}
    assert registered == modules
    for name in modules:
        mod = importlib.import_module(f"bot.policy.ci.{name}")
        assert mod.PARSER in parsers() and mod.PARSER.system


def test_github_actions_supply_chain_steps():
    f = facts(".github/workflows/build.yml", GOOD_WORKFLOW)
    assert f["system"] == "github-actions"
    assert lines(f["builds"]) == [14, 21] and lines(f["pushes"]) == [21]
    assert lines(f["tests"]) == [15]
    assert lines(f["sbom"]) == [31] and lines(f["signs"]) == [33] and lines(f["provenance"]) == [34]
    assert f["vuln_scans"] == [{"tool": "trivy", "at": ".github/workflows/build.yml:26", "blocking": True,
                                "fail_at": "high", "fail_at_rank": 3, "target": "image"}]
    assert f["cloud_auth"] == [{"provider": "aws", "method": "oidc", "at": ".github/workflows/build.yml:17",
                                "detail": "role-to-assume"}]
    assert f["id_token_write"] is True
    assert f["permissions"][0]["value"] == {"contents": "read", "packages": "write", "id-token": "write"}
    assert f["sast"] == [{"tool": "semgrep", "at": ".github/workflows/build.yml:16"}]


@pytest.mark.parametrize(
    "step, expected",
    [
        ("run: trivy image --exit-code 1 --severity CRITICAL app:1", (True, "critical", "image")),
        ("run: trivy fs --severity HIGH,CRITICAL .", (False, "high", "fs")),
        ("run: trivy image --exit-code 1 app:1 || true", (False, "low", "image")),
        ("run: grype app:1 --fail-on medium", (True, "medium", "image")),
        ("run: grype dir:. ", (False, None, "fs")),
        ("run: snyk container test app:1 --severity-threshold=high", (True, "high", "image")),
        ("run: npm audit --audit-level=moderate", (True, "medium", "deps")),
        ("run: clairctl report app:1", (None, None, "image")),
        ("uses: anchore/scan-action@v4\n        with:\n          image: app:1", (True, "medium", "image")),
        ("uses: aquasecurity/trivy-action@v0\n        with:\n          scan-type: fs", (False, "low", "fs")),
        ("uses: actions/dependency-review-action@v4\n        with:\n          fail-on-severity: critical", (True, "critical", "deps")),
        ("uses: anchore/scan-action@v4\n        continue-on-error: true\n        with:\n          image: app:1", (False, "medium", "image")),
    ],
)
def test_scanner_thresholds(step, expected):
    wf = f"on: push\njobs:\n  s:\n    runs-on: x\n    steps:\n      - {step}\n"
    scans = facts(".github/workflows/s.yml", wf)["vuln_scans"]
    assert [(s["blocking"], s["fail_at"], s["target"]) for s in scans] == [expected]


@pytest.mark.parametrize(
    "step, provider, method",
    [
        ("uses: google-github-actions/auth@v2\n        with:\n          credentials_json: ${{ secrets.GCP }}", "gcp", "static"),
        ("uses: google-github-actions/auth@v2\n        with:\n          workload_identity_provider: p", "gcp", "oidc"),
        ("uses: azure/login@v2\n        with:\n          creds: ${{ secrets.AZURE }}", "azure", "static"),
        ("uses: azure/login@v2\n        with:\n          client-id: x\n          tenant-id: y", "azure", "oidc"),
        ("run: aws s3 ls\n        env:\n          AWS_SECRET_ACCESS_KEY: ${{ secrets.K }}", "aws", "static"),
        ("run: gcloud auth activate-service-account --key-file=key.json", "gcp", "static"),
    ],
)
def test_cloud_auth_methods(step, provider, method):
    wf = f"on: push\njobs:\n  d:\n    runs-on: x\n    steps:\n      - {step}\n"
    auth = facts(".github/workflows/d.yml", wf)["cloud_auth"]
    assert [(a["provider"], a["method"]) for a in auth] == [(provider, method)]


def test_gitlab_ci_jobs_templates_and_id_tokens():
    text = """\
include:
  - template: Jobs/SAST.gitlab-ci.yml
  - template: Security/Container-Scanning.gitlab-ci.yml
variables:
  IMAGE: $CI_REGISTRY_IMAGE:$CI_COMMIT_SHA
build:
  image: docker:27
  id_tokens:
    AWS_TOKEN:
      aud: sts.amazonaws.com
  script:
    - docker build -t $IMAGE .
    - docker push $IMAGE
    - syft $IMAGE -o spdx-json > sbom.json
    - cosign sign --yes $IMAGE
test:
  image: python:3.12
  script:
    - pytest
scan:
  image: aquasec/trivy:0.56.0
  script:
    - trivy image --exit-code 1 --severity HIGH,CRITICAL $IMAGE
deploy:
  script:
    - aws sts assume-role-with-web-identity --role-arn x --web-identity-token $AWS_TOKEN
"""
    f = facts(".gitlab-ci.yml", text)
    assert f["system"] == "gitlab-ci"
    assert lines(f["pushes"]) == [13] and lines(f["sbom"]) == [14] and lines(f["signs"]) == [15]
    assert lines(f["tests"]) == [19]
    assert {s["tool"] for s in f["sast"]} == {"gitlab-sast"}
    scans = {(s["tool"], s["blocking"]) for s in f["vuln_scans"]}
    assert ("trivy", True) in scans and ("gitlab-container-scanning", False) in scans
    assert f["id_token_write"] is True
    assert [a["method"] for a in f["cloud_auth"]] == ["oidc"]


def test_azure_pipelines_nested_steps_and_tasks():
    text = """\
trigger: [main]
stages:
  - stage: build
    jobs:
      - job: image
        steps:
          - task: Docker@2
            inputs:
              command: buildAndPush
              repository: shop
          - script: |
              syft shop:latest -o spdx-json
              cosign sign --yes shop@sha256:abc
            displayName: sbom and sign
          - bash: dotnet test
            env:
              ARM_CLIENT_SECRET: $(armSecret)
"""
    f = facts("azure-pipelines.yml", text)
    assert lines(f["pushes"]) == [7] and lines(f["builds"]) == [7]
    assert lines(f["sbom"]) == [12] and lines(f["signs"]) == [13]
    assert lines(f["tests"]) == [15]
    assert [(a["provider"], a["method"]) for a in f["cloud_auth"]] == [("azure", "static")]


def test_jenkinsfile_shell_blocks_and_credential_bindings():
    text = """\
pipeline {
  agent { docker { image 'maven:3.9-eclipse-temurin-21' } }
  stages {
    stage('Build') {
      steps {
        sh 'mvn -B verify'
        sh '''
          docker build -t shop .
          docker push registry.example.com/shop:1
        '''
        withCredentials([[$class: 'AmazonWebServicesCredentialsBinding', credentialsId: 'aws-prod']]) {
          sh 'aws s3 ls'
        }
      }
    }
  }
}
"""
    f = facts("Jenkinsfile", text)
    assert f["system"] == "jenkins"
    assert lines(f["tests"]) == [6]
    assert lines(f["pushes"]) == [9]
    assert [(a["provider"], a["method"], a["at"]) for a in f["cloud_auth"]] == [("aws", "static", "Jenkinsfile:11")]


def test_tekton_pipeline_tasks_and_steps():
    text = """\
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: release
spec:
  tasks:
    - name: build
      taskRef:
        name: kaniko
    - name: scan
      taskRef:
        name: trivy-scanner
      params:
        - name: ARGS
          value: ["image", "--exit-code", "1", "--severity", "CRITICAL"]
---
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: sign
spec:
  steps:
    - name: sign
      image: cgr.dev/chainguard/cosign
      script: |
        cosign sign --yes $(params.image)
"""
    f = facts("tekton/release.yaml", text)
    assert f["system"] == "tekton"
    assert lines(f["pushes"]) == [7] and lines(f["signs"]) == [26]
    assert [(s["tool"], s["fail_at"]) for s in f["vuln_scans"]] == [("trivy", "critical")]


def test_reusable_workflow_capabilities_are_merged():
    from bot.models import FileChange
    from bot.policy.facts import file_facts_for

    caller = "on: push\njobs:\n  release:\n    uses: ./.github/workflows/sign.yml\n  b:\n    runs-on: x\n    steps:\n      - run: docker push x\n"
    callee = "on: workflow_call\njobs:\n  s:\n    runs-on: x\n    steps:\n      - run: cosign sign --yes x\n"
    out = file_facts_for([FileChange(".github/workflows/ci.yml", caller), FileChange(".github/workflows/sign.yml", callee)])
    ci = {f["path"]: f for f in out["ci"]}
    assert ci[".github/workflows/ci.yml"]["signs"] == [".github/workflows/sign.yml:6"]
    assert "calls" not in ci[".github/workflows/ci.yml"]


def test_unparseable_pipeline_is_reported_not_raised():
    doc = parse_ci(".github/workflows/x.yml", "jobs: [unclosed\n")
    assert doc is not None and doc.error and "line" in doc.error


def test_alias_bomb_is_bounded():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefg", "bcdefgh"))
    doc = parse_ci(".github/workflows/bomb.yml", bomb)
    assert doc is not None and "nodes" in (doc.error or "")


def test_auto_merge_steps_are_found():
    wf = "on: pull_request\njobs:\n  m:\n    runs-on: x\n    steps:\n      - run: gh pr merge --auto --squash $PR\n      - uses: pascalgn/automerge-action@v0.16\n"
    f = facts(".github/workflows/m.yml", wf)
    assert [a["how"] for a in f["auto_merge"]] == ["gh pr merge", "auto-merge action"]


def test_tekton_argv_lists_read_as_one_command_line():
    text = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: release
spec:
  steps:
    - name: scan
      image: quay.io/projectquay/clair-action:v0.0.11
      command: [clair-action]
      args: [report, --image-path=/ws/image.tar, --return-code=1]
    - name: trivy
      image: aquasec/trivy
      command: [trivy]
      args: [image, --exit-code, "1", --severity, "HIGH,CRITICAL", x]
    - name: attest
      image: cgr.dev/chainguard/cosign
      command: [cosign]
      args: [attest, --yes, --type, slsaprovenance1, --predicate, p.json, x]
"""
    f = facts("tekton/release.yaml", text)
    assert [(s["tool"], s["blocking"], s["fail_at"]) for s in f["vuln_scans"]] == [("clair", True, "low"), ("trivy", True, "high")]
    assert lines(f["provenance"]) == [15]
