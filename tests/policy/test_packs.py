"""Each pack maps its controls to concrete checks on real files (facts extracted, then Rego)."""

from __future__ import annotations

import pytest

from bot.policy import PolicyEngine

from .conftest import GOOD_WORKFLOW, make_profile, make_proposal

INGRESS = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\nspec:\n  rules: []\n"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: aHVudGVyMg==\n"
PRIV = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: shop\n          image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:"
        + "a" * 64 + "\n          securityContext:\n            privileged: true\n"
        "          livenessProbe: {}\n          readinessProbe: {}\n")
TAGGED = PRIV.replace("@sha256:" + "a" * 64, ":1.0").replace("privileged: true", "privileged: false")


@pytest.fixture(scope="module")
def packs() -> dict[str, PolicyEngine]:
    return {p: PolicyEngine.load(packs=(p,), isolate=False) for p in ("soc2", "hipaa", "pci", "fedramp", "itil")}


def denied(engine: PolicyEngine, files: dict[str, str] | None = None, profile=None, **over) -> set[str]:
    all_files = {".github/workflows/build.yml": GOOD_WORKFLOW, **(files or {})}
    return {v.rule for v in engine.evaluate(make_proposal(files=all_files, **over), profile or make_profile()).deny}


@pytest.mark.parametrize("pack, files, expected", [
    ("soc2", {"k8s/ing.yaml": INGRESS}, {"SOC2-CC6.6-001"}),
    ("soc2", {"k8s/secret.yaml": SECRET}, {"SOC2-CC6.1-001", "TS-CRED-001"}),  # base64 is not encryption
    ("hipaa", {"k8s/ing.yaml": INGRESS}, {"HIPAA-164.312e-001"}),
    ("hipaa", {"k8s/deploy.yaml": PRIV}, {"HIPAA-164.312a-001"}),
    ("hipaa", {"k8s/deploy.yaml": TAGGED}, {"HIPAA-164.312c-001"}),
    ("hipaa", {"values.yaml": "api: http://billing.partner.com/v2\n"}, {"HIPAA-164.312e-001"}),
    ("pci", {"k8s/secret.yaml": SECRET}, {"PCI-3.5-001", "TS-CRED-001"}),
    ("pci", {"k8s/ing.yaml": INGRESS}, {"PCI-6.4-001"}),
    ("fedramp", {"Dockerfile": "FROM python:3.12-slim\n"}, {"FEDRAMP-SC13-001", "FEDRAMP-SA9.5-001"}),
    ("fedramp", {"Dockerfile": "FROM registry1.dso.mil/ironbank/opensource/python/python39:v3.9\n"}, set()),
    ("fedramp", {"k8s/deploy.yaml": TAGGED.replace("us-east-1", "eu-west-1")}, {"FEDRAMP-SA9.5-001"}),
])
def test_pack_rule_fires_on_real_files(packs, pack, files, expected):
    assert denied(packs[pack], files) == expected


def test_compliant_change_passes_each_pack(packs):
    for name, engine in packs.items():
        assert denied(engine, {"k8s/deploy.yaml": PRIV.replace("privileged: true", "privileged: false")}) == set(), name


def test_itil_needs_a_change_record(packs):
    assert denied(packs["itil"], title="CI for shop") == {"ITIL-CHG-001"}
    assert denied(packs["itil"], title="CI for shop", summary="Implements SHOP-42") == set()


def test_soc2_and_pci_need_sast_in_builds(packs):
    wf = GOOD_WORKFLOW.replace("      - uses: semgrep/semgrep-action@v1\n", "")
    files = {".github/workflows/build.yml": wf}
    assert denied(packs["soc2"], files) == {"SOC2-CC7.1-001"}
    assert denied(packs["pci"], files) == {"PCI-6.2.4-001"}


def test_fedramp_scanner_must_be_declared_fips(packs):
    profile = make_profile()
    profile.set_tools("image_scanning", [{"tool": "trivy", "source": "discovered"}])
    assert denied(packs["fedramp"], profile=profile) == {"FEDRAMP-RA5-001"}


def test_pack_rules_ids_name_their_pack(engine_all):
    for meta in engine_all.rules(layer="packs"):
        assert meta.id.startswith(meta.pack.upper() + "-")
        assert meta.package.startswith(f"trustacks.packs.{meta.pack}.")
