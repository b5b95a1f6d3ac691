"""The Dockerfile's install steps, replayed offline: build the wheel, install it (not editable) into a
fresh virtualenv, and run what the image runs.

This is the part of the image a Docker engine would test: that the wheel carries the shipped rules
and every data file, that the console script works from site-packages (no checkout beside it), that
the policy loads from there, and that `trustacks serve` passes the image's HEALTHCHECK command.
Nothing reaches the network: pip runs with --no-index, no build isolation and a dead proxy; the
fresh virtualenv borrows the test virtualenv's dependencies through one .pth line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ship.dockerfile import read

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


@dataclass(frozen=True)
class Installed:
    src: Path
    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment: no TRUSTACKS_* or PYTHONPATH from the caller, the fresh venv first."""
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("TRUSTACKS_", "PYTHON", "VIRTUAL_ENV", "PIP_"))}
        keep["PATH"] = f"{self.bin}{os.pathsep}{keep.get('PATH', '')}"
        keep["PYTHONDONTWRITEBYTECODE"] = "1"
        return {**keep, **extra}

    def run(self, *argv: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              env=self.env(**env), cwd=self.venv.parent)


def _pip(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          timeout=240, env={**os.environ, **OFFLINE}, cwd=cwd)
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    # the build context the Dockerfile copies for the wheel (a copy: building writes build/ and egg-info)
    for i in read(ROOT / "Dockerfile"):
        if i.stage == 0 and i.keyword == "COPY" and not i.args.startswith("--from"):
            *sources, _ = i.args.split()
            for source in sources:
                path = ROOT / source
                if source.startswith("requirements/"):
                    continue
                if path.is_dir():
                    shutil.copytree(path, src / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(path, src / source)
    wheels = base / "wheels"
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(wheels), str(src), cwd=base)
    (wheel,) = wheels.glob("trustacks-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    py = venv / "bin" / "python"
    _pip("--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel), cwd=base)
    # dependencies come from the test virtualenv (its own .pth files, e.g. the editable finder of the
    # checkout, are not processed from a path added this way, so `bot` can only come from the wheel)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "zz_test_deps.pth").write_text("\n".join(deps) + "\n")
    return Installed(src, wheel, venv)


def test_wheel_carries_every_data_file_and_the_rules(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = set()
    for top in ("bot", "rules"):
        for path in (installed.src / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                expected.add(path.relative_to(installed.src).as_posix())
    assert any(n.startswith("rules/constitution/") and n.endswith(".rego") for n in expected)
    missing = sorted(expected - names)
    assert not missing, f"files the wheel leaves behind (add them to package-data): {missing}"
    assert not [n for n in names if n.startswith(("tests/", "fixtures/", "benchmarks/"))]


def test_installed_package_loads_the_shipped_policy_from_site_packages(installed):
    code = (
        "import json, bot\n"
        "from bot.policy.engine import PolicyEngine, available_packs, default_rules_dir\n"
        "packs = available_packs()\n"
        "engine = PolicyEngine.load(packs=packs, isolate=False)\n"
        "print(json.dumps({'bot': bot.__file__, 'rules': str(default_rules_dir()), 'packs': packs,\n"
        "                  'constitution': len(engine.rules(layer='constitution'))}))\n"
    )
    proc = installed.run(str(installed.bin / "python"), "-c", code)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert Path(info["bot"]).is_relative_to(installed.venv), "bot must come from the installed wheel"
    assert Path(info["rules"]).is_relative_to(installed.venv), "rules must come from the installed wheel"
    assert info["constitution"] > 0
    assert set(info["packs"]) == {p.name for p in (ROOT / "rules" / "packs").iterdir() if p.is_dir()}


def test_console_script_runs_the_rego_tests_of_the_installed_rules(installed):
    proc = installed.run(str(installed.bin / "trustacks"), "policy", "test", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout


def test_serve_passes_the_image_healthcheck_and_drains_on_sigterm(installed, tmp_path):
    """`trustacks serve` with the image's environment; the Dockerfile's own HEALTHCHECK command."""
    final = [i for i in read(ROOT / "Dockerfile") if i.stage == 1]
    image_env = {k: v for i in final if i.keyword == "ENV" for k, v in i.pairs().items() if k.startswith("TRUSTACKS_")}
    (healthcheck,) = [i.exec_form() for i in final if i.keyword == "HEALTHCHECK"]
    assert healthcheck is not None
    assert image_env["TRUSTACKS_POLICY_BUNDLE_DIR"] and image_env["TRUSTACKS_POLICY_PUBLIC_KEY_FILE"]
    policy = _release_policy(installed, tmp_path)
    env = installed.env(**{**image_env, "TRUSTACKS_DATA_DIR": str(tmp_path / "data"), "TRUSTACKS_PORT": "0",
                           "TRUSTACKS_GITHUB_WEBHOOK_SECRET": "s" * 40, **policy})
    proc = subprocess.Popen([str(installed.bin / "trustacks"), "serve"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = _wait_listening(proc)
        probe = subprocess.run(healthcheck, env={**env, "TRUSTACKS_PORT": str(port)}, capture_output=True,
                               text=True, timeout=30)
        assert probe.returncode == 0, probe.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            ready = json.loads(resp.read())
        assert ready["ready"] is True and ready["checks"].get("policy") is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    # and the probe fails once the service is gone: the HEALTHCHECK is not vacuous
    dead = subprocess.run(healthcheck, env={**env, "TRUSTACKS_PORT": str(port)}, capture_output=True, timeout=30)
    assert dead.returncode != 0


def _release_policy(installed: Installed, tmp_path: Path) -> dict[str, str]:
    """The operator's steps with the installed CLI: a key pair, a signed bundle set, the constitution pin."""
    keys, bundles = tmp_path / "keys", tmp_path / "policy"
    steps = [
        ("trustacks", "keys", "generate", "--out-dir", str(keys)),
        ("trustacks", "bundle", "release", "--revision", "1.0.0", "--pack", "soc2", "--key", str(keys / "trustacks.key"),
         "--out", str(bundles)),
        ("trustacks", "constitution", "upgrade", "--to", "1.0.0", "--bundle", str(bundles / "constitution.tar.gz"),
         "--public-key", str(keys / "trustacks.pub"), "--pin", str(bundles / "constitution.pin.json")),
    ]
    for argv in steps:
        done = installed.run(*argv)
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"
    return {"TRUSTACKS_POLICY_BUNDLE_DIR": str(bundles), "TRUSTACKS_POLICY_PUBLIC_KEY_FILE": str(keys / "trustacks.pub"),
            "TRUSTACKS_POLICY_PACKS": "soc2"}


def test_serve_refuses_a_tampered_bundle_before_listening(installed, tmp_path):
    """A pack bundle re-signed with another key: the service exits with the refusal, no port opened."""
    policy = _release_policy(installed, tmp_path)
    other = installed.run("trustacks", "keys", "generate", "--out-dir", str(tmp_path / "other"))
    assert other.returncode == 0, other.stderr
    resign = installed.run("trustacks", "bundle", "sign", str(Path(policy["TRUSTACKS_POLICY_BUNDLE_DIR"]) / "packs-soc2.tar.gz"),
                           "--key", str(tmp_path / "other" / "trustacks.key"))
    assert resign.returncode == 0, resign.stderr
    done = installed.run("trustacks", "serve", timeout=60, TRUSTACKS_DATA_DIR=str(tmp_path / "data"),
                         TRUSTACKS_PORT="0", TRUSTACKS_GITHUB_WEBHOOK_SECRET="s" * 40, **policy)
    assert done.returncode == 1
    assert "packs-soc2.tar.gz: refused" in done.stderr and "does not verify" in done.stderr
    assert "listening" not in done.stderr


def _wait_listening(proc: subprocess.Popen[str], timeout: float = 30.0) -> int:
    """The port from the service's 'listening' log line (JSON on stderr)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == "listening":
            return int(record["port"])
    raise AssertionError("service did not start:\n" + "".join(seen[-20:]))
