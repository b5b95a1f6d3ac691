"""The tool bodies in-process: same Decision as the bot's gate, PR-body parsing, bounds, confinement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import pipeline
from bot.mcp_server import limits
from bot.mcp_server.limits import InputError
from bot.mcp_server.service import McpService, Unavailable
from bot.mcp_server.workspace import Workspace, WorkspaceError
from bot.models import ProposalKind, as_dict
from bot.policy import PolicyEngine
from bot.profile import PROFILE_PATH

from tests.mcp.conftest import APP_REPO, AWS_KEY, COMPLIANT_BODY, PLATFORM, WorkspaceForge, tree_digest

KEY_FILE = {"path": "app/settings.py", "content": f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'}
SCRIPT = {"path": "scripts/health.sh", "content": "#!/bin/sh\ncurl -fsS http://localhost:8000/healthz\n"}


async def test_evaluate_gives_the_bots_own_decision(service: McpService, engine: PolicyEngine) -> None:
    """The tool's Decision and pipeline.evaluate's on the same proposal are identical."""
    for files, body in (([KEY_FILE], COMPLIANT_BODY), ([SCRIPT], COMPLIANT_BODY), ([SCRIPT], None)):
        proposal, profile = service.change_proposal(files, pr_body=body)
        flow = pipeline.Flow(forge=WorkspaceForge(service.workspace), policy=engine, platform_repo=PLATFORM)  # type: ignore[arg-type]
        expected = await pipeline.evaluate(flow, proposal, profile)
        got = service.evaluate(files, pr_body=body)
        assert got["decision"] == as_dict(expected)
        assert got["verdict"] == expected.verdict


def test_static_cloud_key_is_denied_by_its_rule(service: McpService) -> None:
    got = service.evaluate([KEY_FILE], pr_body=COMPLIANT_BODY)
    assert got["verdict"] == "deny" and not got["allowed"]
    denied = [v for v in got["decision"]["deny"] if v["rule"] == "TS-CRED-001"]
    assert denied and denied[0]["msg"].startswith("app/settings.py:1: AWS access key id")
    assert AWS_KEY not in str(got)  # the value never comes back
    cited = {c["id"]: c for c in got["citations"]}
    assert cited["TS-CRED-001"]["remediation"] and cited["TS-CRED-001"]["results"][0]["because"]


def test_compliant_change_with_a_full_pr_body_passes(service: McpService) -> None:
    got = service.evaluate([SCRIPT], pr_body=COMPLIANT_BODY)
    assert got["decision"]["deny"] == [], got["decision"]["deny"]
    prop = got["proposal"]
    assert prop["blast_radius"] == ["file: scripts/health.sh in acme/platform", "services: payments (probe only)"]
    assert prop["rollback"] == ["Revert this PR; the probe falls back to the HTTP check."]
    assert prop["profile_refs"] == [".trustacks/profile.yaml#tooling.ci[0]"]
    assert prop["head_branch"].startswith("trustacks/mcp/") and prop["base_branch"] == "main"
    assert prop["title"] == "Add a health check script"


def test_missing_pr_body_sections_are_denied_with_their_rules(service: McpService) -> None:
    got = service.evaluate([SCRIPT])
    rules = {v["rule"] for v in got["decision"]["deny"]}
    assert {"TS-CITE-001", "TS-CITE-002", "TS-CITE-003"} <= rules


def test_unresolved_profile_ref_is_denied(service: McpService) -> None:
    body = COMPLIANT_BODY.replace("tooling.ci[0]", "tooling.ci[7]")
    msgs = [v["msg"] for v in service.evaluate([SCRIPT], pr_body=body)["decision"]["deny"] if v["rule"] == "TS-CITE-003"]
    assert msgs == [".trustacks/profile.yaml#tooling.ci[7] does not resolve to an entry of the current Profile"]


def test_change_reads_current_content_as_old(service: McpService, platform_repo: Path) -> None:
    current = (platform_repo / "Dockerfile").read_text()
    proposal, _ = service.change_proposal([{"path": "Dockerfile", "content": current + "# x\n"},
                                           {"path": "README.md", "content": None}])
    actions = {f.path: (f.action, f.old is not None) for f in proposal.files}
    assert actions == {"Dockerfile": ("update", True), "README.md": ("delete", True)}
    assert proposal.kind is ProposalKind.GENERATE
    profile_change, _ = service.change_proposal([{"path": PROFILE_PATH, "content": "version: 1\n"}])
    assert profile_change.kind is ProposalKind.PROFILE


def test_change_for_an_application_repo(service: McpService) -> None:
    proposal, _ = service.change_proposal([SCRIPT], repo=APP_REPO)
    assert proposal.repo == APP_REPO
    with pytest.raises(InputError, match="not configured"):
        service.change_proposal([SCRIPT], repo="evil/elsewhere")


@pytest.mark.parametrize("files, message", [
    ([], "non-empty list"),
    ([{"path": "/etc/passwd", "content": "x"}], "absolute path"),
    ([{"path": "../outside", "content": "x"}], "escapes the repository"),
    ([{"path": "a\x00b", "content": "x"}], "invalid path"),
    ([{"path": "a", "content": "x" * (limits.MAX_FILE_CHARS + 1)}], "character limit"),
    ([{"path": f"f{i}", "content": ""} for i in range(limits.MAX_FILES + 1)], "file limit"),
    ([{"path": "a", "content": "x"}, {"path": "./a", "content": "y"}], "appears twice"),
    ([{"path": "a", "content": "x", "mode": "0777"}], "unknown keys"),
    (["Dockerfile"], "must be an object"),
    ([{"path": "gone.txt", "content": None}], "does not exist"),
])
def test_evaluate_refuses_bad_files(service: McpService, files: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        service.evaluate(files)


@pytest.mark.parametrize("kwargs, message", [
    ({"base_branch": "main branch"}, "not a valid branch"),
    ({"base_branch": "../main"}, "not a valid branch"),
    ({"pr_body": "x" * (limits.MAX_PR_BODY_CHARS + 1)}, "character limit"),
    ({"pr_body": 42}, "must be a string"),
])
def test_evaluate_refuses_bad_arguments(service: McpService, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        service.evaluate([SCRIPT], **kwargs)


def test_total_size_is_bounded(service: McpService) -> None:
    chunk = "x" * limits.MAX_FILE_CHARS
    files = [{"path": f"f{i}", "content": chunk} for i in range(limits.MAX_TOTAL_CHARS // limits.MAX_FILE_CHARS + 1)]
    with pytest.raises(InputError, match="add up to"):
        service.evaluate(files)


def test_rules_for_change_reports_current_findings_and_tooling(service: McpService) -> None:
    got = service.rules_for_change(["Dockerfile", ".github/workflows/ci.yml"])
    assert {"TS-CRED-001", "TS-CRED-002", "TS-SUPPLY-001"} <= set(got["rule_ids"])
    assert [p["exists"] for p in got["paths"]] == [True, True]
    # the fixture workflow pushes an image without SBOM: judged as it is now
    assert any(f["rule"] == "TS-SUPPLY-001" and f["effect"] == "deny" for f in got["current"]["findings"])
    sbom = next(r for r in got["rules"] if r["id"] == "TS-SUPPLY-001")
    assert sbom["profile_tooling"][0] == {"category": "sbom_signing", "needs": ["syft"],
                                          "profile_names": ["syft", "cosign"], "satisfied": True}


def test_rules_for_change_with_a_profile_argument(service: McpService) -> None:
    bare = "version: 1\nplatform:\n  repo: acme/platform\ntooling: {}\nservices: []\n"
    got = service.rules_for_change(["Dockerfile"], bare)
    sbom = next(r for r in got["rules"] if r["id"] == "TS-SUPPLY-001")
    assert sbom["profile_tooling"][0]["satisfied"] is False
    with pytest.raises(InputError, match="profile"):
        service.rules_for_change(["Dockerfile"], "version: [")


def test_rules_list_filters_and_refuses_unknown(service: McpService) -> None:
    got = service.rules_list(layer="constitution")
    assert got["count"] == len(got["rules"]) > 10
    assert all(r["layer"] == "constitution" and r["description"] and r["remediation"] for r in got["rules"])
    assert service.rules_list(layer="overlay")["count"] == 0
    with pytest.raises(InputError, match="not loaded"):
        service.rules_list(pack="soc2")  # the server loads the constitution only unless --pack says otherwise
    with pytest.raises(InputError, match="layer must be"):
        service.rules_list(layer="root")


def test_rule_show_and_explain(service: McpService) -> None:
    shown = service.rule_show("TS-SUPPLY-004")
    assert shown["reads"]["inputs"] == ["input.facts.ci"]
    assert "dockerfile" in shown["file_kinds"] and "ci" in shown["file_kinds"]
    assert shown["parameters"]["vuln_fail_at"]["value"] == "critical"
    assert set(shown["parameters"]) == {"vuln_fail_at"}  # only what the rule names
    assert service.rule_show("TS-CRED-001")["parameters"] == {}
    decision = service.evaluate([KEY_FILE], pr_body=COMPLIANT_BODY)
    got = service.explain("TS-CRED-001", decision)
    assert got["in_decision"][0]["effect"] == "deny" and "denied" in got["in_decision_summary"]
    assert "neither" in service.explain("TS-PROC-003", decision["decision"])["in_decision_summary"]
    for bad in ("ts-cred-001", "X" * 200, "TS-NOPE-999"):
        with pytest.raises(InputError):
            service.explain(bad)
    with pytest.raises(InputError, match="decision"):
        service.explain("TS-CRED-001", {"deny": "everything"})


def test_profile_show_discover_gaps(service: McpService, platform_repo: Path) -> None:
    shown = service.profile_show()
    assert shown["repo"] == PLATFORM and shown["profile"]["services"][0]["framework"] == "fastapi"
    assert shown["yaml"] == (platform_repo / PROFILE_PATH).read_text()
    found = service.discover(APP_REPO)
    assert found["repo"] == APP_REPO and found["services"][0]["framework"] == "flask"
    assert ("ci", "azure-pipelines") in {(f["category"], f["tool"]) for f in found["findings"]}
    assert not found["profile_diff"]["is_empty"] and "azure-pipelines" in found["profile_diff"]["proposed_profile"]
    assert service.discover("app")["path"] == "app"
    gaps = service.gaps()
    assert gaps["profile"] == PLATFORM and gaps["markdown"].startswith("# Gap Analysis Report")


def test_discover_is_confined(service: McpService, platform_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM alpine\n")
    os.symlink(outside, platform_repo / "escape")
    for spec, message in (("escape", "symlink"), ("../outside", "escapes"), ("/tmp", "absolute"),
                          ("other/repo:.", "not configured"), ("README.md", "not a directory")):
        with pytest.raises(InputError, match=message):
            service.discover(spec)


def test_missing_or_broken_profile_is_unavailable(engine: PolicyEngine, platform_repo: Path) -> None:
    svc = McpService(engine, Workspace(platform_repo))
    (platform_repo / PROFILE_PATH).write_text("version: [\n")
    with pytest.raises(Unavailable, match="cannot be read"):
        svc.profile_show()
    (platform_repo / PROFILE_PATH).unlink()
    with pytest.raises(Unavailable, match="no .trustacks/profile.yaml"):
        svc.gaps()
    assert svc.evaluate([SCRIPT], pr_body=COMPLIANT_BODY)["verdict"] == "deny"  # no Profile to generate from


def test_workspace_refuses_bad_configuration(platform_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError):
        Workspace(tmp_path / "missing")
    with pytest.raises(WorkspaceError, match="repository name"):
        Workspace(platform_repo, repos={"../x": platform_repo})
    with pytest.raises(WorkspaceError, match="twice"):
        Workspace(platform_repo, repos={PLATFORM: platform_repo})
    assert Workspace(platform_repo).platform.name == PLATFORM  # from the Profile's platform.repo


def test_service_never_writes(service: McpService, platform_repo: Path, app_repo: Path) -> None:
    before = (tree_digest(platform_repo), tree_digest(app_repo))
    service.evaluate([KEY_FILE, {"path": "Dockerfile", "content": None}], pr_body=COMPLIANT_BODY)
    service.rules_for_change(["Dockerfile"])
    service.discover(f"{APP_REPO}:.")
    service.gaps()
    service.review_prompt("Dockerfile", "add a key")
    assert (tree_digest(platform_repo), tree_digest(app_repo)) == before


async def test_evaluate_applies_the_merged_waivers_as_the_gate_does(platform_repo: Path, app_repo: Path) -> None:
    """A signed waiver in the platform repo lifts the same pack rule for the MCP tool as for the bot's gate."""
    import datetime as dt

    from bot.policy import keys
    from bot.policy.waivers import WAIVERS_PATH, Waiver, dump_waivers, sign_waiver

    private, public = keys.generate_keypair()
    waiver = sign_waiver(Waiver(rule="ITIL-CHG-001", repo="**", reason="tracked in SHOP-9", approver="alice",
                                expires=dt.date.today() + dt.timedelta(days=7)), private_key_pem=private)
    (platform_repo / WAIVERS_PATH).write_text(dump_waivers([waiver]))
    engine = PolicyEngine.load(packs=("itil",), isolate=False)
    workspace = Workspace(platform_repo, repos={APP_REPO: app_repo})
    plain, trusting = McpService(engine, workspace), McpService(engine, workspace, waiver_keys={"alice": public})
    body = COMPLIANT_BODY.replace("CHG", "XXX")  # no change record: ITIL-CHG-001 denies
    before = plain.evaluate([SCRIPT], pr_body=body)
    assert "ITIL-CHG-001" in [v["rule"] for v in before["decision"]["deny"]]
    assert before["decision"]["waivers_ignored"]  # the waiver is there but its approver is not trusted
    after = trusting.evaluate([SCRIPT], pr_body=body)
    assert "ITIL-CHG-001" not in [v["rule"] for v in after["decision"]["deny"]]
    assert [w["violation"]["rule"] for w in after["decision"]["waived"]] == ["ITIL-CHG-001"]
    proposal, profile = trusting.change_proposal([SCRIPT], pr_body=body)
    flow = pipeline.Flow(forge=WorkspaceForge(workspace), policy=engine, platform_repo=PLATFORM,  # type: ignore[arg-type]
                         waiver_keys={"alice": public})
    assert after["decision"] == as_dict(await pipeline.evaluate(flow, proposal, profile))
