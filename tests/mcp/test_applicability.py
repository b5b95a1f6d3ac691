"""Which rules apply to which paths: rule reads from the ASTs, file kinds checked against facts.py."""

from __future__ import annotations

import pytest

from bot.mcp_server import applicability as ap
from bot.models import FileChange
from bot.policy import PolicyEngine
from bot.policy.engine import Source
from bot.policy.facts import file_facts_for
from bot.policy.rules_meta import RuleMeta
from bot.tree import DirTree

from tests.mcp.conftest import APPS


@pytest.fixture(scope="module")
def reads(all_packs_engine: PolicyEngine) -> dict[str, ap.RuleReads]:
    return ap.rule_reads(all_packs_engine.sources, all_packs_engine.rules())


def _applicable(engine: PolicyEngine, reads: dict[str, ap.RuleReads], *paths: str) -> tuple[dict, set, set]:
    files, every, profile = ap.applicable_rules([ap.classify_path(p) for p in paths], engine.rules(), reads)
    return {a.meta.id: a for a in files}, {a.meta.id for a in every}, {a.meta.id for a in profile}


# ---------------------------------------------------------------------- rule reads


def test_reads_follow_library_rules_and_direct_input(reads: dict[str, ap.RuleReads]) -> None:
    assert ("facts", "secrets") in reads["TS-CRED-001"].inputs
    supply = reads["TS-SUPPLY-001"]
    assert ("facts", "ci") in supply.inputs  # only through util.pushing_ci: the rule never names input
    assert "trustacks.lib.util.pushing_ci" in supply.helpers
    assert "trustacks.lib.util.building_ci" in reads["TS-SUPPLY-004"].helpers
    assert ("facts", "k8s") in reads["TS-CRED-003"].inputs and ("facts", "credential_files") in reads["TS-CRED-003"].inputs
    assert reads["TS-PROC-003"].roots == {"proposal"}


def test_every_loaded_rule_is_analysed(all_packs_engine: PolicyEngine, reads: dict[str, ap.RuleReads]) -> None:
    assert set(reads) == {m.id for m in all_packs_engine.rules()}
    assert all(r.inputs for r in reads.values()), [r.rule for r in reads.values() if not r.inputs]


def test_build_helpers_exist_in_the_library(all_packs_engine: PolicyEngine, reads: dict[str, ap.RuleReads]) -> None:
    used = set().union(*(r.helpers for r in reads.values()))
    assert set(ap.BUILD_HELPERS) <= used


def test_import_alias_computed_index_and_local_helper_rules() -> None:
    lib = Source("lib/h.rego", "package trustacks.lib.h\n\nimport rego.v1\n\nsel contains f if some f in input.facts.images\n", "lib")
    rule = Source("overlay/x.rego", (
        "package trustacks.overlay.x\n\nimport rego.v1\n\nimport data.trustacks.lib.h as helpers\n\n"
        'metadata := {"id": "ACME-X-001", "title": "t", "severity": "low", "description": "d", "remediation": "r"}\n\n'
        "deny contains {\"msg\": m} if {\n\tsome i in helpers.sel\n\tpicked\n\tm := sprintf(\"%v\", [input.proposal[k]])\n}\n\n"
        "picked if input.facts.k8s.workloads[_].privileged\n"), "overlay")
    meta = RuleMeta(id="ACME-X-001", title="t", layer="overlay", severity="low", description="d", remediation="r",
                    package="trustacks.overlay.x")
    got = ap.rule_reads([lib, rule], [meta])["ACME-X-001"]
    assert got.inputs == {("facts", "images"), ("facts", "k8s"), ("proposal",)}
    assert got.helpers == {"trustacks.lib.h.sel"}


# ---------------------------------------------------------------------- file kinds vs facts.py


def test_every_file_fact_key_is_fed_by_some_kind() -> None:
    fed = {f for k in ap.FILE_KINDS for f in k.feeds}
    assert ap.file_fact_keys() <= fed, ap.file_fact_keys() - fed


def test_kind_names_are_unique_and_text_feeds_secrets() -> None:
    names = [k.name for k in ap.FILE_KINDS]
    assert len(names) == len(set(names))
    assert ap.classify_path("anything/at/all.txt").feeds == ("secrets",)


