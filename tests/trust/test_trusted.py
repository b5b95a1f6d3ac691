"""The runtime loads policy only from signed bundles verified against the pinned key and constitution."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import ConfigError, load_settings
from bot.policy import PolicyEngine, keys
from bot.policy import bundle as bundles
from bot.policy.engine import default_rules_dir
from bot.policy.trusted import (
    CONSTITUTION_FILE,
    OVERLAY_FILE,
    PIN_FILE,
    TrustError,
    load_service_policy,
    load_trusted_policy,
    read_pin,
    release_bundles,
)
from tests.policy.conftest import make_profile, make_proposal

STRICT_OVERLAY = (
    "package trustacks.overlay.weekend\n\nimport rego.v1\n\n"
    'metadata := {"id": "ACME-WEEKEND-001", "title": "t", "severity": "low", "description": "d", "remediation": "r"}\n\n'
    'deny contains {"msg": "no generation on weekends"} if input.proposal.kind == "generate"\n'
)
LOOSENING_OVERLAY = (
    "package trustacks.overlay.sneaky\n\nimport rego.v1\n\n"
    "x := 1 if { true } with data.trustacks.constitution.pr_required.deny as set()\n"
)


def _pin(bundle_dir: Path, public_pem: bytes, revision: str = "1.0.0") -> bundles.ConstitutionPin:
    pin = bundles.ConstitutionPin.of(bundle_dir / CONSTITUTION_FILE, public_key_pem=public_pem, revision=revision)
    (bundle_dir / PIN_FILE).write_text(pin.dumps())
    return pin


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, keypair: tuple[bytes, bytes]) -> Path:
    out = tmp_path_factory.mktemp("released") / "bundles"
    release_bundles(default_rules_dir(), out, private_key_pem=keypair[0], revision="1.0.0", packs=["soc2"])
    _pin(out, keypair[1])
    return out


@pytest.fixture
def bundle_dir(released: Path, tmp_path: Path) -> Path:
    """A private copy of the released set, for tests that tamper with it."""
    copy = tmp_path / "bundles"
    copy.mkdir()
    for f in released.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    return copy


def _rewrite(path: Path, change) -> None:
    """Rewrite a bundle's tarball with `change(files)` applied, keeping its (now stale) signatures."""
    files: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar.getmembers():
            files[m.name] = tar.extractfile(m).read()
    change(files)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_released_set_loads_and_evaluates(released, keypair):
    trusted = load_trusted_policy(released, public_key_pem=keypair[1], pin=read_pin(released / PIN_FILE),
                                  packs=["soc2"], isolate=False)
    assert trusted.revisions == {"constitution": "1.0.0", "packs/soc2": "1.0.0"}
    assert trusted.engine.revisions["constitution"] == "1.0.0"  # the audit records signed revisions
    assert trusted.engine.provenance.startswith("signed bundles verified (constitution 1.0.0, packs/soc2 1.0.0; key ")
    assert {m.layer for m in trusted.engine.rules()} == {"constitution", "packs"}
    assert trusted.engine.rules(pack="soc2")
    decision = trusted.engine.evaluate(make_proposal(), make_profile())
    assert decision.verdict in ("pass", "warn", "deny")
    # same rules as the directory they were released from
    reference = PolicyEngine.load(packs=("soc2",), isolate=False)
    assert [m.id for m in trusted.engine.rules()] == [m.id for m in reference.rules()]


def _refused(bundle_dir: Path, public_pem: bytes, *, packs=("soc2",), pin=None) -> str:
    with pytest.raises(TrustError) as info:
        load_trusted_policy(bundle_dir, public_key_pem=public_pem, pin=pin or read_pin(bundle_dir / PIN_FILE),
                            packs=packs, isolate=False)
    return str(info.value)


def test_wrong_key_refused(bundle_dir, other_keypair):
    assert "not the one pinned" in _refused(bundle_dir, other_keypair[1])


def test_pack_signed_by_another_key_refused(bundle_dir, keypair, other_keypair):
    bundles.sign_bundle(bundle_dir / "packs-soc2.tar.gz", private_key_pem=other_keypair[0])
    msg = _refused(bundle_dir, keypair[1])
    assert "packs-soc2.tar.gz: refused" in msg and "does not verify" in msg


def test_unsigned_pack_refused(bundle_dir, keypair):
    _rewrite(bundle_dir / "packs-soc2.tar.gz", lambda files: files.pop(".signatures.json"))
    assert "unsigned" in _refused(bundle_dir, keypair[1])


def _first_rego(files: dict[str, bytes]) -> str:
    return next(k for k in sorted(files) if k.endswith(".rego"))


