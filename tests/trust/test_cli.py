"""The trust CLI end to end: keys, bundles, the pinned constitution, audit, waivers, policy lint."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.audit import AuditLog
from bot.cli import COMMANDS, SHORT_HELP, cli
from bot.policy.trust_cli import lint_command

UPPER = Path(__file__).resolve().parents[2] / "fixtures" / "overlays" / "upper"
GOOD = UPPER.parent / "good"
BAD = UPPER.parent / "bad"


def run(*args: str, command=cli):
    result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def keydir(tmp_path):
    code, out = run("keys", "generate", "--out-dir", tmp_path / "keys")
    assert code == 0 and "fingerprint: sha256:" in out
    return tmp_path / "keys"


def _constitution(tmp_path: Path, keydir: Path, revision: str, *, src: Path = UPPER) -> Path:
    out = tmp_path / f"constitution-{revision}.tar.gz"
    code, text = run("bundle", "build", "--layer", f"trustacks/constitution={src / 'constitution'}",
                     "--layer", f"trustacks/lib={src / 'lib'}", "--revision", revision, "--out", out)
    assert code == 0, text
    code, text = run("bundle", "sign", out, "--key", keydir / "trustacks.key")
    assert code == 0, text
    return out


def test_commands_are_registered():
    for name in ("bundle", "keys", "constitution", "audit", "waiver"):
        assert COMMANDS[name] == f"bot.policy.trust_cli:{name}_command" and SHORT_HELP[name]


def test_keys_are_private_and_never_overwritten(keydir):
    assert stat.S_IMODE((keydir / "trustacks.key").stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in (keydir / "trustacks.pub").read_bytes()
    code, out = run("keys", "generate", "--out-dir", keydir)
    assert code == 1 and "refusing to overwrite" in out


def test_bundle_build_sign_verify_and_tamper(tmp_path, keydir):
    out = tmp_path / "pack.tar.gz"
    assert run("bundle", "build", UPPER / "packs" / "legacy", "--root", "trustacks/packs/legacy", "--revision", "0.3.0", "--out", out)[0] == 0
    code, text = run("bundle", "verify", out, "--public-key", keydir / "trustacks.pub")
    assert code == 1 and "unsigned" in text
    assert run("bundle", "sign", out, "--key", keydir / "trustacks.key")[0] == 0
    code, text = run("bundle", "verify", out, "--public-key", keydir / "trustacks.pub", "--json")
    assert code == 0 and json.loads(text)["roots"] == ["trustacks/packs/legacy"]
    code, text = run("bundle", "verify", out, "--public-key", keydir / "trustacks.pub", "--revision", "0.4.0")
    assert code == 1 and "pinned revision" in text
    other = tmp_path / "other"
    run("keys", "generate", "--out-dir", other)
    code, text = run("bundle", "verify", out, "--public-key", other / "trustacks.pub")
    assert code == 1 and "does not verify" in text


def test_constitution_pin_and_explicit_upgrades(tmp_path, keydir):
    pin = tmp_path / ".trustacks" / "constitution.pin.json"
    pub = keydir / "trustacks.pub"
    v1 = _constitution(tmp_path, keydir, "1.0.0")
    code, text = run("constitution", "upgrade", "--to", "1.0.0", "--bundle", v1, "--public-key", pub, "--pin", pin)
    assert code == 0 and json.loads(pin.read_text())["revision"] == "1.0.0", text
    assert run("constitution", "verify", "--bundle", v1, "--public-key", pub, "--pin", pin)[0] == 0
    # the bundle must carry exactly the revision asked for
    code, text = run("constitution", "upgrade", "--to", "1.1.0", "--bundle", v1, "--public-key", pub, "--pin", pin)
    assert code == 1 and "pinned revision" in text
    v11 = _constitution(tmp_path, keydir, "1.1.0")
    code, text = run("constitution", "upgrade", "--to", "1.1.0", "--bundle", v11, "--public-key", pub, "--pin", pin,
                     "--rules", UPPER, "--overlay", GOOD / "extra_deny")
    assert code == 0 and "minor upgrade" in text and "no change needed" in text, text
    # the old bundle no longer matches the pin
    code, text = run("constitution", "verify", "--bundle", v1, "--public-key", pub, "--pin", pin)
    assert code == 1 and "not the pinned file" in text
    code, text = run("constitution", "upgrade", "--to", "1.0.0", "--bundle", v1, "--public-key", pub, "--pin", pin)
    assert code == 1 and "refusing to downgrade" in text


def test_re_released_revision_and_new_key_need_an_explicit_re_pin(tmp_path, keydir):
    """Signing is not byte-for-byte repeatable: a re-release of the pinned revision is reported, never silently kept."""
    pin = tmp_path / "constitution.pin.json"
    pub = keydir / "trustacks.pub"
    first = _constitution(tmp_path, keydir, "1.0.0")
    assert run("constitution", "upgrade", "--to", "1.0.0", "--bundle", first, "--public-key", pub, "--pin", pin)[0] == 0
    code, text = run("constitution", "upgrade", "--to", "1.0.0", "--bundle", first, "--public-key", pub, "--pin", pin)
    assert code == 0 and "already pinned" in text
    again = tmp_path / "again"
    again.mkdir()
    second = _constitution(again, keydir, "1.0.0")
    assert second.read_bytes() != first.read_bytes()
    before = pin.read_text()
    code, text = run("constitution", "upgrade", "--to", "1.0.0", "--bundle", second, "--public-key", pub, "--pin", pin)
    assert code == 3 and "bundle digest changed" in text and "--yes" in text and pin.read_text() == before
    code, text = run("constitution", "upgrade", "--to", "1.0.0", "--bundle", second, "--public-key", pub, "--pin", pin, "--yes")
    assert code == 0 and "re-pinned" in text
    assert run("constitution", "verify", "--bundle", second, "--public-key", pub, "--pin", pin)[0] == 0
    # key rotation under the same revision: the fingerprints are shown and --yes is required
    newkeys = tmp_path / "newkeys"
    assert run("keys", "generate", "--out-dir", newkeys)[0] == 0
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    third = _constitution(rotated, newkeys, "1.0.0")
    code, text = run("constitution", "upgrade", "--to", "1.0.0", "--bundle", third, "--public-key", newkeys / "trustacks.pub",
                     "--pin", pin)
    assert code == 3 and "bundle digest and signing key changed" in text
    assert "compare the new fingerprint out of band" in text


def test_major_upgrade_reports_what_the_overlay_must_change(tmp_path, keydir):
    pin = tmp_path / "pin.json"
    pub = keydir / "trustacks.pub"
    assert run("constitution", "upgrade", "--to", "1.0.0", "--bundle", _constitution(tmp_path, keydir, "1.0.0"),
               "--public-key", pub, "--pin", pin)[0] == 0
    new_src = tmp_path / "v2"
    shutil.copytree(UPPER, new_src)
    params = json.loads((new_src / "constitution" / "params.json").read_text())
    params["min_approvals"] = 3
    (new_src / "constitution" / "params.json").write_text(json.dumps(params))
    for f in ("registries.rego", "registries_test.rego"):
        (new_src / "constitution" / f).unlink()
    v2 = _constitution(tmp_path, keydir, "2.0.0", src=new_src)
    overlay = tmp_path / "overlay"
    shutil.copytree(GOOD / "stricter_params", overlay)
    (overlay / "notes.yaml").write_text("# tracks TS-SUPPLY-002\n")
    code, text = run("constitution", "upgrade", "--to", "2.0.0", "--bundle", v2, "--public-key", pub, "--pin", pin,
                     "--rules", UPPER, "--overlay", overlay)
    assert code == 1 and "major upgrade" in text and "nothing was pinned" in text
    assert "- rule TS-SUPPLY-002 (removed)" in text and "parameter min_approvals: 1 -> 3" in text
    assert "min_approvals: 2 is fewer than the upper layers' 3" in text and "notes.yaml: names TS-SUPPLY-002" in text
    assert json.loads(pin.read_text())["revision"] == "1.0.0"
    # an overlay that is fine under the new constitution still needs an explicit --yes for a major upgrade
    code, text = run("constitution", "upgrade", "--to", "2.0.0", "--bundle", v2, "--public-key", pub, "--pin", pin,
                     "--rules", UPPER, "--overlay", GOOD / "extra_deny")
    assert code == 3 and "--yes" in text and json.loads(pin.read_text())["revision"] == "1.0.0"
    code, text = run("constitution", "upgrade", "--to", "2.0.0", "--bundle", v2, "--public-key", pub, "--pin", pin,
                     "--rules", UPPER, "--overlay", GOOD / "extra_deny", "--yes")
    assert code == 0 and json.loads(pin.read_text())["revision"] == "2.0.0", text


def test_audit_verify_and_show(tmp_path):
    db = tmp_path / "audit.db"
    with AuditLog(db) as log:
        for i in range(3):
            log.append({"kind": "decision", "verdict": "pass", "repo": "acme/app", "rules_cited": [], "actor": f"a{i}"})
        head = log.head()
    code, text = run("audit", "verify", "--db", f"sqlite:///{db}")
    assert code == 0 and "intact: 3 entries" in text
    code, text = run("audit", "show", "--db", db, "--limit", "2")
    assert code == 0 and "actor=a1" in text and "actor=a0" not in text
    with AuditLog(db) as log:
        log._conn.execute("UPDATE audit_log SET record = '{\"verdict\": \"deny\"}' WHERE seq = 2")
    code, text = run("audit", "verify", "--db", db)
    assert code == 1 and "seq 2: edited" in text
    with AuditLog(db) as log:
        log._conn.execute("DELETE FROM audit_log WHERE seq >= 2")
    assert run("audit", "verify", "--db", db)[0] == 0  # a cut-off tail needs the anchor
    code, text = run("audit", "verify", "--db", db, "--anchor", f"{head[0]}:{head[1]}", "--json")
    assert code == 1 and json.loads(text)["problems"][0]["kind"] == "truncated"


def test_waiver_sign_and_check(tmp_path, keydir):
    shutil.copy(keydir / "trustacks.pub", keydir / "alice.pub")
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("# reviewed in PR #12\nwaivers: []\n")
    common = ("--repo", "acme/*", "--reason", "legacy", "--approver", "alice", "--key", keydir / "trustacks.key")
    code, text = run("waiver", "sign", "--rule", "LEGACY-001", "--expires", "2099-01-01", *common, "--file", waivers)
    assert code == 0, text
    assert waivers.read_text().startswith("# reviewed in PR #12")
    code, text = run("waiver", "check", waivers, "--keys-dir", keydir, "--rules", UPPER)
    assert code == 0 and "active: LEGACY-001" in text
    code, text = run("waiver", "sign", "--rule", "TS-PROC-001", "--expires", "2099-01-01", *common)
    assert code == 1 and "cannot be waived" in text
    run("waiver", "sign", "--rule", "LEGACY-002", "--expires", "2020-01-01", *common, "--file", waivers)
    code, text = run("waiver", "check", waivers, "--key", f"alice={keydir / 'alice.pub'}")
    assert code == 1 and "expired on 2020-01-01" in text and "active: LEGACY-001" in text


def test_policy_lint_command(tmp_path):
    code, text = run(GOOD / "stricter_params", "--rules", UPPER, command=lint_command)
    assert code == 0 and "overlay OK" in text
    code, text = run(BAD / "default_shadow", "--rules", UPPER, "--json", "--no-tests", command=lint_command)
    report = json.loads(text)
    assert code == 1 and not report["ok"] and {"file": "x.rego", "line": 5} .items() <= next(
        v for v in report["violations"] if v["code"] == "shadows-upper").items()