@pytest.mark.parametrize("app", sorted(p.name for p in APPS.iterdir() if p.is_dir()))
def test_facts_of_real_files_only_use_keys_their_kinds_declare(app: str) -> None:
    """For every file of every sample app, facts.py fills no key the classification did not predict."""
    tree = DirTree(APPS / app)
    for path in tree.paths():
        data = tree.read(path)
        if data is None or b"\x00" in data:
            continue
        text = data.decode("utf-8", "replace")
        facts = file_facts_for([FileChange(path=path, new=text)])
        produced = {k for k, v in facts.items() if v and (not isinstance(v, dict) or any(v.values()))}
        info = ap.classify_path(path, text)
        assert produced <= set(info.feeds), (path, produced - set(info.feeds))


def test_credential_and_auto_merge_paths_are_recognised_without_content() -> None:
    assert "credentials" in ap.classify_path("deploy/id_rsa").kinds
    assert "credentials" in ap.classify_path("certs/store.p12").kinds
    assert "auto_merge" in ap.classify_path("renovate.json").kinds
    assert "credentials" not in ap.classify_path("src/main.py").kinds
    # with content, the content decides: an .npmrc reading a variable is not a credential file
    assert "credentials" not in ap.classify_path(".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n").kinds


def test_tekton_is_ci_only_by_content() -> None:
    text = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: build\n"
    assert "ci" in ap.classify_path("pipelines/build.yaml", text).kinds
    assert "ci" not in ap.classify_path("pipelines/build.yaml", "kind: Deployment\n").kinds


# ---------------------------------------------------------------------- rules x paths


def test_dockerfile_gets_supply_chain_and_credential_rules(engine: PolicyEngine) -> None:
    reads = ap.rule_reads(engine.sources, engine.rules())
    files, every, _ = _applicable(engine, reads, "Dockerfile")
    assert "TS-CRED-001" in files and files["TS-CRED-001"].scope == ap.SCOPE_FILES
    supply = {r for r in files if r.startswith("TS-SUPPLY-")}
    assert supply == {"TS-SUPPLY-001", "TS-SUPPLY-002", "TS-SUPPLY-003", "TS-SUPPLY-004"}
    assert all(files[r].scope == ap.SCOPE_BUILD for r in supply)
    assert "TS-CRED-002" not in files  # cloud auth in CI: a Dockerfile has none
    assert "TS-PROC-003" in every


def test_workflow_gets_ci_rules_and_not_kubernetes_rules(all_packs_engine: PolicyEngine, reads: dict) -> None:
    files, _, _ = _applicable(all_packs_engine, reads, ".github/workflows/ci.yml")
    assert {"TS-CRED-001", "TS-CRED-002", "TS-SUPPLY-001", "TS-DATA-001", "SOC2-CC6.1-002"} <= set(files)
    assert files["TS-SUPPLY-001"].scope == ap.SCOPE_FILES
    assert "SOC2-CC6.6-001" not in files  # ingress TLS judges manifests
    assert "TS-PROC-001" in files  # a workflow can auto-merge


def test_manifest_gets_kubernetes_rules(all_packs_engine: PolicyEngine, reads: dict) -> None:
    files, _, _ = _applicable(all_packs_engine, reads, "deploy/ingress.yaml")
    assert {"SOC2-CC6.6-001", "HIPAA-164.312a-001", "TS-CRED-003"} <= set(files)
    assert not {r for r in files if r.startswith("TS-SUPPLY-")}


def test_profile_path_and_profile_only_rules(engine: PolicyEngine) -> None:
    reads = ap.rule_reads(engine.sources, engine.rules())
    files, _, profile = _applicable(engine, reads, ".trustacks/profile.yaml")
    assert "TS-PROF-001" in files
    _, _, profile_only = _applicable(engine, reads, "README.md")
    assert "TS-PROF-002" in profile_only


def test_reasons_name_the_path_and_fact(engine: PolicyEngine) -> None:
    reads = ap.rule_reads(engine.sources, engine.rules())
    files, _, _ = _applicable(engine, reads, "Dockerfile", "app/main.py")
    cred = files["TS-CRED-001"]
    assert cred.paths == ["Dockerfile", "app/main.py"]
    assert any("input.facts.secrets" in b and b.startswith("Dockerfile") for b in cred.because)
    assert "pushing_ci" in files["TS-SUPPLY-001"].because[0]


def test_source_path_is_not_a_build_input(engine: PolicyEngine) -> None:
    reads = ap.rule_reads(engine.sources, engine.rules())
    files, _, _ = _applicable(engine, reads, "app/main.py")
    assert set(files) == {"TS-CRED-001"}