def _change(files: dict[str, bytes]) -> None:
    files[_first_rego(files)] += b"\n# changed\n"


def _add(files: dict[str, bytes]) -> None:
    files["trustacks/packs/soc2/extra.rego"] = b"package trustacks.packs.soc2.extra\n"


def _remove(files: dict[str, bytes]) -> None:
    files.pop(_first_rego(files))


@pytest.mark.parametrize("tamper, fragment", [
    (_change, "changed after signing"), (_add, "added after signing"), (_remove, "removed after signing"),
])
def test_pack_changed_after_signing_refused(bundle_dir, keypair, tamper, fragment):
    _rewrite(bundle_dir / "packs-soc2.tar.gz", tamper)
    assert fragment in _refused(bundle_dir, keypair[1])


def test_constitution_changed_after_pinning_refused(bundle_dir, keypair):
    """Re-released with the right key but not re-pinned: the pinned digest no longer matches."""
    release_bundles(default_rules_dir(), bundle_dir, private_key_pem=keypair[0], revision="1.0.0", packs=["soc2"])
    assert "not the pinned file" in _refused(bundle_dir, keypair[1])


def test_constitution_revision_must_match_the_pin(bundle_dir, keypair):
    release_bundles(default_rules_dir(), bundle_dir, private_key_pem=keypair[0], revision="1.1.0", packs=["soc2"])
    pin = bundles.ConstitutionPin(revision="1.0.0")  # revision pinned, no digest: the revision check alone
    assert "not the pinned revision '1.0.0'" in _refused(bundle_dir, keypair[1], pin=pin)


def test_pack_bundle_claiming_the_constitution_root_refused(bundle_dir, keypair, tmp_path):
    """A "pack" bundle that carries its own constitution: refused by its roots, whatever the signature says."""
    fake = tmp_path / "fake"
    (fake / "x").mkdir(parents=True)
    (fake / "x" / "p.rego").write_text("package trustacks.constitution.x\n")
    bundles.build_layer_bundle({"trustacks/constitution/x": fake / "x"}, revision="1.0.0",
                               out=bundle_dir / "packs-soc2.tar.gz")
    bundles.sign_bundle(bundle_dir / "packs-soc2.tar.gz", private_key_pem=keypair[0])
    assert "must have exactly the root(s) ['trustacks/packs/soc2']" in _refused(bundle_dir, keypair[1])


def test_missing_pack_bundle_and_pin(bundle_dir, keypair):
    assert "packs-pci.tar.gz: bundle not found" in _refused(bundle_dir, keypair[1], packs=("soc2", "pci"))
    (bundle_dir / PIN_FILE).unlink()
    with pytest.raises(TrustError, match="no constitution pin"):
        read_pin(bundle_dir / PIN_FILE)


