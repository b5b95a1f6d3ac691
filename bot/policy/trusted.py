"""The runtime's only way to policy: signed bundles, verified against a pinned key and constitution.

`trustacks serve` calls `load_trusted_policy` on a directory laid out by `release_bundles`
(`trustacks bundle release`):

    constitution.tar.gz      roots trustacks/constitution (+ trustacks/lib); revision = the pin's
    packs-<name>.tar.gz      one per enabled pack, root trustacks/packs/<name>
    overlay.tar.gz           optional customer overlay, root trustacks/overlay
    constitution.pin.json    default pin location (`trustacks constitution upgrade` writes it)

Every bundle must verify against the one public key; the constitution must also match the pin
(revision, and file digest and key fingerprint when pinned); roots must be disjoint; the overlay must
pass the ratchet linter (`PolicyEngine.load` runs it). Anything else raises `TrustError` and nothing
is evaluated: the service refuses to start rather than run on policy it cannot vouch for.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from bot.policy import bundle as bundles
from bot.policy import keys
from bot.policy.engine import PolicyEngine, PolicyError, available_packs

CONSTITUTION_FILE = "constitution.tar.gz"
OVERLAY_FILE = "overlay.tar.gz"
PIN_FILE = "constitution.pin.json"
OVERLAY_ROOT = "trustacks/overlay"


class TrustError(PolicyError):
    """Policy refused before anything was evaluated; the message says which file and why."""


def pack_file(pack: str) -> str:
    return f"packs-{pack}.tar.gz"


@dataclass(frozen=True)
class TrustedPolicy:
    """An engine compiled only from bytes that verified, and the bundles it came from."""

    engine: PolicyEngine
    bundles: dict[str, bundles.VerifiedBundle]  # "constitution", "packs/<name>", "overlay"
    key_fingerprint: str

    @property
    def revisions(self) -> dict[str, str]:
        return {name: vb.revision for name, vb in self.bundles.items()}


def read_pin(path: Path) -> bundles.ConstitutionPin:
    """The pinned constitution; TrustError if the pin is missing or unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrustError(f"{path}: no constitution pin; pin one with "
                         f"`trustacks constitution upgrade --to X.Y.Z --bundle ... --public-key ... --pin {path}`") from None
    except OSError as exc:
        raise TrustError(f"{path}: cannot read the constitution pin: {exc.strerror or exc}") from None
    try:
        return bundles.ConstitutionPin.loads(text)
    except bundles.BundleError as exc:
        raise TrustError(f"{path}: {exc}") from None


def verify_bundle_set(
    bundle_dir: Path,
    *,
    public_key_pem: bytes,
    pin: bundles.ConstitutionPin,
    packs: Sequence[str] = (),
) -> dict[str, bundles.VerifiedBundle]:
    """Verify the constitution (against the pin), each named pack and the overlay if present."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise TrustError(f"{bundle_dir}: policy bundle directory not found")
    try:
        keys.load_public_key(public_key_pem)
    except keys.KeyFormatError as exc:
        raise TrustError(f"policy public key: {exc}") from None
    verified: dict[str, bundles.VerifiedBundle] = {}

    def one(label: str, name: str, check: Callable[[Path], bundles.VerifiedBundle]) -> None:
        path = bundle_dir / name
        if not path.is_file():
            raise TrustError(f"{path}: bundle not found (build it with `trustacks bundle release`)")
        try:
            verified[label] = check(path)
        except bundles.BundleError as exc:
            raise TrustError(f"{path}: refused: {exc}") from None

    one("constitution", CONSTITUTION_FILE,
        lambda p: bundles.verify_pinned_constitution(p, public_key_pem=public_key_pem, pin=pin))
    def owning(root: str) -> Callable[[Path], bundles.VerifiedBundle]:
        """Verify against the key, and refuse a bundle that claims any root but its layer's own."""
        def check(path: Path) -> bundles.VerifiedBundle:
            vb = bundles.verify_bundle(path, public_key_pem=public_key_pem)
            if vb.roots != [root]:
                raise bundles.BundleError(f"must have exactly the root(s) {[root]}, not {vb.roots}")
            return vb
        return check

    for pack in dict.fromkeys(packs):
        one(f"packs/{pack}", pack_file(pack), owning(f"trustacks/packs/{pack}"))
    if (bundle_dir / OVERLAY_FILE).exists():
        one("overlay", OVERLAY_FILE, owning(OVERLAY_ROOT))
    try:
        bundles.check_roots_disjoint(verified)
    except bundles.BundleError as exc:
        raise TrustError(str(exc)) from None
    return verified


