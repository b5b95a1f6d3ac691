"""`trustacks demo`: the whole product on one machine, offline, on the local forge.

Seeds a sample application repo (from `fixtures/apps/`) and an empty platform repo as real bare git
repositories, then runs the real flow: discovery -> Profile PR -> a human (`demo-admin`) approves and
merges it -> generation (read-and-preserve) -> policy -> generation PRs. It prints every PR and verdict,
and proves from `git log` that the bot never committed to a default branch.

`--dry-run` computes and prints the same steps and writes nothing: the sample repos are seeded in a
scratch directory removed at exit (`--workdir` is not touched), the bot's forge runs in dry run (its
branch, commit and PR writes are suppressed and listed), and the human's merge is assumed, not made.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.forges.local import LocalForge, LocalForgeAdmin
from bot.tree import DirTree

if TYPE_CHECKING:
    from bot.policy.trusted import TrustedPolicy

HUMAN = "demo-admin"
REVIEWER = "demo-reviewer"
ORG = "acme"
PLATFORM = f"{ORG}/platform"
DEMO_MARKER = ".trustacks-demo"
DEFAULT_APP = "payments-fastapi"
PACKS = ("soc2",)
POLICY_REVISION = "1.0.0"


class DemoError(RuntimeError):
    """A demo step failed; the message says which and why."""


def fixtures_dir() -> Path:
    """`fixtures/` of the source tree (the demo runs from a checkout or an editable install)."""
    here = Path(__file__).resolve().parent.parent / "fixtures"
    if here.is_dir():
        return here
    raise DemoError(f"fixtures not found at {here}; run the demo from a TruStacks checkout")


def resolve_app(app: str | None) -> Path:
    if app is None:
        return fixtures_dir() / "apps" / DEFAULT_APP
    path = Path(app)
    if path.is_dir():
        return path
    candidate = fixtures_dir() / "apps" / app
    if candidate.is_dir():
        return candidate
    known = sorted(p.name for p in (fixtures_dir() / "apps").iterdir() if p.is_dir())
    raise DemoError(f"no sample app {app!r}; choose a directory or one of: {', '.join(known)}")


def prepare_workdir(workdir: Path) -> Path:
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / DEMO_MARKER).exists():
            raise DemoError(f"{workdir} is not empty and was not made by `trustacks demo`; choose another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / DEMO_MARKER).write_text("made by trustacks demo; safe to delete\n")
    return workdir


def read_app_files(app_dir: Path) -> dict[str, str]:
    tree = DirTree(app_dir)
    files = {}
    for path in tree.paths():
        data = tree.read(path)
        if data is None:
            continue
        try:
            files[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return files


#: how a dry run names what open_proposal computed but did not write
WOULD = {"opened": "WOULD OPEN", "updated": "WOULD UPDATE"}


class Printer:
    def __init__(self, *, quiet: bool = False, dry_run: bool = False) -> None:
        self.quiet = quiet
        self.dry_run = dry_run
        self.t0 = time.perf_counter()

    def step(self, text: str) -> None:
        click.secho(f"\n==> {text}  [{time.perf_counter() - self.t0:.2f}s]", bold=True, err=False)

    def info(self, text: str = "") -> None:
        click.echo(text)

    def pr(self, outcome) -> None:  # bot.pipeline.Outcome
        cr = outcome.change_request
        verdict = outcome.decision.verdict.upper()
        color = {"PASS": "green", "WARN": "yellow", "DENY": "red"}[verdict]
        action = WOULD.get(outcome.action, outcome.action.upper()) if self.dry_run else outcome.action.upper()
        click.echo(f"  {action}: {outcome.proposal.title}")
        click.echo(f"    repo:    {outcome.proposal.repo}")
        click.echo(f"    branch:  {outcome.proposal.head_branch} -> {outcome.proposal.base_branch}")
        if cr is not None and not self.dry_run:
            click.echo(f"    PR:      #{cr.number} {cr.url}")
        click.echo("    policy:  " + click.style(verdict, fg=color, bold=True)
                   + (f"  cites {', '.join(outcome.decision.cited_rules)}" if outcome.decision.cited_rules else ""))
        if not self.quiet:
            click.echo("    body:")
            for line in outcome.body.splitlines():
                click.echo(f"      | {line}")


def _trusted_policy(policy_dir: Path) -> "TrustedPolicy":
    """The operator's release (a fresh demo key), the pin, then the runtime's verified load."""
    from bot.policy import keys
    from bot.policy.bundle import ConstitutionPin
    from bot.policy.engine import default_rules_dir
    from bot.policy.trusted import CONSTITUTION_FILE, PIN_FILE, load_trusted_policy, release_bundles

    private_pem, public_pem = keys.generate_keypair()  # held in memory only; a demo key signs demo bundles
    bundle_dir = policy_dir / "bundles"
    release_bundles(default_rules_dir(), bundle_dir, private_key_pem=private_pem, revision=POLICY_REVISION, packs=PACKS)
    pin = ConstitutionPin.of(bundle_dir / CONSTITUTION_FILE, public_key_pem=public_pem, revision=POLICY_REVISION)
    (bundle_dir / PIN_FILE).write_text(pin.dumps(), encoding="utf-8")
    (policy_dir / "trustacks.pub").write_bytes(public_pem)
    return load_trusted_policy(bundle_dir, public_key_pem=public_pem, pin=pin, packs=PACKS)


async def run_demo(workdir: Path, app_dir: Path, *, quiet: bool = False, edit: bool = False,
                   dry_run: bool = False) -> int:
    """The demo in `workdir`. `dry_run`: the bot's writes are suppressed and listed (the seeding, done by
    the humans of the demo, still happens in `workdir`: the CLI passes a scratch directory then)."""
    from bot import pipeline
    from bot.audit import AuditLog
    from bot.profile import Profile

    out = Printer(quiet=quiet, dry_run=dry_run)
    forge_dir = workdir / "forge"
    forge = LocalForge(forge_dir, dry_run=dry_run)
    admin = LocalForgeAdmin(forge)
    app_repo = f"{ORG}/{app_dir.name}"
    try:
        out.step(f"Seeding {'a scratch' if dry_run else 'the'} local forge in {forge_dir}")
        admin.create_repo(app_repo, files=read_app_files(app_dir), owner=HUMAN, protected=["main"])
        admin.create_repo(PLATFORM, owner=HUMAN, protected=["main"], files={
            "README.md": "# Platform\n\nGitOps repository for acme. The Environment Profile lives in .trustacks/.\n"})
        admin.grant(app_repo, REVIEWER, "write")
        admin.grant(PLATFORM, REVIEWER, "write")
        out.info(f"  {app_repo}: {len(await forge.list_files(app_repo))} files from {app_dir}")
        out.info(f"  {PLATFORM}: empty platform repo")

        out.step("Releasing, pinning and verifying the policy bundles (constitution, SOC 2 pack)")
        trusted = _trusted_policy(workdir / "policy")
        for layer, bundle in sorted(trusted.bundles.items()):
            out.info(f"  {layer}: revision {bundle.revision}, {len(bundle.files)} files, signature verified "
                     f"(key {bundle.key_id})")
        out.info(f"  constitution pinned at {POLICY_REVISION}; key sha256:{trusted.key_fingerprint[:16]}…, "
                 "the same check `trustacks serve` runs")
        policy = trusted.engine
        audit = AuditLog(workdir / "audit.db")
        flow = pipeline.Flow(forge=forge, policy=policy, platform_repo=PLATFORM, audit=audit)

        out.step(f"Discovering {app_repo}")
        result = await pipeline.discover_repo(forge, app_repo)
        for f in result.findings:
            ev = f.evidence[0] if f.evidence else None
            out.info(f"  {f.category:<20} {f.tool:<22} {ev}  {ev.snippet.strip()[:60] if ev else ''}")
        for s in result.services:
            out.info(f"  service {s.name}: {s.language} {s.framework} {s.runtime_version or ''} port {s.port}")

        out.step("Proposing the Environment Profile")
        proposal = await pipeline.propose_profile(flow, [result])
        if proposal is None:
            raise DemoError("discovery found nothing to propose for the Profile")
        decision = await pipeline.evaluate(flow, proposal, None)
        profile_outcome = await pipeline.open_proposal(flow, proposal, decision, profile=None)
        out.pr(profile_outcome)
        if profile_outcome.change_request is None:
            raise DemoError(f"the Profile PR was not opened ({profile_outcome.action}); see the verdict above")

        if dry_run:
            # No PR exists to edit or merge: the Profile it proposes, with the humans' declarations, stands in.
            out.step(f"{HUMAN} would declare the tools discovery could not see, then review and merge the Profile PR")
            profile = Profile.loads(proposal.files[0].new or "")
            for category, tools in add_declared(profile).items():
                out.info(f"  would declare {category}: {', '.join(tools)}")
        else:
            number = profile_outcome.change_request.number
            out.step(f"{HUMAN} declares the tools discovery could not see (a human edit on the Profile PR)")
            declared = await declare_missing_tools(forge, admin, proposal.head_branch)
            for category, tools in declared.items():
                out.info(f"  declared {category}: {', '.join(tools)}")

            out.step(f"{HUMAN} reviews and merges the Profile PR (the bot never merges)")
            admin.approve(PLATFORM, number, user=REVIEWER)
            merge_sha = admin.merge(PLATFORM, number, user=HUMAN)
            out.info(f"  merged {PLATFORM}#{number} as {merge_sha[:12]} by {HUMAN}")

        out.step("Generating from the merged Profile")
        if not dry_run:
            profile = await pipeline.load_profile(forge, PLATFORM)
        assert profile is not None
        proposals, gaps = await pipeline.propose_generation(flow, profile)
        for gap in gaps:
            out.info(f"  gap: {gap.category}: {gap.message}")
        opened = []
        for prop in proposals:
            decision = await pipeline.evaluate(flow, prop, profile)
            outcome = await pipeline.open_proposal(flow, prop, decision, profile=profile)
            out.pr(outcome)
            opened.append(outcome)
        if not any(o.change_request for o in opened):
            raise DemoError("no generation PR was opened; see the verdicts above")

        if edit and dry_run:
            out.info("  --edit is skipped in a dry run: a human cannot edit a branch the bot did not push")
        elif edit:
            await demo_edit_round(flow, admin, profile, opened, out)

        out.step("Proof: no commit by the bot on any default branch (git log --first-parent)")
        for repo in (app_repo, PLATFORM):
            default = await forge.default_branch(repo)
            log = admin.log(repo, default)
            bot_commits = [c for c in log if forge.bot_email in (c.author_email, c.committer_email)]
            first_parent = _first_parent_emails(forge, repo, default)
            out.info(f"  {repo}@{default}: {len(log)} commits reachable, first-parent authors: "
                     f"{', '.join(sorted(set(first_parent)))}")
            if forge.bot_email in first_parent:
                raise DemoError(f"the bot committed directly to {repo}@{default}")
            del bot_commits
        out.step("Audit: every policy decision, hash-chained")
        verification = audit.verify()
        out.info(f"  {verification.summary()}")
        if not verification.ok:
            raise DemoError("the audit log does not verify")

        if dry_run:
            out.step("Dry run: what the bot computed but did not write")
            for verb, repo, target in forge.suppressed:
                out.info(f"  would {verb.replace('_', ' ')}: {repo} {target}")
            made = [pr for repo in (app_repo, PLATFORM) for pr in await forge.find_change_requests(repo, state="all")]
            if made:  # a safety net: the forge guard suppresses these, so this never fires
                raise DemoError(f"a dry run opened {len(made)} pull request(s)")
            out.info("  Nothing was written. Run without --dry-run to create the repositories and PRs in --workdir.")
            return 0

        out.step("Done")
        out.info(f"  Bare repositories: {forge_dir / 'repos'}")
        out.info(f"  PRs, comments and checks: {forge_dir / 'forge.db'} (SQLite)")
        out.info(f"  Audit log: {workdir / 'audit.db'}  (trustacks audit verify --db {workdir / 'audit.db'})")
        out.info(f"  Try: git --git-dir {forge.repo_path(PLATFORM)} log --all --graph --oneline")
        return 0
    finally:
        forge.close()


#: what the demo's platform team runs but the sample app's files do not show
DEMO_DECLARED = {
    "sbom_signing": [{"tool": "syft", "source": "declared"}, {"tool": "cosign", "source": "declared"}],
    "gitops": [{"tool": "argocd", "source": "declared"}],
    "mesh_ingress": [{"tool": "nginx", "source": "declared", "settings": {"domain": "payments.acme.example"}}],
}


async def declare_missing_tools(forge: LocalForge, admin: LocalForgeAdmin, branch: str) -> dict[str, list[str]]:
    """Add `source: declared` entries for categories the Profile PR leaves empty, as a human commit."""
    from bot.profile import PROFILE_PATH, Profile

    text = await forge.read_file(PLATFORM, PROFILE_PATH, ref=branch)
    if text is None:
        raise DemoError("the Profile PR branch has no Profile file")
    profile = Profile.loads(text)
    added = add_declared(profile)
    if added:
        admin.push(PLATFORM, branch, {PROFILE_PATH: profile.dumps()}, user=HUMAN,
                   message="Declare SBOM/signing, GitOps and ingress tools")
    return added


def add_declared(profile) -> dict[str, list[str]]:  # bot.profile.Profile, changed in place
    """Add `source: declared` entries for the categories the Profile leaves empty; returns what was added."""
    added: dict[str, list[str]] = {}
    for category, entries in DEMO_DECLARED.items():
        if not profile.tools(category):
            profile.set_tools(category, entries)
            added[category] = [e["tool"] for e in entries]
    return added


def _first_parent_emails(forge: LocalForge, repo: str, branch: str) -> list[str]:
    proc = forge._git(repo, "log", "--first-parent", "--format=%ae", f"refs/heads/{branch}")
    return [line for line in proc.stdout.decode().splitlines() if line]


async def demo_edit_round(flow, admin, profile, opened, out: Printer) -> None:
    """A human edits the generated files on the bot branch; re-running keeps the edits."""
    from bot import pipeline

    out.step("A human edits the generation branch; the bot must not overwrite it")
    for outcome in opened:
        if outcome.change_request is None:
            continue
        prop = outcome.proposal
        target = next((f for f in prop.files if f.path.endswith((".yml", ".yaml")) and f.new), None)
        if target is None:
            continue
        edited = target.new + "# tuned by the platform team\n"
        admin.push(prop.repo, prop.head_branch, {target.path: edited}, user=HUMAN, message="Tune generated file")
        again, _ = await pipeline.propose_generation(flow, profile)
        for p in again:
            if p.repo == prop.repo:
                decision = await pipeline.evaluate(flow, p, profile)
                result = await pipeline.open_proposal(flow, p, decision, profile=profile)
                out.info(f"  {p.repo}: {result.action} (human edit on {target.path} kept)")
        break


@click.command("demo")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".trustacks-demo"),
              show_default=True, help="Where the local forge's repositories and database are created.")
@click.option("--app", "app", default=None, metavar="NAME|DIR",
              help=f"Sample app from fixtures/apps/ (default {DEFAULT_APP}) or a directory.")
@click.option("--quiet", is_flag=True, help="Do not print PR bodies.")
@click.option("--edit", is_flag=True, help="Also show a human editing the generated branch and the bot keeping it.")
@click.option("--dry-run", is_flag=True,
              help="Compute and print every step, write nothing: a scratch forge removed at exit, --workdir untouched.")
def demo_command(workdir: Path, app: str | None, quiet: bool, edit: bool, dry_run: bool) -> None:
    """Run the whole flow offline on a sample app (local forge on real git repos, SQLite).

    Discovery proposes the Environment Profile as a PR; a human merges it; generation opens PRs with
    CI, Dockerfile, Helm chart and Argo CD Application, each gated by policy and citing its rules.
    """
    try:
        app_dir = resolve_app(app)
        if dry_run:
            click.echo(f"Dry run: nothing is written and {workdir} is not touched; the sample repositories live in "
                       "a scratch directory removed at exit.")
            with tempfile.TemporaryDirectory(prefix="trustacks-demo-dry-run-") as scratch:
                code = asyncio.run(run_demo(Path(scratch), app_dir, quiet=quiet, edit=edit, dry_run=True))
        else:
            prepare_workdir(workdir)
            code = asyncio.run(run_demo(workdir.resolve(), app_dir, quiet=quiet, edit=edit))
    except DemoError as exc:
        click.secho(f"demo failed: {exc}", fg="red", err=True)
        sys.exit(1)
    except Exception as exc:  # a demo failure must say what broke, never a bare traceback
        click.secho(f"demo failed: {type(exc).__name__}: {exc}", fg="red", err=True)
        click.echo("Re-run with PYTHONDEVMODE=1 for a traceback, or report it with this output.", err=True)
        if "PYTHONDEVMODE" in __import__("os").environ:
            raise
        sys.exit(1)
    sys.exit(code)
