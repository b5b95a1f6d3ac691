"""`trustacks rule`, `trustacks policy` and `trustacks gaps`: the policy engine from the command line.

    trustacks rule list [--layer constitution|packs|overlay] [--pack NAME]
    trustacks rule show ID
    trustacks policy test [--coverage]          every test_* rule; non-zero exit on a failure
    trustacks policy eval --input FILE          a raw input document -> the Decision as JSON
    trustacks gaps [--profile FILE] [--format md|json|html] [--out FILE]

Every command loads the shipped rules (or `--rules-dir`), all packs unless `--pack` names some, and
an optional `--overlay DIR`. `policy_group` is exported so other modules can add subcommands
(`policy lint`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from bot.models import as_dict

LAYER_CHOICES = ("constitution", "packs", "overlay")
ERROR_HINT = "(fix the file named above, or run with --rules-dir pointing at a good checkout)"


def _engine(rules_dir: Path | None, packs: Sequence[str], overlay: Path | None) -> Any:
    from bot.policy.engine import PolicyEngine, PolicyError, available_packs

    try:
        chosen = list(packs) or available_packs(rules_dir)
        return PolicyEngine.load(rules_dir=rules_dir, packs=chosen, overlay_dir=overlay, isolate=False)
    except PolicyError as exc:
        raise click.ClickException(f"policy could not be loaded: {exc} {ERROR_HINT}") from None


def _common(f: Any) -> Any:
    f = click.option("--overlay", "overlay", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Directory of the customer's overlay rules (package trustacks.overlay.*).")(f)
    f = click.option("--pack", "packs", multiple=True, metavar="NAME",
                     help="Load only this pack (repeatable); default: every shipped pack.")(f)
    f = click.option("--rules-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Rules directory (default: the shipped rules/).")(f)
    return f


# ====================================================================== rule


@click.group("rule")
def rule_group() -> None:
    """List and explain policy rules."""


@rule_group.command("list")
@click.option("--layer", type=click.Choice(LAYER_CHOICES), help="Only rules of this layer.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@_common
def rule_list(layer: str | None, fmt: str, rules_dir: Path | None, packs: tuple[str, ...], overlay: Path | None) -> None:
    """Every loaded rule: ID, layer, severity and title."""
    engine = _engine(rules_dir, packs, overlay)
    metas = [m for m in engine.rules(layer=layer) if not packs or m.pack in packs]
    if fmt == "json":
        click.echo(json.dumps([m.to_dict() for m in metas], indent=2))
        return
    if not metas:
        click.echo("no rules match")
        return
    width = max(len(m.id) for m in metas)
    for m in metas:
        click.echo(f"{m.id:<{width}}  {m.layer_label:<14} {m.severity:<8}  {m.title}")


@rule_group.command("show")
@click.argument("rule_id")
@_common
def rule_show(rule_id: str, rules_dir: Path | None, packs: tuple[str, ...], overlay: Path | None) -> None:
    """One rule's full text: description, remediation, controls, where it lives."""
    from bot.policy.engine import UnknownRule

    engine = _engine(rules_dir, packs, overlay)
    try:
        m = engine.rule(rule_id)
    except UnknownRule as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{m.id}: {m.title}")
    click.echo(f"layer: {m.layer_label}   severity: {m.severity}   effects: {m.effects or 'deny'}")
    if m.controls:
        click.echo(f"controls: {', '.join(m.controls)}")
    for r in m.requires:
        tools = f" ({', '.join(r.tools)})" if r.tools else ""
        click.echo(f"requires: {r.category}{tools}{': ' + r.purpose if r.purpose else ''}")
    if m.path:
        click.echo(f"source: {m.path}:{m.line} (package {m.package})")
    click.echo("")
    click.echo(m.description)
    click.echo("")
    click.echo(f"Remediation: {m.remediation}")


# ====================================================================== policy


@click.group("policy")
def policy_group() -> None:
    """Test and evaluate the policy layers."""


