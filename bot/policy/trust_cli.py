"""Command line for the trust artifacts: bundles, keys, the pinned constitution, audit and waivers.

Registered in `bot/cli.py`: `trustacks bundle build|sign|verify`, `keys generate`,
`constitution pin|upgrade`, `audit verify|show`, `waiver sign|check`. `lint_command` is the
`policy lint OVERLAY_DIR` subcommand, attached to the policy group by the engine's CLI.

Every command exits 0 on success, 1 when the artifact is refused (unsigned bundle, tampered audit
log, rejected overlay, ignored waiver) and 2 on usage errors, and each refusal says how to fix it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import click

from bot.policy import bundle as bundles
from bot.policy import keys

DEFAULT_PIN = Path(".trustacks/constitution.pin.json")


def _fail(message: str, *, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        _fail(f"cannot read {what} {path}: {exc.strerror}", code=2)
        raise  # unreachable


# ====================================================================== bundle


@click.group("bundle")
def bundle_command() -> None:
    """Build, sign and verify OPA-format policy bundles."""


@bundle_command.command("build")
@click.argument("src_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--revision", required=True, help="Bundle revision (X.Y.Z for the constitution).")
@click.option("--root", "roots", multiple=True, help="Root owned by the bundle, e.g. trustacks/constitution.")
@click.option("--layer", "layers", multiple=True, metavar="ROOT=DIR", help="Mount DIR under ROOT (repeatable).")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
def bundle_build(src_dir: Path | None, revision: str, roots: Sequence[str], layers: Sequence[str], out: Path) -> None:
    """Pack SRC_DIR (one layer, mounted under its --root) or several --layer ROOT=DIR as a bundle."""
    try:
        if layers:
            if src_dir or roots:
                _fail("use either SRC_DIR with --root, or --layer ROOT=DIR", code=2)
            mapping: dict[str, Path] = {}
            for spec in layers:
                root, sep, directory = spec.partition("=")
                if not sep:
                    _fail(f"--layer {spec!r}: expected ROOT=DIR", code=2)
                mapping[root] = Path(directory)
            path = bundles.build_layer_bundle(mapping, revision=revision, out=out)
        else:
            if src_dir is None or not roots:
                _fail("give SRC_DIR and at least one --root (or --layer ROOT=DIR)", code=2)
            path = bundles.build_bundle(src_dir, revision=revision, roots=list(roots), out=out)
    except bundles.BundleError as exc:
        _fail(str(exc))
    click.echo(f"built {path} (revision {revision}, unsigned: run `trustacks bundle sign {path} --key KEY.pem`)")


@bundle_command.command("sign")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--key", "key_path", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Private key PEM (ES256).")
@click.option("--kid", default="trustacks", show_default=True, help="Key id written into the JWT header.")
def bundle_sign(path: Path, key_path: Path, kid: str) -> None:
    """Write .signatures.json into the bundle: one ES256 JWT listing every file's SHA-256."""
    try:
        bundles.sign_bundle(path, private_key_pem=_read(key_path, "private key"), key_id=kid)
    except (bundles.BundleError, keys.KeyFormatError) as exc:
        _fail(str(exc))
    click.echo(f"signed {path} (kid {kid})")


@bundle_command.command("verify")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--public-key", "pub_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--revision", default=None, help="Refuse unless the bundle has exactly this revision.")
@click.option("--json", "as_json", is_flag=True)
def bundle_verify(path: Path, pub_path: Path, revision: str | None, as_json: bool) -> None:
    """Verify a bundle against a public key; exits 1 (and nothing is used) if any check fails."""
    try:
        vb = bundles.verify_bundle(path, public_key_pem=_read(pub_path, "public key"), expected_revision=revision)
    except (bundles.BundleError, keys.KeyFormatError) as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": str(exc)}))
            raise SystemExit(1)
        _fail(f"bundle refused: {exc}")
        return
    summary = {"ok": True, "revision": vb.revision, "roots": vb.roots, "kid": vb.key_id, "files": sorted(vb.files)}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"verified {path}: revision {vb.revision}, roots {', '.join(vb.roots)}, {len(vb.files)} signed files (kid {vb.key_id})")


