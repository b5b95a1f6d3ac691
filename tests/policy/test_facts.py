"""The input document: images, Kubernetes objects, credentials, URLs, PR metadata, Profile refs."""

from __future__ import annotations

import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import FileChange, ProposalKind, ToolChoice
from bot.policy.facts import build_input, credential_kind, file_facts_for, insecure_urls, k8s_objects, parse_image
from bot.policy.secret_scan import scan

from .conftest import make_profile, make_proposal

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels:
    name: not-this
spec:
  template:
    spec:
      hostNetwork: true
      containers:
        - name: shop
          image: ghcr.io/acme/shop:1.2.3
          securityContext:
            privileged: true
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
spec:
  rules: []
---
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: "{{ .Values.db }}"
  user: admin
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bot
roleRef:
  kind: ClusterRole
  name: cluster-admin
subjects:
  - kind: ServiceAccount
    name: trustacks-bot
    namespace: tools
"""


def test_kubernetes_objects_from_text():
    objs = k8s_objects("k8s/app.yaml", DEPLOY)
    assert objs["workloads"] == [{"at": "k8s/app.yaml:2", "kind": "Deployment", "name": "shop", "privileged": True,
                                  "host_network": True, "host_pid": False, "probes": False}]
    assert objs["ingresses"] == [{"at": "k8s/app.yaml:18", "name": "shop", "tls": False}]
    assert objs["secrets"] == [{"at": "k8s/app.yaml:25", "name": "db"}]
    assert objs["bindings"] == [{"at": "k8s/app.yaml:33", "kind": "ClusterRoleBinding", "role": "cluster-admin",
                                 "subjects": ["trustacks-bot"]}]


def test_templated_secret_values_are_not_plaintext():
    text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.a | b64enc }}\n"
    assert k8s_objects("templates/secret.yaml", text)["secrets"] == []


def test_images_from_dockerfiles_manifests_and_ci():
    files = [
        FileChange("Dockerfile", "FROM --platform=$BUILDPLATFORM golang:1.23 AS build\nFROM build AS test\nFROM scratch\n"
                                 "FROM gcr.io/distroless/static@sha256:" + "a" * 64 + "\n"),
        FileChange("k8s/app.yaml", DEPLOY),
        FileChange("chart/templates/d.yaml", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  image: {{ .Values.image }}\n"),
        FileChange(".gitlab-ci.yml", "build:\n  image: docker:27\n  script: [make]\n"),
    ]
    images = {(i["ref"], i["source"], i["pinned"], i["templated"]) for i in file_facts_for(files)["images"]}
    assert images == {
        ("golang:1.23", "dockerfile", False, False),
        ("gcr.io/distroless/static@sha256:" + "a" * 64, "dockerfile", True, False),
        ("ghcr.io/acme/shop:1.2.3", "manifest", False, False),
        ("{{", "manifest", False, True),
        ("docker:27", "ci", False, False),
    }


def test_parse_image_references():
    assert parse_image("python:3.12") == {"registry": "docker.io", "name": "docker.io/library/python", "tag": "3.12", "digest": ""}
    assert parse_image("localhost:5000/a/b:1")["registry"] == "localhost:5000"
    assert parse_image("123.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:ab") == {
        "registry": "123.dkr.ecr.us-east-1.amazonaws.com", "name": "123.dkr.ecr.us-east-1.amazonaws.com/shop",
        "tag": "", "digest": "sha256:ab"}


def test_insecure_urls_only_on_added_lines_and_not_local():
    text = "a: http://api.partner.com/v1\nb: http://shop.default.svc.cluster.local\nc: http://localhost:8080\nd: http://old.example.net\n"
    found = insecure_urls("values.yaml", text, old="d: http://old.example.net\n")
    assert found == [{"at": "values.yaml:1", "url": "http://api.partner.com/v1"}]


def test_credential_files():
    assert credential_kind("deploy/sa.json", '{"type": "service_account", "private_key": "x"}') == "GCP service account key file"
    assert credential_kind(".npmrc", "//registry.npmjs.org/:_authToken=abc123\n") == "npm auth token file"
    assert credential_kind(".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n") is None
    assert credential_kind("certs/tls.key", "-----BEGIN EC PRIVATE KEY-----\n") == "private key file"
    assert credential_kind("certs/tls.crt", "-----BEGIN CERTIFICATE-----\n") is None


def test_renovate_automerge_is_an_autonomous_merge_path():
    out = file_facts_for([FileChange("renovate.json", '{\n  "extends": ["config:base"],\n  "automerge": true\n}\n')])
    assert out["auto_merge"] == [{"at": "renovate.json:3", "how": "renovate automerge"}]


def test_input_document_shape(profile):
    doc = build_input(make_proposal(), profile, protected_branches=["release"])
    assert set(doc) == {"proposal", "facts", "profile", "pr"}
    assert doc["proposal"]["protected_branches"] == ["main", "release"]
    assert doc["proposal"]["author_is_agent"] is True and doc["pr"] is None
    assert set(doc["profile"]["tooling"]) >= {"ci", "registry", "compliance_evidence"}
    assert doc["profile"]["tooling"]["registry"][0]["ref"] == ".trustacks/profile.yaml#tooling.registry[0]"
    assert doc["facts"]["change_refs"] == ["CHG0012345"]
    assert doc["proposal"]["cites_rules"] == ["TS-SUPPLY-001", "TS-SUPPLY-004"]
    assert "GOOD" not in json.dumps(doc) and "steps:" not in json.dumps(doc)  # no file contents


def test_human_pr_input(profile):
    pr = {"number": 3, "author": "alice", "base": "main", "head": "feat", "title": "Add ingress (OPS-12)",
          "body": "see CHG0000001", "approvals": ["bob", {"login": "dependabot[bot]"},
                                                   {"user": "carol", "state": "COMMENTED"}],
          "default_branch": "main", "protected_branches": ["prod"]}
    doc = build_input(make_proposal(), profile, pr=pr)
    assert doc["proposal"]["kind"] == "pull_request" and doc["proposal"]["author"] == "alice"
    assert doc["proposal"]["author_is_agent"] is False and doc["proposal"]["head_branch"] == "feat"
    assert doc["pr"]["approvals"] == [{"user": "bob", "is_agent": False}, {"user": "dependabot[bot]", "is_agent": True}]
    assert doc["proposal"]["protected_branches"] == ["main", "prod"]
    assert doc["facts"]["change_refs"] == ["CHG0000001", "CHG0012345", "OPS-12"]
    assert doc["facts"]["pr_body"] is None


def test_rule_ids_are_not_change_references(profile):
    p = make_proposal(title="Fix TS-PROC-001 and PCI-6.3.3-001, SOC2-CC6.1-001")
    assert build_input(p, profile)["facts"]["change_refs"] == []


def test_unresolved_profile_refs(profile):
    choices = [ToolChoice("ci", "github-actions", ".trustacks/profile.yaml#tooling.ci[0]"),
               ToolChoice("ci", "jenkins", ".trustacks/profile.yaml#tooling.ci[0]"),
               ToolChoice("registry", "ecr", ".trustacks/profile.yaml#tooling.registry[7]"),
               ToolChoice("registry", "ecr", "somewhere-else")]
    doc = build_input(make_proposal(tool_choices=choices), profile)
    assert doc["facts"]["profile_refs_unresolved"] == [".trustacks/profile.yaml#tooling.ci[0]",
                                                        ".trustacks/profile.yaml#tooling.registry[7]", "somewhere-else"]


def test_profile_proposal_is_judged_on_the_new_profile():
    new = make_profile(observability=False)
    p = make_proposal(kind=ProposalKind.PROFILE, files={".trustacks/profile.yaml": new.dumps()})
    doc = build_input(p, make_profile())
    assert "observability" not in doc["profile"]["named"]
    assert doc["facts"]["profile_changed"] is True


def test_deleted_files_contribute_no_facts():
    out = file_facts_for([FileChange(".github/workflows/a.yml", None, old="on: push\n")])
    assert out["ci"] == [] and out["secrets"] == []


SECRETS = st.one_of(
    st.builds(lambda s: "AKIA" + s, st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16)),
    st.builds(lambda s: "ghp_" + s, st.text(string.ascii_letters + string.digits, min_size=36, max_size=40)),
    st.builds(lambda s: "glpat-" + s, st.text(string.ascii_letters + string.digits, min_size=20, max_size=24)),
    # a literal starting with $, @, <, ( or { reads as a reference and is not reported
    st.text(string.ascii_letters + string.digits + "!@%^&*", min_size=8, max_size=24).filter(
        lambda s: not s.isalpha() and s[0].isalnum()),
)


@settings(max_examples=60, deadline=None)
@given(secret=SECRETS, key=st.sampled_from(["password", "db_password", "api_key", "token", "AWS_KEY", "value"]))
def test_secret_values_never_reach_the_facts(secret, key):
    text = f"env:\n  {key}: {secret}\n  other: \"{secret}\"\n"
    out = file_facts_for([FileChange("deploy/values.yaml", text), FileChange("app.py", f'{key} = "{secret}"\n')])
    blob = json.dumps(out)
    assert secret not in blob
    if secret.startswith(("AKIA", "ghp_", "glpat-")) or key in ("password", "db_password", "api_key"):
        assert out["secrets"], "the secret was not found"


def test_secret_scan_kinds_and_previews():
    text = ("aws_secret_access_key = " + "A" * 40 + "\n"
            "-----BEGIN OPENSSH PRIVATE KEY-----\n"
            "url: https://hooks.slack.com/services/T000/B000/XXXXXXXX\n"
            "example: AKIAIOSFODNN7EXAMPLE\n"
            "tlsSecret: shop-tls\n"
            "password: ${DB_PASSWORD}\n"
            "secret: enabled\n")
    hits = {(h.line, h.kind, h.preview) for h in scan("x.cfg", text)}
    assert hits == {(1, "AWS secret access key", ""), (2, "private key", ""), (3, "Slack webhook", "")}


def test_code_needs_quoted_literals():
    assert scan("a.py", "password = os.environ['PW']\ntoken = get_token()\n") == []
    assert [h.kind for h in scan("a.py", 'password = "correct-horse"\n')] == ["password literal"]


def test_image_mapping_is_not_read_as_a_reference():
    from bot.policy.facts import yaml_images

    text = "image:\n  repository: ghcr.io/acme/shop\n  tag: 1.0\nsidecar:\n  image: busybox:1.36\n"
    assert [i["ref"] for i in yaml_images("values.yaml", text, source="config")] == ["busybox:1.36"]
