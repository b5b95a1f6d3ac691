"""Supply-chain invariants of every generated pipeline, and the policy engine's own reading of them.

For every sample Profile and service: no static credential anywhere; every pushed image is scanned
before it is pushed (or, for registry-side scanners, before it is signed), signed keyless, and carries
an SBOM and SLSA provenance attestation; publishing happens on the default branch only; registries are
reached with OIDC; every image and action is pinned; each tool choice cites a real Profile entry.
"""

from __future__ import annotations

import re

import pytest
import yaml

from bot.policy.ci import parse_ci
from bot.policy.ci.classify import file_facts
from bot.policy.secret_scan import scan_many

from tests.generate.conftest import Corpus, pairs

STATIC_SECRETS = re.compile(
    r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AZURE_CLIENT_SECRET|ARM_CLIENT_SECRET|GOOGLE_CREDENTIALS|credentials_json"
    r"|service[-_]account[-_]key|--key-file|DOCKER_PASSWORD|REGISTRY_PASSWORD|CI_REGISTRY_PASSWORD|--password\s+\S"
    r"|-----BEGIN|AKIA[0-9A-Z]{16}|ghp_[0-9A-Za-z]{20}|cosign\.key|COSIGN_PRIVATE_KEY|COSIGN_PASSWORD", re.I)
ALL_PAIRS = pairs()


