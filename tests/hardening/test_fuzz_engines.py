"""Fuzzing the pure engines with hostile input: each may only answer, or fail with its documented error.

| target | input | allowed outcome |
|---|---|---|
| `bot.commands.parse` | comments built from real commands, quotes, Unicode, control characters | commands, Reply or Ignore; never raises |
| `Profile.loads` | the real Profile mutated, YAML bombs, alias cycles, deep nesting, invalid UTF-8, huge | a Profile that dumps and reloads, or ProfileError |
| `discover` | repo trees of real fixture files mutated, bombs, binary, huge, deep paths, invalid UTF-8; on disk with symlinks (out, loops, dangling) | a result; no detector crash; evidence points at files of the tree |
| `verify_bundle_bytes` | a signed bundle with bytes changed, members added, renamed, linked, typed as devices; re-signed with other keys | BundleError, or the very files that were signed |
| `lint_overlay_files` | overlay Rego from fragments of real tricks, mutated | a LintReport (never LintError for an overlay) |
| `PolicyEngine.from_sources` | the constitution plus a fuzzed overlay | PolicyError, or an engine whose constitution still denies what it denied |

Memory is bounded over each run (tests/hardening/memory.py).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import CATEGORY_NAMES
from bot.commands import Command, CommandName, Ignore, Reply, parse
from bot.commands.parser import MAX_COMMANDS
from bot.demo import DEMO_DECLARED, read_app_files
from bot.discovery import discover, profile_diff
from bot.models import FileChange, Proposal, ProposalKind
from bot.policy import keys
from bot.policy.bundle import BundleError, build_layer_bundle, sign_bundle, verify_bundle_bytes
from bot.policy.engine import PolicyEngine, PolicyError, Source, _read_dir, default_rules_dir
from bot.policy.lint import LintReport, lint_overlay_files, load_upper
from bot.policy.params import read_params
from bot.profile import Profile, ProfileError
from bot.tree import DirTree, MemoryTree

from .memory import bounded_memory

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"


# ====================================================================== shared hostile material


def yaml_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


HOSTILE_TEXT = st.sampled_from([
    yaml_bomb(12),
    "a: &a [*a]\n",  # an alias cycle (a recursive list)
    "a: &a {b: *a}\n",
    "<<: &m {a: 1}\nb: {<<: *m, <<: *m}\n",  # two merge keys in one mapping
    "[" * 2000 + "]" * 2000,
    "{a: " * 500 + "1" + "}" * 500,
    "- " * 3000 + "x\n",
    "!!python/object/apply:os.system ['echo pwned']\n",
    "a: !!binary |\n  R0lGODlhDAAMAIQAAP//9/X17unp5WZmZgAAAOfn515eXvPz7Y6OjuDg4J+fn5\n",
    "%YAML 1.1\n---\n? " + "k" * 200 + "\n: v\n",
    "\ufeff\ufeffversion: 1\r\n\r\n\x85",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><x>&b;</x>",
    "FROM scratch\n" + "RUN " + "a" * 100_000 + "\n",
    "ignore the constitution; package trustacks.constitution\ndeny := set()\n",
])
INVALID_BYTES = st.sampled_from([b"\xff\xfe\x00\x00", b"ok: \xc3\x28\n", b"\xed\xa0\x80", b"\x00" * 64,
                                 b"\x89PNG\r\n\x1a\n" + bytes(range(256))])


def corrupt(data: st.DataObject, text: str) -> str:
    """Splice random text, a hostile snippet, or a truncation into `text`."""
    how = data.draw(st.sampled_from(["keep", "insert", "truncate", "hostile", "replace"]), label="corruption")
    if not text or how == "keep":
        return text
    at = data.draw(st.integers(0, len(text)), label="at")
    if how == "insert":
        return text[:at] + data.draw(st.text(max_size=30), label="inserted") + text[at:]
    if how == "truncate":
        return text[:at]
    if how == "hostile":
        return text[:at] + data.draw(HOSTILE_TEXT, label="hostile") + text[at:]
    end = data.draw(st.integers(at, len(text)), label="end")
    return text[:at] + data.draw(st.text(alphabet=":-[]{}&*!|>'\"#\n\t ", max_size=10), label="yaml chars") + text[end:]


# ====================================================================== slash commands


REAL_WORDS = ["help", "discover", "generate", "ci", "docker", "helm", "kustomize", "argocd", "all", "explain",
              "rules", "rebase", "recreate", "waive", "profile", "show", "gaps", "--until", "--reason", "2099-01-01",
              "1999-01-01", "TS-PROF-002", "SOC2-CC6.1-001", "'a quoted reason here'", '"unterminated', "\\", "--",
              "\u202e", "\x00", "ｗａｉｖｅ", "/trustacks", "@trustacks"]


def comments() -> st.SearchStrategy[str]:
    word = st.one_of(st.sampled_from(REAL_WORDS), st.text(max_size=12))
    line = st.tuples(st.sampled_from(["/trustacks ", "/trustacks", " /trustacks ", "    /trustacks ", "/TRUSTACKS ",
                                      "/trustacks-bot ", "", "> /trustacks "]),
                     st.lists(word, max_size=8).map(" ".join)).map("".join)
    return st.lists(line, min_size=1, max_size=14).map(lambda ls: "\n".join(ls))


@pytest.mark.heavy
def test_parse_answers_every_comment(budget):
    @budget.settings()
    @given(st.one_of(comments(), st.text(max_size=300)))
    def check(text):
        result = parse(text, today=date(2026, 11, 23))
        if isinstance(result, list):
            assert 1 <= len(result) <= MAX_COMMANDS
            for command in result:
                assert isinstance(command, Command) and isinstance(command.name, CommandName)
                if command.name is CommandName.WAIVE:
                    assert command.rule and not command.rule.startswith("TS-"), "a constitution rule was waivable"
                    assert command.until and command.until > date(2026, 11, 23)
        else:
            assert isinstance(result, (Reply, Ignore))
            if isinstance(result, Reply):
                assert isinstance(result.text, str) and result.text

    with bounded_memory(peak_mb=60, retained_mb=20, cases=budget.cases):
        check()


# ====================================================================== Profile YAML


@pytest.fixture(scope="module")
def profile_text() -> str:
    files = read_app_files(APPS / "payments-fastapi")
    profile = profile_diff(None, [discover(MemoryTree(files), repo="acme/payments-fastapi")],
                           platform_repo="acme/platform").apply(None)
    for category, entries in DEMO_DECLARED.items():
        profile.set_tools(category, entries)
    return profile.dumps()


@pytest.mark.parametrize("text", ["[" * 2000 + "]" * 2000, "platform: " + "{a: " * 300 + "1" + "}" * 300,
                                  "a: '" + "[" * 500 + "'\nb: [[[]]]\n"])
def test_profile_bracket_nesting_is_refused_before_parsing(text):
    """Regression: ruamel's scanner is quadratic in flow depth (2,000 brackets took ~11 s before the bound)."""
    if text.startswith("a: '"):  # brackets inside a quoted scalar are text, not nesting
        with pytest.raises(ProfileError, match="platform"):
            Profile.loads(text)
        return
    with pytest.raises(ProfileError, match="brackets nested"):
        Profile.loads(text)


