"""`trustacks generate`: run the generators offline on a Profile file, print or write what they produce.

`--out DIR --dry-run` prints where each file would be written under DIR and writes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.generate import ARTIFACT_KINDS, generate
from bot.generate.base import GeneratedFile, GenerationResult, join_path
from bot.models import Service
from bot.profile import PROFILE_PATH, Profile, ProfileError
from bot.tree import PathEscapeError, normalize


def _app_path(service: Service, gen: GeneratedFile) -> str:
    """Where an app file lands in its repository (the spine's placement rule)."""
    if gen.root_relative or service.path in ("", "."):
        return gen.path
    return join_path(service.path, gen.path)


def _targets(service: Service, result: GenerationResult) -> list[Path]:
    """Where each generated file goes under --out: app/<repo>/<path> or platform/<path>."""
    return [Path("app") / service.repo / normalize(_app_path(service, gen)) if gen.target == "app"
            else Path("platform") / normalize(gen.path) for gen in result.files]


def _write(out: Path, service: Service, result: GenerationResult) -> list[Path]:
    written = _targets(service, result)
    for gen, rel in zip(result.files, written):
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(gen.content, encoding="utf-8")
    return written


@click.command("generate")
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False, exists=True), default=PROFILE_PATH,
              show_default=True, help="Environment Profile to generate from.")
@click.option("--service", "service_names", multiple=True, help="Only this service (repeatable); default all.")
@click.option("--only", "only", multiple=True, type=click.Choice(ARTIFACT_KINDS),
              help="Only these artifact kinds (repeatable); default all.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write files under DIR/app/<repo>/ and DIR/platform/; without it, list them.")
@click.option("--dry-run", is_flag=True, help="With --out: print where each file would be written; write nothing.")
def generate_command(profile_path: str, service_names: tuple[str, ...], only: tuple[str, ...],
                     out_dir: str | None, dry_run: bool) -> None:
    """Generate CI, Dockerfile, Helm/Kustomize and Argo CD/Flux files from a Profile, offline."""
    try:
        profile = Profile.loads(Path(profile_path).read_bytes(), path=profile_path)
    except ProfileError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("Fix the Profile and run `trustacks generate` again.", err=True)
        sys.exit(2)
    services = profile.services()
    if service_names:
        unknown = sorted(set(service_names) - {s.name for s in services})
        if unknown:
            known = ", ".join(s.name for s in services) or "none"
            click.echo(f"error: no service named {', '.join(unknown)} in {profile_path} (services: {known})", err=True)
            sys.exit(2)
        services = [s for s in services if s.name in service_names]
    if not services:
        click.echo(f"error: {profile_path} lists no services: add services: entries (or run `trustacks discover`)",
                   err=True)
        sys.exit(2)
    total_files = total_gaps = 0
    for service in services:
        result = generate(profile, service, only=set(only) if only else None)
        total_files += len(result.files)
        total_gaps += len(result.gaps)
        click.echo(f"{service.name} ({service.repo}): {len(result.files)} file(s), {len(result.gaps)} gap(s)")
        try:
            if out_dir and dry_run:
                paths = _targets(service, result)
            else:
                paths = _write(Path(out_dir), service, result) if out_dir else None
        except (OSError, PathEscapeError) as exc:
            click.echo(f"error: cannot write under {out_dir}: {exc}", err=True)
            sys.exit(1)
        for i, gen in enumerate(result.files):
            where = (f"would write {paths[i]}" if dry_run else str(paths[i])) if paths else (
                f"{service.repo}:{_app_path(service, gen)}" if gen.target == "app" else f"{profile.platform_repo}:{gen.path}")
            tools = ", ".join(sorted({c.tool for c in gen.tool_choices}))
            click.echo(f"  {gen.artifact:<9} {where}" + (f"  [{tools}]" if tools else ""))
        for gap in result.gaps:
            click.echo(f"  gap ({gap.artifact}, {gap.category}): {gap.message}")
    target = f" under {out_dir}" if out_dir else ""
    verb = "would be written; dry run, nothing written" if out_dir and dry_run else ""
    click.echo(f"{total_files} file(s){target} for {len(services)} service(s); {total_gaps} gap(s)."
               + (f" ({verb})" if verb else ""))