@pytest.mark.parametrize("profile_name,service_name", ALL_PAIRS)
def test_no_static_credentials_anywhere(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    for gen in case.result.files:
        found = STATIC_SECRETS.findall(gen.content)
        assert not found, f"{gen.path}: {found}"


def test_the_policy_secret_scanner_finds_nothing(corpus: Corpus) -> None:
    """TS-CRED-001's own scanner over every generated file: no hit, not even a false positive."""
    files = [(f"{c.profile_name}/{c.service.name}/{g.path}", g.content, None)
             for c in corpus.cases.values() for g in c.result.files]
    assert len(files) > 500
    assert [(h.path, h.line, h.kind, h.preview) for h in scan_many(files)] == []


def _image_refs(case) -> list[str]:
    refs: list[str] = []
    for gen in case.result.files:
        text = gen.content
        refs += re.findall(r"^FROM (\S+)", text, re.M)
        refs += re.findall(r"docker run [^\n]*?(?:--entrypoint \S+ )?((?:[a-z0-9.-]+/)*[a-z0-9._-]+:[A-Za-z0-9._-]+) ", text)
        if gen.path.endswith((".yml", ".yaml")) and "/templates/" not in gen.path:
            for doc in yaml.safe_load_all(text):
                stack = [doc]
                while stack:
                    cur = stack.pop()
                    if isinstance(cur, dict):
                        for k, v in cur.items():
                            if k in ("image", "container", "name") and isinstance(v, str) and re.match(
                                    r"^[a-z0-9.-]+(/[a-z0-9._-]+)*:[A-Za-z0-9._-]+$", v) and k != "name":
                                refs.append(v)
                            elif k == "services" and isinstance(v, list):
                                refs += [s for s in v if isinstance(s, str)]
                            else:
                                stack.append(v)
                    elif isinstance(cur, list):
                        stack.extend(cur)
        if gen.path.endswith("Jenkinsfile"):
            refs += re.findall(r"image '([^']+)'", text)
    return refs


@pytest.mark.parametrize("profile_name,service_name", ALL_PAIRS)
def test_every_image_and_action_is_pinned(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    refs = _image_refs(case)
    if case.files("ci") or case.files("docker"):
        assert refs
    for ref in refs:
        name, _, tag = ref.rpartition(":")
        assert name and tag and tag != "latest", ref
    for gen in case.files("ci"):
        for action in re.findall(r"uses: (\S+)", gen.content):
            assert re.search(r"@(v\d[\w.]*|[0-9a-f]{40})$", action), action


def _facts(case) -> list[dict]:
    out = []
    for gen in case.files("ci"):
        doc = parse_ci(gen.path, gen.content)
        assert doc is not None and doc.error is None, gen.path
        out.append(file_facts(doc))
    return out


def _merged(facts: list[dict]) -> dict:
    merged: dict = {}
    for f in facts:
        for k, v in f.items():
            if isinstance(v, list):
                merged.setdefault(k, []).extend(v)
            elif isinstance(v, bool):
                merged[k] = merged.get(k, False) or v
    return merged


def _line(at: str) -> int:
    return int(at.rsplit(":", 1)[1])


@pytest.mark.parametrize("profile_name,service_name", pairs(
    ["github-aws", "gitlab-gcp", "azure-acr", "jenkins-artifactory", "tekton-quay"]))
def test_the_policy_engine_sees_a_complete_supply_chain(corpus: Corpus, profile_name: str, service_name: str) -> None:
    """What the policy's own CI parser reads from our files: build, test, push, SBOM, sign, provenance, scans."""
    case = corpus.case(profile_name, service_name)
    facts = _merged(_facts(case))
    assert facts["builds"] and facts["pushes"] and facts["sbom"] and facts["signs"] and facts["provenance"]
    assert facts["sast"] and facts["secret_scans"]
    if case.service.framework != "django":  # `manage.py test` is not in the policy's test patterns yet
        assert facts["tests"]
    if case.ci_tool in ("github-actions", "gitlab-ci"):
        assert facts["id_token_write"]
    for auth in facts.get("cloud_auth", []):
        assert auth["method"] == "oidc", auth
    scanner = case.profile.first_tool("image_scanning")
    blocking = [s for s in facts["vuln_scans"] if s["target"] == "image" and s["blocking"]]
    if scanner and scanner.tool in ("trivy", "anchore", "snyk-container"):
        threshold = str(scanner.settings.get("severity_threshold", "high")).lower()
        assert blocking and all(s["fail_at"] == threshold for s in blocking)
    single_file = [f for f in _facts(case) if f["pushes"]]
    for f in single_file:  # in one file, the scan comes before the push and the push before the signature
        if f["vuln_scans"] and scanner and scanner.tool in ("trivy", "anchore", "snyk-container"):
            assert min(map(_line, (s["at"] for s in f["vuln_scans"]))) < min(map(_line, f["pushes"]))
        if f["signs"]:
            assert min(map(_line, f["pushes"])) < min(map(_line, f["signs"]))


@pytest.mark.parametrize("profile_name,service_name", pairs(["github-aws"]))
def test_github_publishing_is_gated_and_federated(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    (gen,) = case.files("ci")
    doc = yaml.safe_load(gen.content)
    assert doc["permissions"] == {"contents": "read"}
    image = doc["jobs"]["image"]
    assert image["permissions"]["id-token"] == "write"
    publishing = False
    for step in image["steps"]:
        text = yaml.safe_dump(step)
        if "aws-actions" in text or "docker push" in text or "cosign" in text or "attest" in text:
            publishing = True
            assert step["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'", step
    assert publishing
    assert set(image["needs"]) == {"test", "sast", "codeql", "secrets"}
    for job in doc["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False


def test_gitlab_publish_runs_on_the_default_branch_with_id_tokens(corpus: Corpus) -> None:
    case = corpus.case("gitlab-gcp", "pay-api")
    doc = yaml.safe_load(case.file(".gitlab-ci.yml").content)
    publish = doc["publish"]
    assert publish["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert publish["id_tokens"]["SIGSTORE_ID_TOKEN"] == {"aud": "sigstore"}
    assert publish["id_tokens"]["REGISTRY_ID_TOKEN"]["aud"].startswith("//iam.googleapis.com/projects/")
    assert set(publish["needs"]) >= {"build-image", "scan-image", "sbom", "test"}
    assert "--fail-on critical" in doc["scan-image"]["script"][-1]  # the Profile's threshold


def test_tekton_publishes_only_from_the_push_run(corpus: Corpus) -> None:
    case = corpus.case("tekton-quay", "pay-api")
    pipeline = next(yaml.safe_load_all(case.file(".tekton/pipeline.yaml").content))
    for task in pipeline["spec"]["tasks"]:
        if task["name"] in ("publish", "sign"):
            assert task["when"] == [{"input": "$(params.publish)", "operator": "in", "values": ["true"]}]
    push = yaml.safe_load(case.file(".tekton/pipelinerun-push.yaml").content)
    pr = yaml.safe_load(case.file(".tekton/pipelinerun-pull-request.yaml").content)
    assert {p["name"]: p["value"] for p in push["spec"]["params"]}["publish"] == "true"
    assert {p["name"]: p["value"] for p in pr["spec"]["params"]}["publish"] == "false"
    docs = list(yaml.safe_load_all(case.file(".tekton/pipeline.yaml").content))
    (sign,) = [d for d in docs if d["metadata"]["name"] == "pay-api-sign"]
    audiences = {v["projected"]["sources"][0]["serviceAccountToken"]["audience"]
                 for v in sign["spec"]["volumes"] if "projected" in v}
    assert audiences == {"quay", "sigstore"}


# --------------------------------------------------------------------------- tool choices cite the Profile


@pytest.mark.parametrize("profile_name,service_name", ALL_PAIRS)
def test_tool_choices_cite_real_profile_entries(corpus: Corpus, profile_name: str, service_name: str) -> None:
    case = corpus.case(profile_name, service_name)
    entries = {e.ref: e for cat in ("ci", "registry", "image_scanning", "sast_sca", "secret_scanning", "sbom_signing",
                                    "gitops", "mesh_ingress", "observability") for e in case.profile.tools(cat)}
    for gen in case.result.files:
        for c in gen.tool_choices:
            assert c.path == gen.path
            entry = entries.get(c.profile_ref)
            assert entry is not None, c
            assert entry.category == c.category
            assert c.tool == entry.tool or (entry.tool == "sigstore" and c.tool == "cosign")
    ci = case.files("ci")
    if ci:
        cited = {(c.category, c.tool) for c in ci[0].tool_choices}
        assert ("ci", case.ci_tool) in cited
        for category in ("image_scanning", "registry"):
            first = case.profile.first_tool(category)
            if first and not [g for g in case.result.gaps if g.category == category]:
                assert (category, first.tool) in cited, category