def load_trusted_policy(
    bundle_dir: Path,
    *,
    public_key_pem: bytes,
    pin: bundles.ConstitutionPin,
    packs: Sequence[str] = (),
    timeout_s: float = 2.0,
    isolate: bool = True,
) -> TrustedPolicy:
    """Verify the bundle set, then compile it; the overlay is linted before it loads."""
    verified = verify_bundle_set(bundle_dir, public_key_pem=public_key_pem, pin=pin, packs=packs)
    with tempfile.TemporaryDirectory(prefix="trustacks-policy-") as tmp:
        rules = Path(tmp) / "rules"
        for vb in verified.values():
            bundles.extract_layers(vb, rules)
        overlay = rules / "overlay" if "overlay" in verified else None
        if overlay is not None:
            overlay.mkdir(parents=True, exist_ok=True)
        try:
            engine = PolicyEngine.load(rules_dir=rules, packs=tuple(dict.fromkeys(packs)), overlay_dir=overlay,
                                       timeout_s=timeout_s, isolate=isolate)
        except PolicyError as exc:
            raise TrustError(f"verified bundles do not load: {exc}") from None
    # the revisions the audit records are the signed ones, not digests of a temporary directory
    engine.revisions.update({name: vb.revision for name, vb in verified.items()})
    trusted = TrustedPolicy(engine=engine, bundles=verified, key_fingerprint=keys.fingerprint(public_key_pem))
    layers = ", ".join(f"{name} {rev}" for name, rev in sorted(trusted.revisions.items()))
    engine.provenance = f"signed bundles verified ({layers}; key sha256:{trusted.key_fingerprint})"
    return trusted


def release_bundles(
    rules_dir: Path,
    out_dir: Path,
    *,
    private_key_pem: bytes,
    revision: str,
    packs: Iterable[str] | None = None,
    overlay_dir: Path | None = None,
    overlay_revision: str | None = None,
) -> dict[str, Path]:
    """Build and sign the bundle set `load_trusted_policy` reads; the overlay must lint clean first.

    Runs where the private key lives (a release job), never in the bot.
    """
    from bot.policy.lint import lint_overlay

    rules_dir, out_dir = Path(rules_dir), Path(out_dir)
    if not (rules_dir / "constitution").is_dir():
        raise TrustError(f"{rules_dir}: no constitution/ directory")
    chosen = list(available_packs(rules_dir) if packs is None else dict.fromkeys(packs))
    unknown = [p for p in chosen if not (rules_dir / "packs" / p).is_dir()]
    if unknown:
        raise TrustError(f"unknown pack(s) {', '.join(unknown)} (available: {', '.join(available_packs(rules_dir))})")
    plan: dict[str, Mapping[str, Path]] = {CONSTITUTION_FILE: {bundles.CONSTITUTION_ROOT: rules_dir / "constitution"}}
    if (rules_dir / "lib").is_dir():
        plan[CONSTITUTION_FILE] = {**plan[CONSTITUTION_FILE], bundles.LIB_ROOT: rules_dir / "lib"}
    for pack in chosen:
        plan[pack_file(pack)] = {f"trustacks/packs/{pack}": rules_dir / "packs" / pack}
    if overlay_dir is not None:
        report = lint_overlay(Path(overlay_dir), rules_dir=rules_dir, packs=chosen)
        if not report.ok:
            raise TrustError(f"{overlay_dir}: the overlay fails the ratchet linter; not released\n{report.format()}")
        plan[OVERLAY_FILE] = {OVERLAY_ROOT: Path(overlay_dir)}
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    try:
        for name, layers in plan.items():
            rev = (overlay_revision or revision) if name == OVERLAY_FILE else revision
            path = bundles.build_layer_bundle(layers, revision=rev, out=out_dir / name)
            bundles.sign_bundle(path, private_key_pem=private_key_pem)
            written[name] = path
    except (bundles.BundleError, keys.KeyFormatError) as exc:
        raise TrustError(str(exc)) from None
    return written


def load_service_policy(
    *,
    bundle_dir: Path | None,
    public_key_file: Path | None,
    pin_file: Path | None = None,
    packs: Sequence[str] = (),
    unsigned: bool = False,
) -> PolicyEngine:
    """The policy `trustacks serve` runs on; its `provenance` says where it came from.

    Signed bundles are the production path. `unsigned=True` (TRUSTACKS_POLICY_UNSIGNED) loads the rules
    shipped in the package for local development and says so; with neither, the service refuses to start.
    """
    if bundle_dir is None:
        if not unsigned:
            raise TrustError(
                "refusing to start without signed policy: set TRUSTACKS_POLICY_BUNDLE_DIR and "
                "TRUSTACKS_POLICY_PUBLIC_KEY_FILE (build them with `trustacks keys generate` and "
                "`trustacks bundle release`, pin with `trustacks constitution upgrade`), or set "
                "TRUSTACKS_POLICY_UNSIGNED=true for local development only"
            )
        engine = PolicyEngine.load(packs=tuple(dict.fromkeys(packs)))
        engine.provenance = "UNSIGNED policy from the installed package (TRUSTACKS_POLICY_UNSIGNED; development only)"
        return engine
    if public_key_file is None:
        raise TrustError("a policy bundle directory needs the public key the bundles are signed for")
    try:
        public_key_pem = Path(public_key_file).read_bytes()
    except OSError as exc:
        raise TrustError(f"{public_key_file}: cannot read the policy public key: {exc.strerror or exc}") from None
    pin = read_pin(Path(pin_file) if pin_file is not None else Path(bundle_dir) / PIN_FILE)
    return load_trusted_policy(bundle_dir, public_key_pem=public_key_pem, pin=pin, packs=packs).engine
