"""`trustacks discover PATH`: run discovery on a local directory and show findings and the Profile diff.

Read-only: it reads the directory (never following symlinks out of it, never executing anything) and an
optional current Profile, and prints; it writes nothing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from bot.discovery.diff import profile_diff
from bot.discovery.engine import discover
from bot.models import as_dict
from bot.profile import Profile, ProfileError
from bot.tree import DEFAULT_MAX_FILE_BYTES, DirTree

PROGRESS_MIN_FILES = 500


class _Progress:
    """Progress on stderr for large trees, at most a few updates per second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_MIN_FILES:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.2:
            return
        self.last = now
        end = "\n" if done >= total else ""
        click.echo(f"\rdiscover: {done}/{total} candidate files", err=True, nl=False)
        if end:
            click.echo("", err=True)


@click.command("discover")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.option("--profile", "profile_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Current Profile to diff against (default: PATH/.trustacks/profile.yaml if present).")
@click.option("--repo", default=None, help="Repository name for evidence, owner/name (default: local/<dir name>).")
@click.option("--platform-repo", default="local/platform", show_default=True,
              help="Platform repo for a new Profile when none exists.")
@click.option("--max-seconds", default=30.0, show_default=True, type=float, help="Time budget for the scan.")
@click.option("--max-file-bytes", default=DEFAULT_MAX_FILE_BYTES, show_default=True, type=int,
              help="Files larger than this are skipped.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def discover_command(
    path: Path,
    as_json: bool,
    profile_file: Path | None,
    repo: str | None,
    platform_repo: str,
    max_seconds: float,
    max_file_bytes: int,
    quiet: bool,
) -> None:
    """Detect the stack of the repository at PATH and propose Environment Profile changes."""
    repo = repo or f"local/{path.resolve().name or 'repo'}"
    profile = None
    candidate = profile_file or (path / ".trustacks" / "profile.yaml")
    if candidate.is_file():
        try:
            profile = Profile.loads(candidate.read_bytes(), path=str(candidate))
        except ProfileError as exc:
            raise click.ClickException(f"{exc}. Fix the Profile or pass --profile with a valid one.") from None
    tree = DirTree(path, max_file_bytes=max_file_bytes)
    result = discover(tree, repo=repo, max_seconds=max_seconds, progress=_Progress(not quiet and not as_json))
    diff = profile_diff(profile, [result], platform_repo=platform_repo)
    if as_json:
        doc = {
            "repo": result.repo,
            "complete": result.complete,
            "files_listed": result.files_listed,
            "files_read": result.files_read,
            "elapsed_seconds": round(result.elapsed, 3),
            "findings": as_dict(result.findings),
            "services": as_dict(result.services),
            "skipped": [{"path": p, "reason": r} for p, r in result.skipped],
            "diff": {
                "additions": as_dict(diff.additions),
                "changes": as_dict(diff.changes),
                "stale": as_dict(diff.stale),
                "services": as_dict(diff.services),
                "is_empty": diff.is_empty,
            },
            "profile": None if diff.is_empty else diff.apply(profile).dumps(),
        }
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    out = sys.stdout
    click.echo(f"Discovery of {result.repo} ({result.files_listed} files listed, {result.files_read} read, "
               f"{result.elapsed:.2f}s){'' if result.complete else ' PARTIAL: time limit reached'}", file=out)
    click.echo("", file=out)
    click.echo("Findings:", file=out)
    if not result.findings:
        click.echo("  (none)", file=out)
    for f in result.findings:
        click.echo(f"  {f.category:<20} {f.tool:<24} {f.confidence:.2f}  {f.evidence[0]}  {f.evidence[0].snippet}", file=out)
        for e in f.evidence[1:]:
            click.echo(f"  {'':<20} {'':<24}       {e}  {e.snippet}", file=out)
    click.echo("", file=out)
    click.echo("Services:", file=out)
    if not result.services:
        click.echo("  (none)", file=out)
    for s in result.services:
        facts = ", ".join(
            f"{k}={getattr(s, k)}" for k in ("language", "framework", "runtime_version", "port", "dockerfile", "chart")
            if getattr(s, k) is not None
        )
        click.echo(f"  {s.name} [{s.path}] {facts}", file=out)
    if result.skipped:
        click.echo("", file=out)
        click.echo(f"Skipped ({len(result.skipped)}):", file=out)
        for p, reason in result.skipped[:20]:
            click.echo(f"  {p or '(scan)'}: {reason}", file=out)
    click.echo("", file=out)
    click.echo(diff.to_markdown(), file=out, nl=False)