@pytest.mark.heavy
def test_profile_loads_or_raises_profile_error(budget, profile_text):
    @budget.settings()
    @given(st.data())
    def check(data):
        kind = data.draw(st.sampled_from(["mutated", "mutated", "mutated", "hostile", "bytes", "huge"]), label="kind")
        if kind == "mutated":
            raw: str | bytes = corrupt(data, profile_text)
        elif kind == "hostile":
            raw = data.draw(HOSTILE_TEXT, label="hostile")
        elif kind == "bytes":
            raw = profile_text.encode()[: data.draw(st.integers(0, 400), label="cut")] + data.draw(INVALID_BYTES)
        else:
            raw = profile_text + "#" * (512 * 1024)
        try:
            profile = Profile.loads(raw)
        except ProfileError as exc:
            assert str(exc)
            return
        text = profile.dumps()  # what was accepted can be written back and read again
        again = Profile.loads(text)
        for category in CATEGORY_NAMES:
            again.tools(category)
        again.services()

    with bounded_memory(peak_mb=120, retained_mb=20, cases=budget.cases):
        check()


# ====================================================================== discovery


@pytest.fixture(scope="module")
def app_files() -> list[tuple[str, str]]:
    pool = []
    for app in sorted(p for p in APPS.iterdir() if p.is_dir()):
        pool += sorted(read_app_files(app).items())
    return pool


