"""`--dry-run` on the `trustacks` commands that write to repos or forges: each computes and prints what it
would do and writes nothing. `demo` (a local forge and PRs), `setup github` (registers a GitHub App and
writes its credentials) and `generate --out` (files into a tree, often a repo checkout)."""

from __future__ import annotations

import asyncio
import tempfile
import webbrowser
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import setup_github
from bot.cli import cli
from bot.demo import DEMO_MARKER, resolve_app, run_demo
from bot.forges.local import LocalForge
from bot.setup_github import load_manifest

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "fixtures" / "profiles"
WEBHOOK = "https://trustacks.example.com/webhooks/github"


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- demo


def test_demo_dry_run_prints_every_pr_it_would_open_and_touches_no_workdir(tmp_path, monkeypatch):
    # a workdir from an earlier demo: a real run would wipe and reseed it
    workdir = tmp_path / "demo"
    workdir.mkdir()
    (workdir / DEMO_MARKER).write_text("made by trustacks demo\n")
    (workdir / "notes.txt").write_text("keep me\n")
    before = tree(workdir)
    scratch: list[Path] = []
    real = tempfile.TemporaryDirectory

    def recording(*args, **kwargs):
        d = real(*args, **kwargs)
        scratch.append(Path(d.name))
        return d

    monkeypatch.setattr(tempfile, "TemporaryDirectory", recording)
    result = CliRunner().invoke(cli, ["demo", "--dry-run", "--quiet", "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "WOULD OPEN: Create the TruStacks Environment Profile" in out
    assert "WOULD OPEN: TruStacks: ci for payments-fastapi" in out
    assert "WOULD OPEN: TruStacks: argocd, helm for payments-fastapi" in out
    assert "demo-admin would declare the tools discovery could not see" in out
    for repo, branch in (("acme/platform", "trustacks/profile/acme-platform"),
                         ("acme/payments-fastapi", "trustacks/generate/acme-payments-fastapi"),
                         ("acme/platform", "trustacks/generate/acme-platform")):
        assert f"would open change request: {repo} {branch}" in out
        assert f"would commit files: {repo} {branch}" in out
    assert "PR:" not in out and "merged acme/platform#" not in out
    assert tree(workdir) == before
    forges = [d for d in scratch if d.name.startswith("trustacks-demo-dry-run-")]
    assert len(forges) == 1 and not any(d.exists() for d in scratch)  # the scratch forge is gone


def test_demo_dry_run_leaves_the_forge_without_a_bot_branch_pr_or_comment(tmp_path):
    code = asyncio.run(run_demo(tmp_path, resolve_app(None), quiet=True, dry_run=True))
    assert code == 0
    forge = LocalForge(tmp_path / "forge")
    try:
        for repo in ("acme/platform", "acme/payments-fastapi"):
            refs = forge._git(repo, "for-each-ref", "--format=%(refname)").stdout.decode().split()
            assert refs == ["refs/heads/main"], refs
            assert asyncio.run(forge.find_change_requests(repo, state="all")) == []
            assert forge.checks(repo) == []
        for table in ("prs", "comments", "issues", "labels", "checks"):
            assert forge.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    finally:
        forge.close()


# ---------------------------------------------------------------------------- setup github


@pytest.fixture
def no_github(monkeypatch):
    """The real flow's side doors: serving the page, opening a browser. A dry run must use neither."""
    def refuse(*args, **kwargs):
        raise AssertionError("a dry run started the setup flow")

    monkeypatch.setattr(setup_github, "run_setup", refuse)
    monkeypatch.setattr(webbrowser, "open", refuse)


def test_setup_github_dry_run_describes_the_app_and_the_files_and_writes_nothing(tmp_path, no_github):
    config = tmp_path / "etc" / "trustacks.toml"
    result = CliRunner().invoke(cli, ["setup", "github", "--dry-run", "--webhook-url", WEBHOOK, "--org", "acme",
                                      "--config", str(config), "--port", "3111"])
    assert result.exit_code == 0, result.output
    out = result.output
    manifest = load_manifest(ROOT / "app.yml")
    for permission, access in manifest["default_permissions"].items():
        assert f"{permission}: {access}" in out
    for event in manifest["default_events"]:
        assert event in out
    assert f"webhook URL:  {WEBHOOK}" in out
    assert "redirect URL: http://127.0.0.1:3111/setup/callback" in out
    assert "https://github.com/organizations/acme/settings/apps/new" in out
    assert str(config) in out and str(config.parent / "github-app.pem") in out
    assert not (tmp_path / "etc").exists()


def test_setup_github_dry_run_runs_the_same_checks_as_the_real_setup(tmp_path, no_github):
    config = tmp_path / "trustacks.toml"
    config.write_text("# the operator's\n")
    args = ["setup", "github", "--dry-run", "--webhook-url", WEBHOOK, "--config", str(config)]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code != 0 and "exists; pass --force" in refused.output
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0 and f"replacing {config}" in forced.output
    bad = CliRunner().invoke(cli, [*args, "--force", "--org", "not an org!"])
    assert bad.exit_code != 0 and "--org" in bad.output
    assert config.read_text() == "# the operator's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trustacks.toml"]


# ---------------------------------------------------------------------------- generate --out


def test_generate_dry_run_lists_the_files_it_would_write_and_writes_none(tmp_path):
    args = ["generate", "--profile", str(PROFILES / "gitlab-gcp.yaml"), "--service", "bff", "--only", "ci",
            "--only", "docker", "--only", "kustomize"]
    dry = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "dry"), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert not (tmp_path / "dry").exists()
    assert "(would be written; dry run, nothing written)" in dry.output
    listed = {line.split("would write ", 1)[1].split("  [", 1)[0]
              for line in dry.output.splitlines() if "would write " in line}
    # exactly what the real run writes
    real = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "real")])
    assert real.exit_code == 0, real.output
    assert listed == set(tree(tmp_path / "real")) and "app/acme/frontends/services/bff/Dockerfile" in listed


# ---------------------------------------------------------------------------- serve


@pytest.mark.parametrize("flag, env_dry, expected", [(True, "0", True), (False, "0", False), (False, "1", True)])
def test_serve_dry_run_flag_reaches_the_dispatcher_settings(tmp_path, monkeypatch, flag, env_dry, expected):
    """`serve --dry-run` is TRUSTACKS_DRY_RUN=1 for this run (what the dispatcher then does with it is tested
    through build_dispatcher in test_wiring_dryrun.py); without the flag the variable decides."""
    import bot.handlers
    from bot import serve_cli

    seen = {}

    def build(settings):
        seen["dispatcher"] = settings.dry_run
        return object()

    async def run(settings, dispatcher, **kwargs):
        seen["service"] = settings.dry_run

    monkeypatch.setattr(bot.handlers, "build_dispatcher", build)
    monkeypatch.setattr(serve_cli, "run_service", run)
    monkeypatch.setattr(serve_cli, "configure_logging", lambda *a, **k: None)
    env = {"TRUSTACKS_GITHUB_WEBHOOK_SECRET": "serve-dry-run-secret", "TRUSTACKS_POLICY_UNSIGNED": "true",
           "TRUSTACKS_DATA_DIR": str(tmp_path), "TRUSTACKS_DRY_RUN": env_dry}
    result = CliRunner(env=env).invoke(cli, ["serve", *(["--dry-run"] if flag else [])])
    assert result.exit_code == 0, result.output
    assert seen == {"dispatcher": expected, "service": expected}
