"""`python -m bot mcp` as a real subprocess, driven by the SDK's own client over stdio.

Every tool, resource and the prompt are called on the fixture platform repo; bad arguments get MCP
errors and the server keeps serving; the repositories, a store database, the working directory and
HOME are byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from bot import pipeline
from bot.mcp_server import limits
from bot.mcp_server.server import TOOLS
from bot.mcp_server.service import McpService
from bot.mcp_server.workspace import Workspace
from bot.models import as_dict
from bot.policy import PolicyEngine

from tests.mcp.conftest import APP_REPO, AWS_KEY, COMPLIANT_BODY, PLATFORM, ROOT, WorkspaceForge, tree_digest

KEY_FILE = {"path": "deploy/aws.env", "content": f"AWS_ACCESS_KEY_ID={AWS_KEY}\nAWS_REGION=us-east-1\n"}


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, Path]:
    """A working directory, HOME and a store database the server must leave alone."""
    dirs = {"cwd": tmp_path / "cwd", "home": tmp_path / "home"}
    for d in dirs.values():
        d.mkdir()
    db = tmp_path / "store.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("create table jobs (id integer primary key, state text)")
        conn.execute("insert into jobs (state) values ('queued')")
    conn.close()
    return dirs | {"db": db}


def params(platform: Path, app: Path, sandbox: dict[str, Path], *extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "bot", "mcp", "--platform-repo", str(platform), "--repo", f"{APP_REPO}={app}", *extra],
        cwd=str(sandbox["cwd"]),
        env={"PYTHONPATH": str(ROOT), "HOME": str(sandbox["home"]),
             "TRUSTACKS_DATABASE_URL": f"sqlite:///{sandbox['db']}"},
    )


def snapshot(*paths: Path) -> list[str]:
    return [tree_digest(p) if p.is_dir() else tree_digest(p.parent) for p in paths]


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, (tool, result.content[0].text[:500])
    assert result.structured_content is not None
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


async def error(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, (tool, args if len(str(args)) < 300 else "...")
    return result.content[0].text


async def test_every_tool_resource_and_prompt(platform_repo: Path, app_repo: Path, sandbox: dict[str, Path],
                                              engine: PolicyEngine) -> None:
    before = snapshot(platform_repo, app_repo, sandbox["db"], sandbox["cwd"], sandbox["home"])
    async with Client(params(platform_repo, app_repo, sandbox)) as client:
        listed = (await client.list_tools()).tools
        assert [t.name for t in listed] == list(TOOLS)
        for t in listed:
            assert t.annotations and t.annotations.read_only_hint and t.annotations.destructive_hint is False, t.name
            assert t.description

        rules = await call(client, "rules_list", {})
        assert [r["id"] for r in rules["rules"]] == [m.id for m in engine.rules()]
        assert (await call(client, "rules_list", {"layer": "constitution"}))["count"] == rules["count"]
        shown = await call(client, "rule_show", {"rule_id": "TS-CRED-001"})
        assert shown["severity"] == "critical" and shown["reads"]["inputs"] == ["input.facts.secrets"]

        # "Which constitution rules apply when I open a PR that adds a Dockerfile?"
        docker = await call(client, "rules_for_change", {"paths": ["Dockerfile"]})
        ids = docker["rule_ids"]
        assert "TS-CRED-001" in ids
        assert {"TS-SUPPLY-001", "TS-SUPPLY-002", "TS-SUPPLY-003", "TS-SUPPLY-004"} <= set(ids)
        assert all(r["because"] and r["description"] for r in docker["rules"])
        ci = await call(client, "rules_for_change", {"paths": [".github/workflows/ci.yml"]})
        assert {"TS-CRED-002", "TS-SUPPLY-001"} <= set(ci["rule_ids"])

        # evaluate: a static cloud key is denied by TS-CRED-001, exactly as the bot's own gate decides
        verdict = await call(client, "evaluate", {"files": [KEY_FILE], "pr_body": COMPLIANT_BODY})
        assert verdict["verdict"] == "deny"
        assert [v["rule"] for v in verdict["decision"]["deny"]] == ["TS-CRED-001"]
        local = McpService(engine, Workspace(platform_repo, repos={APP_REPO: app_repo}))
        proposal, profile = local.change_proposal([KEY_FILE], pr_body=COMPLIANT_BODY)
        flow = pipeline.Flow(forge=WorkspaceForge(local.workspace), policy=engine, platform_repo=PLATFORM)  # type: ignore[arg-type]
        assert verdict["decision"] == as_dict(await pipeline.evaluate(flow, proposal, profile))
        passing = await call(client, "evaluate", {"files": [{"path": "scripts/ok.sh", "content": "echo ok\n"}],
                                                  "pr_body": COMPLIANT_BODY, "base_branch": "main"})
        assert passing["allowed"] is True

        explained = await call(client, "explain", {"rule_id": "TS-CRED-001", "decision": verdict})
        assert explained["in_decision"][0]["msg"].startswith("deploy/aws.env:1: AWS access key id")
        assert (await call(client, "explain", {"rule_id": "TS-PROC-001"}))["remediation"]

        prof = await call(client, "profile_show", {})
        assert prof["repo"] == PLATFORM and "github-actions" in prof["yaml"]
        found = await call(client, "discover", {"path": APP_REPO})
        assert found["services"][0]["framework"] == "flask"
        assert (await call(client, "discover", {"path": "."}))["repo"] == PLATFORM
        gaps = await call(client, "gaps", {})
        assert gaps["profile"] == PLATFORM and gaps["rules_checked"] == rules["count"]

        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"trustacks://profile", "trustacks://rules", "trustacks://gaps"} <= uris
        assert {f"trustacks://rules/{r['id']}" for r in rules["rules"]} <= uris
        text = (await client.read_resource("trustacks://rules/TS-CRED-001")).contents[0].text
        assert text.startswith("# TS-CRED-001: No long-lived static credentials")
        assert (await client.read_resource("trustacks://profile")).contents[0].text == prof["yaml"]
        assert (await client.read_resource("trustacks://gaps")).contents[0].text == gaps["markdown"]
        assert "`TS-SUPPLY-004`" in (await client.read_resource("trustacks://rules")).contents[0].text

        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["review_change"]
        prompt = await client.get_prompt("review_change", {"paths": "Dockerfile", "description": "containerise"})
        body = prompt.messages[0].content.text
        assert "`TS-SUPPLY-001`" in body and "evaluate" in body and "containerise" in body

    assert snapshot(platform_repo, app_repo, sandbox["db"], sandbox["cwd"], sandbox["home"]) == before
    assert list(sandbox["cwd"].iterdir()) == [] and list(sandbox["home"].iterdir()) == []


async def test_bad_arguments_get_mcp_errors_and_the_server_keeps_serving(
        platform_repo: Path, app_repo: Path, sandbox: dict[str, Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not read\n")
    os.symlink(outside, platform_repo / "link")
    (outside / "keys.env").write_text(f"AWS_ACCESS_KEY_ID={AWS_KEY}\n")
    os.symlink(outside / "keys.env", platform_repo / "notes.txt")
    before = snapshot(platform_repo, app_repo, outside)
    huge = "x" * (limits.MAX_FILE_CHARS + 1)
    async with Client(params(platform_repo, app_repo, sandbox)) as client:
        cases: list[tuple[str, dict[str, Any], str]] = [
            # oversized
            ("evaluate", {"files": [{"path": "big.txt", "content": huge}]}, "character limit"),
            ("rules_for_change", {"paths": [f"f{i}" for i in range(limits.MAX_PATHS + 1)]}, "path limit"),
            ("rules_for_change", {"paths": ["a" * (limits.MAX_PATH_CHARS + 1)]}, "character limit"),
            ("evaluate", {"files": [{"path": "a", "content": "x"}], "pr_body": "y" * (limits.MAX_PR_BODY_CHARS + 1)},
             "character limit"),
            # malformed
            ("rules_for_change", {"paths": "Dockerfile"}, "valid list"),
            ("evaluate", {"files": [{"path": "a"}]}, "content"),
            ("evaluate", {"files": "everything"}, "valid list"),
            ("rule_show", {"rule_id": 7}, "valid string"),
            ("rule_show", {"rule_id": "'; drop"}, "not a rule ID"),
            ("rule_show", {"rule_id": "TS-NOPE-001"}, "unknown rule"),
            ("rules_list", {"layer": "root"}, "constitution"),
            ("explain", {"rule_id": "TS-CRED-001", "decision": {"deny": [{"msg": 1}]}}, "decision.deny[0]"),
            ("evaluate", {"files": [{"path": "a", "content": "x"}], "base_branch": "main; rm -rf /"}, "branch name"),
            ("no_such_tool", {}, "Unknown tool"),
            # path-escaping
            ("rules_for_change", {"paths": ["../../etc/passwd"]}, "escapes the repository"),
            ("evaluate", {"files": [{"path": "/etc/passwd", "content": "x"}]}, "absolute path"),
            ("evaluate", {"files": [{"path": "C:\\Windows\\x", "content": "x"}]}, "absolute path"),
            ("discover", {"path": "../"}, "escapes the repository"),
            ("discover", {"path": f"{APP_REPO}:../platform"}, "escapes the repository"),
            ("discover", {"path": "link"}, "symlink"),
            ("discover", {"path": "evil/repo:."}, "not configured"),
            ("evaluate", {"files": [{"path": "a", "content": "x"}], "repo": "/etc"}, "not configured"),
        ]
        for tool, args, message in cases:
            text = await error(client, tool, args)
            assert message in text, (tool, message, text[:300])
            assert "Traceback" not in text
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource("trustacks://rules/../../etc/passwd")
        # a symlinked file is never read: not as the old content of a change, not for current findings
        assert "does not exist" in await error(client, "evaluate", {"files": [{"path": "notes.txt", "content": None}]})
        found = await call(client, "rules_for_change", {"paths": ["notes.txt"]})
        assert found["paths"][0]["exists"] is False and found["current"]["findings"] == []
        assert (await call(client, "rule_show", {"rule_id": "TS-CRED-001"}))["id"] == "TS-CRED-001"  # still serving
    assert snapshot(platform_repo, app_repo, outside) == before
