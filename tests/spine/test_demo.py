"""`trustacks demo` end to end on the local forge: two PRs on trustacks/ branches, no bot commit on main."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from bot.demo import DEMO_MARKER, DemoError, prepare_workdir, resolve_app, run_demo
from bot.forges.local import LocalForge


def first_parent_emails(forge, repo):
    out = subprocess.run(["git", "--git-dir", str(forge.repo_path(repo)), "log", "--first-parent", "--format=%ae",
                          "main"], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = prepare_workdir(tmp_path_factory.mktemp("demo") / "w")
    code = asyncio.run(run_demo(workdir, resolve_app(None), quiet=True))
    forge = LocalForge(workdir / "forge")
    yield code, forge
    forge.close()


def test_demo_policy_came_from_pinned_signed_bundles(demo_run):
    """The demo's bundles verify on their own with the runtime's loader (the check `trustacks serve` runs)."""
    from bot.policy.trusted import PIN_FILE, load_trusted_policy, read_pin

    code, forge = demo_run
    policy_dir = forge.data_dir.parent / "policy"
    bundles = policy_dir / "bundles"
    trusted = load_trusted_policy(bundles, public_key_pem=(policy_dir / "trustacks.pub").read_bytes(),
                                  pin=read_pin(bundles / PIN_FILE), packs=("soc2",), isolate=False)
    assert trusted.revisions == {"constitution": "1.0.0", "packs/soc2": "1.0.0"}
    assert not list(policy_dir.rglob("*.key"))  # the demo's private key never touches the disk


def test_demo_opens_profile_and_generation_prs(demo_run):
    code, forge = demo_run
    assert code == 0
    platform_prs = asyncio.run(forge.find_change_requests("acme/platform", state="all"))
    app_prs = asyncio.run(forge.find_change_requests("acme/payments-fastapi", state="all"))
    prs = platform_prs + app_prs
    assert len(prs) >= 2
    assert all(pr.head.startswith("trustacks/") for pr in prs)
    profile_pr = next(pr for pr in platform_prs if pr.head.startswith("trustacks/profile/"))
    assert profile_pr.state.value == "merged" and profile_pr.merged_by == "demo-admin"
    gen = [pr for pr in prs if pr.head.startswith("trustacks/generate/")]
    assert gen and all(pr.state.value == "open" for pr in gen)
    # every PR body cites rules, blast radius, rollback and the Profile entries behind tool choices
    for pr in gen:
        assert "TS-" in pr.body and "Blast radius" in pr.body and "Rollback" in pr.body
        assert ".trustacks/profile.yaml#tooling." in pr.body
    # the generation covers CI, Dockerfile, Helm chart and Argo CD Application
    files = set()
    for pr in gen:
        files |= set(asyncio.run(forge.list_files(pr.repo, ref=pr.head)))
    assert any(f.startswith(".github/workflows/") for f in files)
    assert "Dockerfile" in files
    assert any(f.endswith("Chart.yaml") for f in files)
    assert any("argocd" in f for f in files)


def test_demo_profile_has_real_evidence(demo_run):
    _, forge = demo_run
    text = asyncio.run(forge.read_file("acme/platform", ".trustacks/profile.yaml")).decode()
    assert "acme/payments-fastapi:" in text and "github-actions" in text and "ecr" in text


def test_no_bot_commit_on_default_branches(demo_run):
    _, forge = demo_run
    for repo in ("acme/platform", "acme/payments-fastapi"):
        assert forge.bot_email not in first_parent_emails(forge, repo)


def test_workdir_safety(tmp_path):
    (tmp_path / "precious.txt").write_text("x")
    with pytest.raises(DemoError, match="not empty"):
        prepare_workdir(tmp_path)
    assert (tmp_path / "precious.txt").exists()
    w = prepare_workdir(tmp_path / "new")
    assert (w / DEMO_MARKER).exists()
    with pytest.raises(DemoError, match="no sample app"):
        resolve_app("no-such-app")


def test_demo_cli_runs_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bot", "demo", "--workdir", str(tmp_path / "d"), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trustacks/profile/" in proc.stdout and "trustacks/generate/" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "bot", "demo", "--workdir", str(tmp_path / "e"), "--app", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "no sample app" in bad.stderr