def test_signed_overlay_that_loosens_is_refused_at_load(bundle_dir, keypair, tmp_path):
    """Signing does not make a loosening overlay acceptable: the runtime lints it before loading."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "sneaky.rego").write_text(LOOSENING_OVERLAY)
    bundles.build_layer_bundle({"trustacks/overlay": overlay}, revision="1.0.0", out=bundle_dir / OVERLAY_FILE)
    bundles.sign_bundle(bundle_dir / OVERLAY_FILE, private_key_pem=keypair[0])
    msg = _refused(bundle_dir, keypair[1])
    assert "ratchet linter" in msg and "sneaky.rego" in msg


def test_release_refuses_a_loosening_overlay(tmp_path, keypair):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "sneaky.rego").write_text(LOOSENING_OVERLAY)
    with pytest.raises(TrustError, match="fails the ratchet linter"):
        release_bundles(default_rules_dir(), tmp_path / "out", private_key_pem=keypair[0], revision="1.0.0",
                        packs=[], overlay_dir=overlay)
    assert not (tmp_path / "out" / OVERLAY_FILE).exists()


def test_stricter_overlay_released_loaded_and_fires(tmp_path, keypair):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "weekend.rego").write_text(STRICT_OVERLAY)
    out = tmp_path / "out"
    release_bundles(default_rules_dir(), out, private_key_pem=keypair[0], revision="2.0.0", packs=[],
                    overlay_dir=overlay, overlay_revision="0.3.0")
    pin = _pin(out, keypair[1], "2.0.0")
    trusted = load_trusted_policy(out, public_key_pem=keypair[1], pin=pin, isolate=False)
    assert trusted.revisions == {"constitution": "2.0.0", "overlay": "0.3.0"}
    deny = trusted.engine.evaluate(make_proposal(), make_profile()).deny
    assert ("ACME-WEEKEND-001", "overlay") in [(v.rule, v.layer) for v in deny]


def test_service_refuses_to_start_without_signed_policy():
    with pytest.raises(TrustError, match="refusing to start without signed policy"):
        load_service_policy(bundle_dir=None, public_key_file=None)
    engine = load_service_policy(bundle_dir=None, public_key_file=None, unsigned=True)
    source = engine.provenance
    assert "UNSIGNED" in source and engine.rules(layer="constitution")
    engine.close()


def test_service_policy_from_settings(released, keypair, tmp_path):
    pub = tmp_path / "trustacks.pub"
    pub.write_bytes(keypair[1])
    engine = load_service_policy(bundle_dir=released, public_key_file=pub, packs=("soc2",))
    source = engine.provenance
    try:
        assert "signed bundles verified (constitution 1.0.0, packs/soc2 1.0.0" in source
        assert keys.fingerprint(keypair[1]) in source
    finally:
        engine.close()


def test_build_dispatcher_loads_only_verified_policy(released, keypair, tmp_path):
    from bot.handlers import build_dispatcher

    pub = tmp_path / "trustacks.pub"
    pub.write_bytes(keypair[1])
    base = {"TRUSTACKS_GITHUB_WEBHOOK_SECRET": "s" * 32, "TRUSTACKS_DATA_DIR": str(tmp_path / "data")}
    with pytest.raises(ConfigError, match="policy: refusing to start without signed policy"):
        build_dispatcher(load_settings(env=base))
    bad = tmp_path / "other.pub"
    bad.write_bytes(keys.generate_keypair()[1])
    with pytest.raises(ConfigError, match="not the one pinned"):
        build_dispatcher(load_settings(env={**base, "TRUSTACKS_POLICY_BUNDLE_DIR": str(released),
                                            "TRUSTACKS_POLICY_PUBLIC_KEY_FILE": str(bad)}))
    dispatch = build_dispatcher(load_settings(env={**base, "TRUSTACKS_POLICY_BUNDLE_DIR": str(released),
                                                   "TRUSTACKS_POLICY_PUBLIC_KEY_FILE": str(pub),
                                                   "TRUSTACKS_POLICY_PACKS": "soc2"}))
    try:
        assert dispatch.ready_checks["policy"]() is True
        # what the status page and audit records show: the signed revisions, from the same engine
        assert dispatch.policy.revisions["constitution"] == "1.0.0" and dispatch.policy.revisions["packs/soc2"] == "1.0.0"
        assert "signed bundles verified" in dispatch.policy.provenance and dispatch.audit is not None
    finally:
        import asyncio

        asyncio.run(dispatch.aclose())


@pytest.mark.parametrize("env, fragment", [
    ({"TRUSTACKS_POLICY_BUNDLE_DIR": "/x"}, "also set TRUSTACKS_POLICY_PUBLIC_KEY_FILE"),
    ({"TRUSTACKS_POLICY_PUBLIC_KEY_FILE": "/x.pub"}, "also set TRUSTACKS_POLICY_BUNDLE_DIR"),
    ({"TRUSTACKS_CONSTITUTION_PIN_FILE": "/pin.json"}, "also set TRUSTACKS_POLICY_BUNDLE_DIR"),
    ({"TRUSTACKS_POLICY_BUNDLE_DIR": "/x", "TRUSTACKS_POLICY_PUBLIC_KEY_FILE": "/x.pub", "TRUSTACKS_POLICY_UNSIGNED": "1"},
     "not both"),
])
def test_policy_settings_are_checked_in_pairs(tmp_path, env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env={"TRUSTACKS_GITHUB_WEBHOOK_SECRET": "s" * 32, "TRUSTACKS_DATA_DIR": str(tmp_path), **env})


def test_cli_release_then_pin(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "generate", "--out-dir", str(tmp_path / "k")]).exit_code == 0
    out = tmp_path / "b"
    result = runner.invoke(cli, ["bundle", "release", "--revision", "1.2.3", "--pack", "pci", "--key",
                                 str(tmp_path / "k" / "trustacks.key"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["constitution.tar.gz", "packs-pci.tar.gz"]
    assert "next: pin the constitution: trustacks constitution upgrade --to 1.2.3" in result.output
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "sneaky.rego").write_text(LOOSENING_OVERLAY)
    refused = runner.invoke(cli, ["bundle", "release", "--revision", "1.2.3", "--key", str(tmp_path / "k" / "trustacks.key"),
                                  "--out", str(out), "--overlay", str(overlay)])
    assert refused.exit_code == 1 and "overlay REJECTED" in refused.output
    vb = bundles.verify_bundle(out / "packs-pci.tar.gz", public_key_pem=(tmp_path / "k" / "trustacks.pub").read_bytes())
    assert vb.roots == ["trustacks/packs/pci"] and json.loads(vb.files[".manifest"])["revision"] == "1.2.3"


def test_missing_directory_and_bad_public_key_refused(bundle_dir, keypair, tmp_path):
    pin = read_pin(bundle_dir / PIN_FILE)
    with pytest.raises(TrustError, match="policy bundle directory not found"):
        load_trusted_policy(tmp_path / "nowhere", public_key_pem=keypair[1], pin=pin, isolate=False)
    with pytest.raises(TrustError, match="policy public key"):
        load_trusted_policy(bundle_dir, public_key_pem=b"not a key", pin=pin, isolate=False)
    with pytest.raises(TrustError, match="cannot read the policy public key"):
        load_service_policy(bundle_dir=bundle_dir, public_key_file=tmp_path / "missing.pub")
    (bundle_dir / PIN_FILE).write_text("{not json")
    with pytest.raises(TrustError, match="constitution pin is not valid JSON"):
        read_pin(bundle_dir / PIN_FILE)


def test_overlay_bundle_claiming_another_root_refused(bundle_dir, keypair, tmp_path):
    """An "overlay" that carries a pack's root could replace that pack's rules: refused by its root."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "p.rego").write_text("package trustacks.packs.soc2.x\n")
    bundles.build_layer_bundle({"trustacks/packs/soc2x": src}, revision="1.0.0", out=bundle_dir / OVERLAY_FILE)
    bundles.sign_bundle(bundle_dir / OVERLAY_FILE, private_key_pem=keypair[0])
    msg = _refused(bundle_dir, keypair[1])
    assert "overlay.tar.gz: refused" in msg and "must have exactly the root(s) ['trustacks/overlay']" in msg