@bundle_command.command("release")
@click.option("--rules", "rules_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Rules directory with constitution/, lib/ and packs/ (default: the rules shipped with TruStacks).")
@click.option("--revision", required=True, help="Revision of the constitution and pack bundles (X.Y.Z).")
@click.option("--pack", "packs", multiple=True, help="Pack to release (repeatable; default: every pack in --rules).")
@click.option("--overlay", "overlay_dir", default=None, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Customer overlay to release; it must pass `trustacks policy lint` first.")
@click.option("--overlay-revision", default=None, help="Revision of the overlay bundle (default: --revision).")
@click.option("--key", "key_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Private key PEM (ES256); run this where the key lives, never in the bot.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Directory for the signed bundles (TRUSTACKS_POLICY_BUNDLE_DIR).")
def bundle_release(rules_dir: Path | None, revision: str, packs: Sequence[str], overlay_dir: Path | None,
                   overlay_revision: str | None, key_path: Path, out_dir: Path) -> None:
    """Build and sign the whole bundle set `trustacks serve` loads (constitution, packs, overlay)."""
    from bot.policy import trusted
    from bot.policy.engine import default_rules_dir

    try:
        written = trusted.release_bundles(rules_dir or default_rules_dir(), out_dir,
                                          private_key_pem=_read(key_path, "private key"), revision=revision,
                                          packs=packs or None, overlay_dir=overlay_dir, overlay_revision=overlay_revision)
    except trusted.TrustError as exc:
        _fail(str(exc))
        return
    for name, path in written.items():
        click.echo(f"signed {path}")
    stale = sorted(p.name for p in out_dir.glob("*.tar.gz") if p.name not in written)
    if trusted.OVERLAY_FILE in stale:
        click.echo(f"warning: {out_dir / trusted.OVERLAY_FILE} was not written by this release and will still be loaded; "
                   "remove it if the overlay is gone", err=True)
    pin_path = out_dir / trusted.PIN_FILE
    upgrade = (f"trustacks constitution upgrade --to {revision} --bundle {written[trusted.CONSTITUTION_FILE]} "
               f"--public-key <the public key of {key_path}> --pin {pin_path}")
    current = _load_pin(pin_path)
    if current is None:
        click.echo(f"next: pin the constitution: {upgrade}")
    elif current.bundle_sha256 and current.bundle_sha256 != bundles.sha256_file(written[trusted.CONSTITUTION_FILE]):
        click.echo(f"warning: {pin_path} pins constitution {current.revision}, not this release; trustacks serve will "
                   f"refuse it until you re-pin: {upgrade}", err=True)


# ====================================================================== keys


@click.group("keys")
def keys_command() -> None:
    """Signing keys (ECDSA P-256, ES256)."""


@keys_command.command("generate")
@click.option("--out-dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", default="trustacks", show_default=True, help="Writes NAME.key (0600) and NAME.pub.")
def keys_generate(out_dir: Path, name: str) -> None:
    """Generate a key pair; never overwrites an existing key."""
    out_dir.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = keys.generate_keypair()
    key_path, pub_path = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    for path in (key_path, pub_path):
        if path.exists():
            _fail(f"{path} exists; refusing to overwrite a key (choose another --name)")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    pub_path.write_bytes(public_pem)
    click.echo(f"private key: {key_path} (keep it secret; mode 0600)")
    click.echo(f"public key:  {pub_path}")
    click.echo(f"fingerprint: sha256:{keys.fingerprint(public_pem)} (compare it out of band before pinning)")


# ====================================================================== constitution


@dataclass
class UpgradePlan:
    """What an explicit constitution upgrade changes, and what the overlay must change first."""

    current: str | None
    target: str
    kind: str
    added_rules: list[str] = field(default_factory=list)
    removed_rules: list[str] = field(default_factory=list)
    parameter_changes: list[str] = field(default_factory=list)
    overlay_mentions: list[str] = field(default_factory=list)
    overlay_report: Any = None  # LintReport | None

    @property
    def overlay_ok(self) -> bool:
        return self.overlay_report is None or (self.overlay_report.ok and not self.overlay_mentions)

    def format(self) -> str:
        lines = [f"constitution {self.current or '(none pinned)'} -> {self.target}: {self.kind} upgrade"]
        lines += [f"  + rule {r}" for r in self.added_rules]
        lines += [f"  - rule {r} (removed)" for r in self.removed_rules]
        lines += [f"  ~ {c}" for c in self.parameter_changes]
        if self.overlay_report is not None:
            if self.overlay_ok:
                lines.append("overlay: no change needed (it lints clean against the new constitution)")
            else:
                lines.append("overlay: must change before this upgrade:")
                lines += [f"  {m}" for m in self.overlay_mentions]
                lines += [f"  {v}" for v in self.overlay_report.violations]
        return "\n".join(lines)


def plan_constitution_upgrade(
    *,
    current: str | None,
    target: str,
    new_rules: Path,
    old_rules: Path | None = None,
    overlay_dir: Path | None = None,
) -> UpgradePlan:
    """Compare the old and new constitution and lint the overlay against the new one."""
    from bot.policy.lint import lint_overlay, load_upper

    kind = bundles.upgrade_kind(current, target) if current else "initial"
    plan = UpgradePlan(current=current, target=target, kind=kind)
    new = load_upper(new_rules)
    old = load_upper(old_rules) if old_rules is not None and (Path(old_rules) / "constitution").is_dir() else None
    if old is not None:
        plan.added_rules = sorted(new.constitution_ids - old.constitution_ids)
        plan.removed_rules = sorted(old.constitution_ids - new.constitution_ids)
        old_params = next((lp.values for lp in old.layer_params if lp.layer == "constitution"), {})
        new_params = next((lp.values for lp in new.layer_params if lp.layer == "constitution"), {})
        for name in sorted(set(old_params) | set(new_params)):
            if old_params.get(name) != new_params.get(name):
                plan.parameter_changes.append(f"parameter {name}: {old_params.get(name)!r} -> {new_params.get(name)!r}")
    if overlay_dir is not None:
        plan.overlay_report = lint_overlay(Path(overlay_dir), upper=new)
        for path in sorted(Path(overlay_dir).rglob("*")):
            if not path.is_file() or path.is_symlink() or path.stat().st_size > 1024 * 1024:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for rule in plan.removed_rules:
                if rule in text:
                    plan.overlay_mentions.append(f"{path.relative_to(overlay_dir)}: names {rule}, which the new constitution removes")
    return plan


@click.group("constitution")
def constitution_command() -> None:
    """The pinned constitution: its revision changes only by an explicit upgrade."""


def _load_pin(pin_path: Path) -> bundles.ConstitutionPin | None:
    if not pin_path.exists():
        return None
    try:
        return bundles.ConstitutionPin.loads(pin_path.read_text(encoding="utf-8"))
    except bundles.BundleError as exc:
        _fail(f"{pin_path}: {exc}")
        raise


def _verified_constitution(bundle_path: Path, pub: bytes, target: str) -> bundles.VerifiedBundle:
    try:
        bundles.parse_semver(target)
        return bundles.verify_pinned_constitution(
            bundle_path, public_key_pem=pub, pin=bundles.ConstitutionPin(revision=target)
        )
    except (bundles.BundleError, keys.KeyFormatError) as exc:
        _fail(f"constitution bundle refused: {exc}")
        raise


@constitution_command.command("upgrade")
@click.option("--to", "target", required=True, help="The revision to pin (X.Y.Z); the bundle must carry exactly it.")
@click.option("--bundle", "bundle_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--public-key", "pub_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--pin", "pin_path", default=DEFAULT_PIN, show_default=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--rules", "rules_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Current rules directory: its constitution is the baseline of the diff, its packs are kept.")
@click.option("--overlay", "overlay_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Overlay to lint against the new constitution before pinning.")
@click.option("--yes", is_flag=True, help="Accept a major upgrade, or re-pin a re-released revision, after reading the report.")
def constitution_upgrade(target: str, bundle_path: Path, pub_path: Path, pin_path: Path, rules_dir: Path | None,
                         overlay_dir: Path | None, yes: bool) -> None:
    """Pin a new constitution revision. Downgrades are refused; a major upgrade reports first."""
    pub = _read(pub_path, "public key")
    vb = _verified_constitution(bundle_path, pub, target)
    pin = _load_pin(pin_path)
    current = pin.revision if pin else None
    kind = bundles.upgrade_kind(current, target) if current else "initial"
    if kind == "downgrade":
        _fail(f"refusing to downgrade the constitution from {current} to {target}")
    new_pin = bundles.ConstitutionPin.of(bundle_path, public_key_pem=pub, revision=target)
    if kind == "same":
        if new_pin == pin:
            click.echo(f"constitution {target} is already pinned")
            return
        # the same revision re-released (signing is not byte-for-byte repeatable) or signed by a new key
        assert pin is not None  # "same" compares against the pinned revision
        changed = [what for what, old, new in (("bundle digest", pin.bundle_sha256, new_pin.bundle_sha256),
                                                ("signing key", pin.key_fingerprint, new_pin.key_fingerprint))
                   if old != new]
        click.echo(f"constitution {target} is pinned, but its {' and '.join(changed)} changed:")
        if pin.key_fingerprint != new_pin.key_fingerprint:
            click.echo(f"  key sha256:{pin.key_fingerprint or '(none)'} -> sha256:{new_pin.key_fingerprint} "
                       "(compare the new fingerprint out of band)")
        if not yes:
            click.echo(f"re-run with --yes to re-pin {target} to {bundle_path}")
            raise SystemExit(3)
        _write_pin(pin_path, new_pin)
        click.echo(f"re-pinned constitution {target} in {pin_path}")
        return
    with tempfile.TemporaryDirectory(prefix="trustacks-upgrade-") as tmp:
        new_rules = bundles.extract_layers(vb, Path(tmp) / "rules")
        if rules_dir is not None:
            for part in ("lib", "packs"):
                if (rules_dir / part).is_dir() and not (new_rules / part).exists():
                    shutil.copytree(rules_dir / part, new_rules / part, symlinks=False)
        plan = plan_constitution_upgrade(current=current, target=target, new_rules=new_rules, old_rules=rules_dir,
                                         overlay_dir=overlay_dir)
    click.echo(plan.format())
    if not plan.overlay_ok:
        _fail("the overlay must change before this upgrade (see above); nothing was pinned")
    if kind == "major" and not yes:
        click.echo(f"major upgrade: read the report above, then re-run with --yes to pin {target}")
        raise SystemExit(3)
    if pin is not None and pin.key_fingerprint and pin.key_fingerprint != new_pin.key_fingerprint:
        click.echo(f"signing key changed: sha256:{pin.key_fingerprint} -> sha256:{new_pin.key_fingerprint} "
                   "(compare the new fingerprint out of band)")
    _write_pin(pin_path, new_pin)
    click.echo(f"pinned constitution {target} in {pin_path}")


def _write_pin(pin_path: Path, pin: bundles.ConstitutionPin) -> None:
    pin_path.parent.mkdir(parents=True, exist_ok=True)
    pin_path.write_text(pin.dumps(), encoding="utf-8")


@constitution_command.command("verify")
@click.option("--bundle", "bundle_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--public-key", "pub_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--pin", "pin_path", default=DEFAULT_PIN, show_default=True, type=click.Path(path_type=Path, dir_okay=False))
def constitution_verify(bundle_path: Path, pub_path: Path, pin_path: Path) -> None:
    """Verify the constitution bundle against the pin (revision, file digest, key fingerprint)."""
    pin = _load_pin(pin_path)
    if pin is None:
        _fail(f"no pin at {pin_path}; pin one with `trustacks constitution upgrade --to X ...`")
        return
    try:
        vb = bundles.verify_pinned_constitution(bundle_path, public_key_pem=_read(pub_path, "public key"), pin=pin)
    except (bundles.BundleError, keys.KeyFormatError) as exc:
        _fail(f"constitution bundle refused: {exc}")
        return
    click.echo(f"constitution {vb.revision} verified against {pin_path}")


# ====================================================================== audit


def _audit_db(db: str) -> Path:
    if db.startswith("sqlite:"):
        from bot.config import ConfigError, sqlite_path

        try:
            return sqlite_path(db)
        except ConfigError as exc:
            _fail(str(exc), code=2)
    if "://" in db:
        _fail("only SQLite audit logs can be read here (a path or sqlite:///path)", code=2)
    return Path(db)


@click.group("audit")
def audit_command() -> None:
    """The hash-chained audit log of policy decisions."""


@audit_command.command("verify")
@click.option("--db", required=True, help="SQLite file (or sqlite:///path) holding the audit table.")
@click.option("--table", default="audit_log", show_default=True)
@click.option("--anchor", default=None, metavar="SEQ:HASH", help="A head published earlier: also catches a cut-off tail.")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(db: str, table: str, anchor: str | None, as_json: bool) -> None:
    """Recompute the chain; exits 1 if any entry was edited, removed or reordered."""
    from bot.audit import AuditError, AuditLog

    path = _audit_db(db)
    if not path.is_file():
        _fail(f"{path}: no such audit database", code=2)
    parsed: tuple[int, str] | None = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            _fail("--anchor must be SEQ:HASH (the output of a previous verify)", code=2)
        parsed = (int(seq), digest)
    try:
        with AuditLog(path, table=table) as log:
            result = log.verify(anchor=parsed)
    except AuditError as exc:
        _fail(str(exc), code=2)
        return
    if as_json:
        click.echo(json.dumps({"ok": result.ok, "count": result.count, "head": f"{result.head_seq}:{result.head_hash}",
                               "problems": [p.__dict__ for p in result.problems]}, indent=2))
    else:
        click.echo(result.summary())
    raise SystemExit(0 if result.ok else 1)


@audit_command.command("show")
@click.option("--db", required=True, help="SQLite file (or sqlite:///path) holding the audit table.")
@click.option("--table", default="audit_log", show_default=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
def audit_show(db: str, table: str, limit: int, as_json: bool) -> None:
    """The newest entries, oldest first."""
    from bot.audit import AuditLog, format_entry

    path = _audit_db(db)
    if not path.is_file():
        _fail(f"{path}: no such audit database", code=2)
    with AuditLog(path, table=table) as log:
        entries = log.tail(limit)
    for entry in entries:
        if as_json:
            click.echo(json.dumps({"seq": entry.seq, "ts": entry.ts, "hash": entry.hash, "prev_hash": entry.prev_hash,
                                   "record": entry.record}, sort_keys=True))
        else:
            click.echo(format_entry(entry))


# ====================================================================== waivers


@click.group("waiver")
def waiver_command() -> None:
    """Signed, expiring waivers for pack and overlay rules (never constitution rules)."""


@waiver_command.command("sign")
@click.option("--rule", required=True)
@click.option("--repo", required=True, help="Repository glob, e.g. acme/payments or acme/*.")
@click.option("--path", "path_glob", default="**", show_default=True, help="Path glob inside the repository.")
@click.option("--reason", required=True)
@click.option("--approver", required=True, help="Who approves; the key must be this approver's.")
@click.option("--expires", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last valid day (YYYY-MM-DD).")
@click.option("--key", "key_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--file", "file_path", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="Append to this waiver file (created if missing); otherwise print the entry.")
def waiver_sign(rule: str, repo: str, path_glob: str, reason: str, approver: str, expires: dt.datetime,
                key_path: Path, file_path: Path | None) -> None:
    """Sign one waiver with the approver's key."""
    from bot.policy.waivers import Waiver, WaiverError, add_to_file, dump_waivers, sign_waiver

    waiver = Waiver(rule=rule, repo=repo, path=path_glob, reason=reason, approver=approver, expires=expires.date())
    try:
        signed = sign_waiver(waiver, private_key_pem=_read(key_path, "private key"))
    except (WaiverError, keys.KeyFormatError) as exc:
        _fail(str(exc))
        return
    if file_path is None:
        click.echo(dump_waivers([signed]), nl=False)
        return
    existing = file_path.read_text(encoding="utf-8") if file_path.exists() else ""
    try:
        file_path.write_text(add_to_file(existing, signed), encoding="utf-8")
    except WaiverError as exc:
        _fail(f"{file_path}: {exc}")
    click.echo(f"signed waiver for {rule} added to {file_path}")


@waiver_command.command("check")
@click.argument("file_path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--key", "key_specs", multiple=True, metavar="APPROVER=PUB.pem", help="A trusted approver key (repeatable).")
@click.option("--keys-dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Directory of APPROVER.pub files.")
@click.option("--today", default=None, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--rules", "rules_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Rules directory whose constitution rule IDs may never be waived.")
def waiver_check(file_path: Path, key_specs: Sequence[str], keys_dir: Path | None, today: dt.datetime | None,
                 rules_dir: Path | None) -> None:
    """List which waivers apply and which are ignored (and why); exits 1 if any is ignored."""
    from bot.policy.waivers import WaiverError, approver_keys, load_waivers

    trusted: dict[str, bytes] = {}
    if keys_dir is not None:
        try:
            trusted.update(approver_keys(keys_dir))
        except keys.KeyFormatError as exc:
            _fail(f"{keys_dir}: {exc}")
    for spec in key_specs:
        approver, sep, path = spec.partition("=")
        if not sep:
            _fail(f"--key {spec!r}: expected APPROVER=PUB.pem", code=2)
        trusted[approver] = _read(Path(path), "public key")
    constitution_ids: set[str] = set()
    if rules_dir is not None:
        from bot.policy.lint import load_upper

        constitution_ids = load_upper(rules_dir).constitution_ids
    try:
        result = load_waivers(file_path, trusted_keys=trusted, today=today.date() if today else None,
                              constitution_rules=constitution_ids)
    except WaiverError as exc:
        _fail(f"{file_path}: {exc}")
        return
    for line in result.report():
        click.echo(line)
    if not result.active and not result.rejected:
        click.echo("no waivers")
    raise SystemExit(1 if result.rejected else 0)


# ====================================================================== policy lint


@click.command("lint")
@click.argument("overlay_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--rules", "rules_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Upper layers (default: the shipped rules).")
@click.option("--pack", "packs", multiple=True, help="Packs enabled above the overlay (default: all).")
@click.option("--no-tests", is_flag=True, help="Skip re-running the upper layers' tests.")
@click.option("--json", "as_json", is_flag=True)
def lint_command(overlay_dir: Path, rules_dir: Path | None, packs: Sequence[str], no_tests: bool, as_json: bool) -> None:
    """Prove OVERLAY_DIR only adds strictness (the ratchet); exits 1 with each violation otherwise."""
    from bot.policy.lint import LintError, lint_overlay

    try:
        report = lint_overlay(overlay_dir, rules_dir=rules_dir, packs=list(packs) or None, run_tests=not no_tests)
    except LintError as exc:
        _fail(str(exc), code=2)
        return
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format())
    raise SystemExit(0 if report.ok else 1)