@policy_group.command("test")
@click.option("--coverage", is_flag=True, help="Report line coverage of the rules from the engine.")
@click.option("-q", "--quiet", is_flag=True, help="Print failures and the summary only.")
@_common
def policy_test(coverage: bool, quiet: bool, rules_dir: Path | None, packs: tuple[str, ...], overlay: Path | None) -> None:
    """Run every test_* rule (one engine clone per test file); exit 1 on any failure."""
    engine = _engine(rules_dir, packs, overlay)
    report = engine.run_tests(coverage=coverage)
    for r in report.results:
        if r.passed and quiet:
            continue
        mark = click.style("PASS", fg="green") if r.passed else click.style("FAIL", fg="red", bold=True)
        click.echo(f"{mark} {r.name}" + (f"\n     {r.file}: {r.error}" if r.error else ""))
    if report.coverage is not None:
        click.echo("")
        for path, (covered, missed) in report.coverage.items():
            total = len(covered) + len(missed)
            pct = 100.0 * len(covered) / total if total else 100.0
            lines = f"  not covered: {_ranges(missed)}" if missed else ""
            click.echo(f"{pct:6.1f}%  {path}{lines}")
        click.echo(f"coverage: {report.coverage_percent():.1f}%")
    summary = f"{report.passed} passed, {report.failed} failed, {len(engine.rules())} rules"
    click.echo(("\n" if not quiet else "") + summary)
    if not report.ok:
        sys.exit(1)


@policy_group.command("eval")
@click.option("--input", "input_file", required=True, type=click.File("r"), help="Input document (JSON); - for stdin.")
@_common
def policy_eval(input_file: Any, rules_dir: Path | None, packs: tuple[str, ...], overlay: Path | None) -> None:
    """Evaluate a raw input document and print the Decision; exit 1 when it denies."""
    try:
        doc = json.load(input_file)
    except ValueError as exc:
        raise click.ClickException(f"{input_file.name}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise click.ClickException(f"{input_file.name}: the input must be a JSON object")
    engine = _engine(rules_dir, packs, overlay)
    decision = engine.evaluate_input(doc)
    out = as_dict(decision) | {"verdict": decision.verdict}
    click.echo(json.dumps(out, indent=2))
    if not decision.allowed:
        sys.exit(1)


# ====================================================================== gaps


@click.command("gaps")
@click.option("--profile", "profile_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Profile file (default: .trustacks/profile.yaml here).")
@click.option("--format", "fmt", type=click.Choice(("md", "json", "html")), default="md", show_default=True,
              help="html: a self-contained page with charts (bot/reports); md and json add the tools that close each gap.")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write the report to FILE instead of standard output.")
@_common
def gaps_command(profile_path: Path | None, fmt: str, out: Path | None, rules_dir: Path | None, packs: tuple[str, ...],
                 overlay: Path | None) -> None:
    """The Gap Analysis Report: rules the Profile's tooling cannot satisfy, by category and pack."""
    from bot.policy.engine import PolicyError
    from bot.policy.gaps import gap_report
    from bot.profile import PROFILE_PATH, Profile, ProfileError

    path = profile_path or Path(PROFILE_PATH)
    if not path.is_file():
        raise click.ClickException(f"{path}: no Profile here; pass --profile FILE (run `trustacks discover` to make one)")
    try:
        profile = Profile.loads(path.read_bytes(), path=str(path))
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    engine = _engine(rules_dir, packs, overlay)
    try:
        report = gap_report(profile, engine)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    from bot.reports import render

    text = render(report, engine=engine, profile=profile, fmt=fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} ({len(report.gaps)} gaps)", err=True)


def _ranges(lines: Sequence[int]) -> str:
    out, start, prev = [], None, None
    for n in sorted(lines):
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(out)


def _add_lint() -> None:
    """`policy lint OVERLAY_DIR` (the ratchet linter) lives with the trust artifacts; it joins this group."""
    from bot.policy.trust_cli import lint_command

    policy_group.add_command(lint_command, "lint")


_add_lint()