def test_release_refuses_an_unknown_pack(tmp_path, keypair):
    with pytest.raises(TrustError, match="unknown pack"):
        release_bundles(default_rules_dir(), tmp_path / "out", private_key_pem=keypair[0], revision="1.0.0",
                        packs=["gdpr"])
    assert not (tmp_path / "out").exists()


def test_overlay_that_cannot_be_linted_is_refused(tmp_path):
    """Upper layers the linter cannot read: the overlay is not loaded unchecked."""
    from bot.policy import PolicyError

    rules = tmp_path / "rules"
    (rules / "constitution").mkdir(parents=True)
    (rules / "constitution" / "bad.rego").write_text("package trustacks.constitution.bad\n\ndeny[\n")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "weekend.rego").write_text(STRICT_OVERLAY)
    with pytest.raises(PolicyError, match="cannot lint the overlay"):
        PolicyEngine.load(rules_dir=rules, overlay_dir=overlay, isolate=False)


def test_policy_bundle_dir_that_is_a_file_is_a_config_error(tmp_path):
    f = tmp_path / "bundles"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_settings(env={"TRUSTACKS_GITHUB_WEBHOOK_SECRET": "s" * 32, "TRUSTACKS_DATA_DIR": str(tmp_path / "d"),
                           "TRUSTACKS_POLICY_BUNDLE_DIR": str(f), "TRUSTACKS_POLICY_PUBLIC_KEY_FILE": str(f)})


def test_cli_release_warns_about_a_stale_pin_and_a_left_over_overlay(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "generate", "--out-dir", str(tmp_path / "k")]).exit_code == 0
    key, pub, out = tmp_path / "k" / "trustacks.key", tmp_path / "k" / "trustacks.pub", tmp_path / "b"
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "weekend.rego").write_text(STRICT_OVERLAY)
    first = runner.invoke(cli, ["bundle", "release", "--revision", "1.0.0", "--pack", "pci", "--key", str(key),
                                "--out", str(out), "--overlay", str(overlay)])
    assert first.exit_code == 0, first.output
    pinned = runner.invoke(cli, ["constitution", "upgrade", "--to", "1.0.0", "--bundle", str(out / CONSTITUTION_FILE),
                                 "--public-key", str(pub), "--pin", str(out / PIN_FILE)])
    assert pinned.exit_code == 0, pinned.output
    again = runner.invoke(cli, ["bundle", "release", "--revision", "1.1.0", "--pack", "pci", "--key", str(key),
                                "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "pins constitution 1.0.0, not this release" in again.output and "trustacks serve will refuse it" in again.output
    assert "overlay.tar.gz was not written by this release and will still be loaded" in again.output