DEEP = "/".join(["d"] * 60)
DISCOVERY_NAMES = ["Dockerfile", "package.json", ".github/workflows/ci.yml", ".gitlab-ci.yml", "pom.xml", "go.mod",
                   "requirements.txt", "pyproject.toml", "chart/Chart.yaml", "chart/values.yaml", "Jenkinsfile",
                   "azure-pipelines.yml", "kustomization.yaml", "app/App.csproj", "build.gradle", ".tekton/p.yaml",
                   "argocd/app.yaml", "sonar-project.properties", ".trustacks/profile.yaml", f"{DEEP}/Dockerfile",
                   "svc/a/b/c/docker-compose.yml", "..weird/ x.yml"]


def _tree_files(data: st.DataObject, pool: list[tuple[str, str]]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for _ in range(data.draw(st.integers(1, 8), label="files")):
        kind = data.draw(st.sampled_from(["real", "real", "real", "hostile", "bytes", "huge"]), label="file kind")
        if kind == "real":
            path, text = data.draw(st.sampled_from(pool), label="real file")
            if data.draw(st.booleans(), label="move"):
                path = data.draw(st.sampled_from(DISCOVERY_NAMES), label="moved to")
            files[path] = corrupt(data, text).encode("utf-8", "surrogatepass")
        else:
            path = data.draw(st.sampled_from(DISCOVERY_NAMES), label="path")
            if kind == "hostile":
                files[path] = data.draw(HOSTILE_TEXT, label="hostile").encode()
            elif kind == "bytes":
                files[path] = data.draw(INVALID_BYTES, label="bytes")
            else:
                files[path] = b"# " + b"x" * 70_000 + b"\n"
    return files


def _check_result(result: Any, paths: set[str]) -> None:
    crashed = [s for s in result.skipped if s[0].startswith("<detector")]
    assert crashed == [], f"a detector crashed: {crashed}"
    assert result.complete, "discovery ran out of time"
    for finding in result.findings:
        for evidence in finding.evidence:
            assert str(evidence).split(":")[0] in paths, f"evidence outside the tree: {evidence}"


@pytest.mark.heavy
def test_discover_survives_hostile_trees(budget, app_files):
    @budget.settings()
    @given(st.data())
    def check(data):
        files = _tree_files(data, app_files)
        tree = MemoryTree(files, max_file_bytes=64 * 1024)
        _check_result(discover(tree, repo="acme/fuzz", max_seconds=60), set(tree.paths()))

    with bounded_memory(peak_mb=250, retained_mb=30, cases=budget.cases):
        check()


@pytest.mark.heavy
def test_discover_on_disk_never_follows_symlinks(budget, app_files, tmp_path):
    """The same on a real directory with symlinks out of the repo, in loops, to devices, and dangling."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM python:3.12\n")
    (outside / "workflows").mkdir()
    (outside / "workflows" / "ci.yml").write_text("on: push\njobs: {a: {runs-on: x, steps: [{uses: "
                                                  "aquasecurity/trivy-action@0.24.0}]}}\n")
    links = [(outside / "Dockerfile", "Dockerfile"), (outside / "workflows", ".github/workflows"),
             (Path("/etc/passwd"), "requirements.txt"), (Path("/dev/zero"), "package.json"),
             (Path("."), "loop/self"), (Path("missing"), "go.mod"), (Path(".."), "chart/up")]

    @budget.settings(max(20, budget.cases // 10))
    @given(st.data())
    def check(data):
        repo = tmp_path / uuid.uuid4().hex[:10]
        try:
            for path, content in _tree_files(data, app_files).items():
                target = repo / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            for source, name in data.draw(st.lists(st.sampled_from(links), max_size=4, unique=True), label="links"):
                link = repo / name
                link.parent.mkdir(parents=True, exist_ok=True)
                if not os.path.lexists(link):
                    os.symlink(source, link)
            tree = DirTree(repo, max_file_bytes=64 * 1024)
            paths = set(tree.paths())
            for path in paths:
                assert not (repo / path).is_symlink(), f"a symlink was listed: {path}"
            _check_result(discover(tree, repo="acme/disk", max_seconds=60), paths)
        finally:
            shutil.rmtree(repo, ignore_errors=True)

    check()


# ====================================================================== policy bundles


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("bundle")
    private, public = keys.generate_keypair()
    other_private, _ = keys.generate_keypair()
    rules = default_rules_dir()
    out = build_layer_bundle({"trustacks/constitution": rules / "constitution", "trustacks/lib": rules / "lib"},
                             revision="1.0.0", out=tmp / "c.tar.gz")
    sign_bundle(out, private_key_pem=private)
    data = out.read_bytes()
    verified = verify_bundle_bytes(data, public_key_pem=public)
    return {"bytes": data, "public": public, "other_private": other_private, "files": verified.files, "tmp": tmp}


def _members(data: bytes) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]  # type: ignore[union-attr]


def _pack(members: list[tuple[tarfile.TarInfo, bytes | None]], *, compress: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w") as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buf.getvalue()


HOSTILE_NAMES = st.sampled_from(["../../etc/passwd", "/abs/x.rego", "trustacks/constitution/../overlay/x.rego",
                                 "trustacks/overlay/x.rego", "trustacks/constitution/x.rego", ".manifest",
                                 ".signatures.json", "trustacks/constitution/data.json", "./.manifest",
                                 "trustacks\\constitution\\y.rego", "trustacks/constitution/\x00.rego",
                                 "trustacks/constitution/a.rego/", "x" * 300])


def _hostile_bundle(data: st.DataObject, signed: dict[str, Any]) -> bytes:
    original: bytes = signed["bytes"]
    how = data.draw(st.sampled_from(["flip", "truncate", "append", "member", "member", "replace", "resign", "gzip"]),
                    label="how")
    if how == "flip":
        buf = bytearray(original)
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            buf[data.draw(st.integers(0, len(buf) - 1), label="at")] ^= data.draw(st.integers(1, 255), label="xor")
        return bytes(buf)
    if how == "truncate":
        return original[: data.draw(st.integers(0, len(original) - 1), label="cut")]
    if how == "append":
        return original + data.draw(st.binary(min_size=1, max_size=600), label="tail")
    members = _members(original)
    if how == "gzip":
        return _pack(members, compress=False)  # a plain tar where a tarball is expected
    if how == "replace":
        i = data.draw(st.integers(0, len(members) - 1), label="member")
        info, content = members[i]
        new = (content or b"") + data.draw(st.binary(min_size=1, max_size=40), label="added bytes")
        info = copy_info(info, size=len(new))
        members[i] = (info, new)
        return _pack(members)
    if how == "resign":
        # the same files, signed by a key that is not the pinned one (and, sometimes, with a file added)
        tmp = signed["tmp"] / uuid.uuid4().hex[:8]
        tmp.mkdir()
        plain = [(i, c) for i, c in members if i.name != ".signatures.json"]
        if data.draw(st.booleans(), label="add a file"):
            plain.append((tarfile.TarInfo("trustacks/constitution/zz.rego"), b"package trustacks.constitution.zz\n"))
            plain[-1][0].size = len(plain[-1][1] or b"")
        path = tmp / "b.tar.gz"
        path.write_bytes(_pack(plain))
        try:
            sign_bundle(path, private_key_pem=signed["other_private"])
        except BundleError:
            pass
        return path.read_bytes()
    # add or retype a member
    info = tarfile.TarInfo(data.draw(HOSTILE_NAMES, label="name"))
    kind = data.draw(st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
                                      tarfile.FIFOTYPE, tarfile.DIRTYPE]), label="type")
    info.type = kind
    content: bytes | None = None
    if kind == tarfile.REGTYPE:
        content = data.draw(st.one_of(st.binary(max_size=200), st.just(b'{"a": 1, "a": 2}'),
                                      st.just(b"package trustacks.constitution.evil\ndeny := set()\n")), label="content")
        info.size = len(content)
    else:
        info.linkname = data.draw(st.sampled_from(["/etc/passwd", "../x", ".manifest", "trustacks/lib/util.rego"]),
                                  label="link")
    members.insert(data.draw(st.integers(0, len(members)), label="position"), (info, content))
    return _pack(members)


def copy_info(info: tarfile.TarInfo, **changes: Any) -> tarfile.TarInfo:
    new = tarfile.TarInfo(info.name)
    for attr in ("mode", "mtime", "type", "linkname", "uid", "gid", "uname", "gname", "size"):
        setattr(new, attr, getattr(info, attr))
    for attr, value in changes.items():
        setattr(new, attr, value)
    return new


def _same_content(name: str, a: bytes, b: bytes) -> bool:
    if name.endswith(".json"):
        return json.loads(a) == json.loads(b)  # the signature covers the JSON value, not its formatting
    return a == b


@pytest.mark.heavy
def test_bundle_verification_refuses_every_change(budget, signed_bundle):
    @budget.settings()
    @given(st.data())
    def check(data):
        blob = _hostile_bundle(data, signed_bundle)
        try:
            verified = verify_bundle_bytes(blob, public_key_pem=signed_bundle["public"])
        except BundleError as exc:
            assert str(exc)
            return
        # it verified: then it must be exactly what was signed
        original = signed_bundle["files"]
        assert set(verified.files) == set(original), "a bundle with other files verified"
        for name, content in verified.files.items():
            assert _same_content(name, content, original[name]), f"{name} changed but the bundle verified"

    with bounded_memory(peak_mb=200, retained_mb=30, cases=budget.cases):
        check()


# ====================================================================== overlay Rego

REGO_FRAGMENTS = [
    "package trustacks.overlay.acme", "package trustacks.overlay", "package trustacks.constitution.pr_required",
    "package trustacks", 'package trustacks["overlay.acme"]', "package trustacks.overlay.ａcme", "package data",
    "package trustacks.lib.util", "import rego.v1", "import data.trustacks.lib.util", "import input as i",
    "import data.trustacks.constitution as c",
    'metadata := {"id": "ACME-001", "title": "t", "severity": "low", "description": "d", "remediation": "r"}',
    'metadata := {"id": "TS-PROF-002", "title": "t", "severity": "low", "description": "d", "remediation": "r"}',
    'deny contains "x" if { input.a == 1 }', 'deny contains util.violation(metadata, "m", []) if { true }',
    "default allow := true", "allow if { true }", "constitution.pr_required.deny := set()",
    "constitution.required_tooling.missing := set()", 'x := http.send({"method": "get", "url": "http://e.invalid"})',
    "y := opa.runtime()", "t := time.now_ns()", "r := rand.intn(\"k\", 9)", 'p := print("x")',
    "test_x if { deny with input as {} }", "deny contains \"y\" if { data.trustacks.constitution with input as {} }",
    "warn contains m if { some m in data.trustacks.constitution.required_tooling.missing }",
    "effective := {\"required_categories\": []}", "exceptions contains \"TS-PROF-002\"",
    'p := {"a": [[[[[[[[1]]]]]]]]}', "f(x) := y if { y := x }", "deny[msg] { msg := \"old syntax\" }",
    "# ignore the constitution", "ignore the constitution", "} } }", "{{{{", "\"unterminated",
]


#: fragments that weaken an upper layer or reach the world: an overlay holding one must never lint clean
WEAKENING = {"constitution.pr_required.deny := set()", "constitution.required_tooling.missing := set()",
             'x := http.send({"method": "get", "url": "http://e.invalid"})', "y := opa.runtime()",
             "t := time.now_ns()", 'r := rand.intn("k", 9)', "package trustacks.constitution.pr_required",
             "package trustacks", "package data", "package trustacks.lib.util"}


def overlay_head(index: int) -> list[str]:
    return [f"package trustacks.overlay.acme{index}", "import rego.v1", "import data.trustacks.lib.util",
            f'metadata := {{"id": "ACME-00{index}", "title": "t", "severity": "low", "description": "d", '
            '"remediation": "r"}', 'deny contains util.violation(metadata, "acme says no", []) if { input.nope }']


def overlay_text(data: st.DataObject, index: int = 0) -> str:
    """Mostly a well-formed overlay with a few tricks in its rules (so it gets past the parser), else any mix."""
    lines = data.draw(st.lists(st.sampled_from(REGO_FRAGMENTS), min_size=1, max_size=8), label="fragments")
    if data.draw(st.integers(0, 3), label="well formed") > 0:
        lines = overlay_head(index) + [line for line in lines if not line.startswith(("package", "import", "metadata"))]
    if data.draw(st.integers(0, 3), label="corrupt") == 0:
        return corrupt(data, "\n".join(lines))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def upper():
    return load_upper(packs=("soc2",))


@pytest.mark.heavy
def test_overlay_lint_reports_and_never_fails(budget, upper):
    """Each case starts the linter's parse child (and, for overlays that get that far, the tests child)."""

    @budget.settings(budget.process_cases)
    @given(st.data())
    def check(data):
        files: dict[str, bytes] = {}
        for i in range(data.draw(st.integers(1, 3), label="files")):
            name = data.draw(st.sampled_from([f"o{i}.rego", f"o{i}_test.rego", "params.json", "waivers.yaml",
                                              "lib/data.json", "../escape.rego"]), label="name")
            if name.endswith(".rego"):
                raw = overlay_text(data, i).encode("utf-8", "surrogatepass")
                files[name] = raw + (data.draw(INVALID_BYTES, label="bad bytes") if data.draw(
                    st.integers(0, 9), label="invalid utf-8") == 0 else b"")
            elif name == "params.json":
                files[name] = data.draw(st.sampled_from([b'{"vuln_fail_at": "low"}', b'{"vuln_fail_at": "none"}',
                                                         b'{"required_categories": []}', b"{", b"[]",
                                                         b'{"min_approvals": 0}']), label="params")
            elif name == "waivers.yaml":
                files[name] = data.draw(st.sampled_from([b"- rule: TS-PROF-002\n  until: 2099-01-01\n", b": :\n",
                                                         b"a: &a [*a]\n"]), label="waivers")
            else:
                files[name] = b'{"trustacks": {"effective": {"required_categories": []}}}'
        report = lint_overlay_files(files, upper=upper)
        assert isinstance(report, LintReport)
        for v in report.violations:
            assert v.file and v.message
        lines = {line.strip() for name, f in files.items() if name.endswith(".rego")
                 for line in f.decode("utf-8", "replace").splitlines()}
        if lines & WEAKENING:
            assert not report.ok, f"the linter passed an overlay that weakens the constitution: {files}"

    check()


@pytest.fixture(scope="module")
def constitution():
    """Upper layers read once, and what the constitution denies on a clearly bad generation proposal."""
    rules = default_rules_dir()
    sources = (_read_dir(rules / "lib", layer="lib", pack=None, prefix="lib")
               + _read_dir(rules / "constitution", layer="constitution", pack=None, prefix="constitution"))
    params = [read_params(rules / "constitution" / "params.json", layer="constitution")]
    bad = Proposal(kind=ProposalKind.GENERATE, repo="acme/app", base_branch="main", head_branch="main", title="t",
                   summary="s", files=[FileChange(path=".github/workflows/ci.yml", new=(
                       "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    env:\n      AWS_SECRET_ACCESS_KEY: "
                       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n    steps:\n      - run: echo hi\n"))])
    baseline = PolicyEngine.from_sources(sources, layer_params=params, isolate=False)
    denied = {v.rule for v in baseline.evaluate(bad, None).deny}
    assert {"TS-PROF-002", "TS-CRED-001", "TS-PROC-001"} <= denied
    return {"sources": sources, "params": params, "bad": bad, "denied": denied}


@pytest.mark.heavy
def test_engine_load_refuses_or_keeps_every_constitution_denial(budget, constitution):
    """The engine's own checks on an overlay, behind the linter: `PolicyEngine.load(overlay_dir=...)` runs the
    ratchet linter first, then compiles with these same `from_sources` checks (in process here)."""

    @budget.settings()
    @given(st.data())
    def check(data):
        overlay = [Source(path=f"overlay/o{i}.rego", text=overlay_text(data, i), layer="overlay")
                   for i in range(data.draw(st.integers(1, 2), label="files"))]
        try:
            engine = PolicyEngine.from_sources(constitution["sources"] + overlay, layer_params=constitution["params"],
                                               isolate=False)
        except PolicyError as exc:
            assert str(exc)
            return
        denied = {v.rule for v in engine.evaluate(constitution["bad"], None).deny}
        missing = constitution["denied"] - denied
        assert not missing, f"an overlay that loads silenced constitution rules {sorted(missing)}: " \
                            f"{[s.text for s in overlay]}"

    with bounded_memory(peak_mb=300, retained_mb=60, cases=budget.cases):
        check()


# ====================================================================== no memory kept per input


def test_engines_keep_no_memory_per_input(app_files, constitution):
    """Without hypothesis' own bookkeeping: many inputs through each engine, and nothing stays behind."""
    import random

    rng = random.Random(20261123)
    hostile = list(HOSTILE_TEXT.elements)  # type: ignore[attr-defined]

    def comment() -> str:
        return "\n".join(rng.choice(["/trustacks ", "", " /trustacks "]) + " ".join(
            rng.choice(REAL_WORDS) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 6)))

    def tree() -> MemoryTree:
        files = {}
        for _ in range(rng.randint(1, 6)):
            path, text = rng.choice(app_files)
            files[rng.choice(DISCOVERY_NAMES) if rng.random() < 0.5 else path] = \
                rng.choice(hostile) if rng.random() < 0.3 else text
        return MemoryTree(files, max_file_bytes=64 * 1024)

    overlay = "\n".join(overlay_head(0)) + '\ndeny contains "x" if { input.a == 1 }\n'

    def load() -> None:
        PolicyEngine.from_sources(constitution["sources"] + [Source(path="overlay/o0.rego", text=overlay, layer="overlay")],
                                  layer_params=constitution["params"], isolate=False).close()

    for _ in range(50):  # warm caches (regexes, compiled schemas, imports)
        parse(comment())
        discover(tree(), repo="acme/leak")
        load()
    with bounded_memory(peak_mb=40, retained_mb=1, traced=True):
        for _ in range(2000):
            parse(comment())
        for _ in range(300):
            discover(tree(), repo="acme/leak")
    with bounded_memory(peak_mb=100, retained_mb=8):  # RSS: the Rego engine's native memory
        for _ in range(60):
            load()
