"""Signed policy bundles: build, sign and verify OPA-format tarballs before anything is evaluated.

Owns the bundle file format (DESIGN.md §3 "Bundles"), following OPA's specification:
https://www.openpolicyagent.org/docs/management-bundles#bundle-file-format and
https://www.openpolicyagent.org/docs/management-bundles#signing

- A bundle is a gzipped tar of `.manifest` (`revision`, `roots`), `.rego` files and `data.json` files,
  plus each layer's `params.json` (the engine's parameters; OPA itself ignores the file).
  A `data.json` at directory `a/b/` holds `data.a.b` (OPA's rule). `build_bundle` mounts a layer
  directory (whose `data.json` is layer-relative, as in `rules/constitution/`) under its root.
- `.signatures.json` is `{"signatures": ["<JWT>"]}`; the JWT header carries `alg` and `kid`, the payload
  `{"files": [{"name", "hash", "algorithm": "SHA-256"}], "iat", "iss"}`. JSON files (`.manifest`,
  `data.json`) are hashed over OPA's canonical form (keys sorted, no whitespace), others byte for byte.
- `verify_bundle` refuses, before returning a single byte to the caller: a missing, malformed or
  wrongly keyed signature; a file changed, added or removed after signing; a tar entry with an
  absolute path, `..`, a link, a device, a duplicate name or an unexpected file type; a bundle or member
  over the size limits; data outside the bundle's roots; a revision other than the pinned one.
- `check_roots_disjoint` refuses layers whose roots overlap (regorus lets a later layer silently
  replace an earlier one's rules or data, DESIGN.md §7).
- The constitution is pinned (`ConstitutionPin`, a small JSON file); `upgrade_kind` classifies an
  explicit upgrade so a major one can be reported before it is accepted.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import io
import json
import os
import posixpath
import re
import stat
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import jwt

from bot.policy import keys

MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
DATA_FILE = "data.json"
#: a layer's parameters (bot/policy/params.py); carried and signed, hashed byte for byte
PARAMS_FILE = "params.json"
HASH_ALGORITHM = "SHA-256"
CONSTITUTION_ROOT = "trustacks/constitution"
LIB_ROOT = "trustacks/lib"

#: the whole bundle, compressed and unpacked, may not exceed this (a gzip bomb stops here)
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: any one member
DEFAULT_MAX_MEMBER_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_MEMBERS = 4096

_BAD_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_ROOT_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class BundleError(ValueError):
    """The bundle is refused; the message says what is wrong and nothing from it was used."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose every file matched its signature. `files` excludes `.signatures.json`."""

    files: dict[str, bytes]
    manifest: dict[str, Any]
    revision: str
    roots: list[str]
    key_id: str = ""

    def policies(self) -> dict[str, str]:
        """The `.rego` files by bundle path (UTF-8 was checked at verification)."""
        return {name: data.decode("utf-8") for name, data in sorted(self.files.items()) if name.endswith(".rego")}

    def data_document(self) -> dict[str, Any]:
        """All `data.json` files merged at their directory paths, as OPA loads them."""
        return _merge_data(self.files)

    def layer_files(self, root: str | None = None) -> dict[str, bytes]:
        """Files under `root` (default: the only root), relative to it: a `rules/<layer>/` directory."""
        prefix = "/".join(root_segments(root if root is not None else _single_root(self.roots)))
        return {name[len(prefix) + 1 :]: data for name, data in self.files.items() if name.startswith(prefix + "/")}


@dataclass(frozen=True)
class ConstitutionPin:
    """The constitution revision (and optionally the exact bundle digest) the runtime accepts."""

    revision: str
    bundle_sha256: str = ""
    key_fingerprint: str = ""

    def dumps(self) -> str:
        return json.dumps(
            {"revision": self.revision, "bundle_sha256": self.bundle_sha256, "key_fingerprint": self.key_fingerprint},
            indent=2,
            sort_keys=True,
        ) + "\n"

    @classmethod
    def of(cls, bundle_path: Path, *, public_key_pem: bytes, revision: str) -> "ConstitutionPin":
        """The full pin of a constitution bundle file: revision, file digest and signing key fingerprint."""
        return cls(revision=revision, bundle_sha256=sha256_file(bundle_path),
                   key_fingerprint=keys.fingerprint(public_key_pem))

    @classmethod
    def loads(cls, text: str) -> "ConstitutionPin":
        try:
            raw = json.loads(text)
            pin = cls(
                revision=str(raw["revision"]),
                bundle_sha256=str(raw.get("bundle_sha256", "")),
                key_fingerprint=str(raw.get("key_fingerprint", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"constitution pin is not valid JSON with a revision: {exc}") from None
        parse_semver(pin.revision)
        return pin


@dataclass
class _Reading:
    files: dict[str, bytes] = field(default_factory=dict)
    signatures: bytes | None = None


# --------------------------------------------------------------------------- roots


def root_segments(root: str) -> tuple[str, ...]:
    """`trustacks/constitution` or `trustacks.constitution` -> ("trustacks", "constitution")."""
    if not isinstance(root, str) or not root.strip("/."):
        raise BundleError(f"invalid bundle root {root!r}: a layer must name a non-empty root")
    sep = "/" if "/" in root else "."
    segs = tuple(root.strip(sep).split(sep))
    for seg in segs:
        if not _ROOT_SEGMENT.match(seg):
            raise BundleError(f"invalid bundle root {root!r}: segment {seg!r} must be ASCII letters, digits, _ or -")
    return segs


def normalize_root(root: str) -> str:
    return "/".join(root_segments(root))


def roots_overlap(a: str, b: str) -> bool:
    """True when one root is a segment-wise prefix of the other (or they are equal)."""
    sa, sb = root_segments(a), root_segments(b)
    n = min(len(sa), len(sb))
    return sa[:n] == sb[:n]


def check_roots_disjoint(bundles: Mapping[str, VerifiedBundle] | Iterable[VerifiedBundle]) -> None:
    """Refuse layers whose roots overlap: one layer could then replace another's rules or data."""
    items = list(bundles.items()) if isinstance(bundles, Mapping) else [(b.revision, b) for b in bundles]
    seen: list[tuple[str, str]] = []
    for label, bundle in items:
        for root in bundle.roots:
            for other_label, other_root in seen:
                if roots_overlap(root, other_root):
                    raise BundleError(
                        f"bundle {label!r} root {root!r} overlaps bundle {other_label!r} root {other_root!r}; "
                        "each layer must own a disjoint root"
                    )
        seen.extend((label, r) for r in bundle.roots)


def _single_root(roots: list[str]) -> str:
    if len(roots) != 1:
        raise BundleError(f"bundle has {len(roots)} roots; name the root to use")
    return roots[0]


def _check_roots(roots: list[Any]) -> list[str]:
    if not isinstance(roots, list) or not roots:
        raise BundleError("manifest must list at least one root (a bundle without roots claims all of data)")
    normalized = [normalize_root(r) if isinstance(r, str) else _bad_root(r) for r in roots]
    for i, a in enumerate(normalized):
        for b in normalized[i + 1 :]:
            if roots_overlap(a, b):
                raise BundleError(f"manifest roots {a!r} and {b!r} overlap")
    return normalized


def _bad_root(r: Any) -> str:
    raise BundleError(f"manifest root {r!r} is not a string")


# --------------------------------------------------------------------------- JSON, OPA's way


class _Number(str):
    """A JSON number kept as its literal text: OPA hashes numbers as written (json.Number)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Parsers disagree on which duplicate wins; a signed file must not be ambiguous.
            raise BundleError(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise BundleError(f"{name} is not valid JSON")


def parse_json_strict(data: bytes, *, what: str, keep_number_text: bool = False) -> Any:
    """Strict JSON: UTF-8, no BOM, no duplicate keys, no NaN/Infinity."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{what} is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise BundleError(f"{what} starts with a byte-order mark")
    kwargs: dict[str, Any] = {"object_pairs_hook": _no_duplicates, "parse_constant": _reject_constant}
    if keep_number_text:
        kwargs.update(parse_int=_Number, parse_float=_Number)
    try:
        return json.loads(text, **kwargs)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise BundleError(f"{what} is nested too deeply") from None


_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_string(s: str) -> bytes:
    """A string encoded as Go's encoding/json does with SetEscapeHTML(false)."""
    out = []
    for ch in s:
        esc = _GO_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    return ('"' + "".join(out) + '"').encode("utf-8")


def _walk(value: Any, h: Any) -> None:
    """OPA's bundle.walk: objects with sorted keys, arrays in order, primitives as Go encodes them."""
    if isinstance(value, dict):
        h.update(b"{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-8", "surrogatepass"))):
            if i:
                h.update(b",")
            h.update(_go_string(key))
            h.update(b":")
            _walk(value[key], h)
        h.update(b"}")
    elif isinstance(value, list):
        h.update(b"[")
        for i, item in enumerate(value):
            if i:
                h.update(b",")
            _walk(item, h)
        h.update(b"]")
    elif isinstance(value, _Number):
        h.update(str.__str__(value).encode("ascii"))
    elif value is True:
        h.update(b"true")
    elif value is False:
        h.update(b"false")
    elif value is None:
        h.update(b"null")
    else:
        h.update(_go_string(value))


def is_structured(name: str) -> bool:
    return posixpath.basename(name) in (DATA_FILE, MANIFEST, SIGNATURES)


def file_digest(name: str, data: bytes) -> str:
    """SHA-256 of a bundle file as OPA computes it for `.signatures.json`."""
    h = hashlib.sha256()
    if is_structured(name):
        _walk(parse_json_strict(data, what=name, keep_number_text=True), h)
    else:
        h.update(data)
    return h.hexdigest()


# --------------------------------------------------------------------------- data placement


def _dir_segments(name: str) -> tuple[str, ...]:
    d = posixpath.dirname(name)
    return tuple(d.split("/")) if d else ()


def _check_data_under_roots(path: tuple[str, ...], value: Any, roots: list[tuple[str, ...]], *, where: str) -> None:
    """Every leaf of a data document must sit under one of the bundle's roots (OPA enforces the same)."""
    for root in roots:
        if path[: len(root)] == root:
            return
    if any(root[: len(path)] == path for root in roots):
        if isinstance(value, dict):
            for key, sub in value.items():
                _check_data_under_roots((*path, key), sub, roots, where=where)
            return
    shown = "/".join(path) or "(data root)"
    raise BundleError(f"{where}: data at {shown!r} is outside the bundle roots {['/'.join(r) for r in roots]}")


def _merge_data(files: Mapping[str, bytes]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in sorted(files):
        if posixpath.basename(name) != DATA_FILE:
            continue
        value = parse_json_strict(files[name], what=name)
        _deep_set(merged, _dir_segments(name), value, where=name)
    return merged


def _deep_set(doc: dict[str, Any], path: tuple[str, ...], value: Any, *, where: str) -> None:
    node = doc
    for seg in path[:-1] if path else ():
        nxt = node.setdefault(seg, {})
        if not isinstance(nxt, dict):
            raise BundleError(f"{where}: data path {'/'.join(path)!r} collides with a value")
        node = nxt
    if not path:
        if not isinstance(value, dict):
            raise BundleError(f"{where}: a data.json at the bundle root must hold an object")
        _deep_merge(doc, value, where=where)
        return
    last = path[-1]
    if last in node:
        if not (isinstance(node[last], dict) and isinstance(value, dict)):
            raise BundleError(f"{where}: data path {'/'.join(path)!r} is defined twice")
        _deep_merge(node[last], value, where=where)
    else:
        node[last] = value


def _deep_merge(into: dict[str, Any], value: dict[str, Any], *, where: str) -> None:
    for key, sub in value.items():
        if key in into:
            if not (isinstance(into[key], dict) and isinstance(sub, dict)):
                raise BundleError(f"{where}: data key {key!r} is defined twice")
            _deep_merge(into[key], sub, where=where)
        else:
            into[key] = sub


# --------------------------------------------------------------------------- reading tarballs


class _Limited(io.RawIOBase):
    """A reader that fails once more than `limit` bytes have come out of the decompressor."""

    def __init__(self, inner: Any, limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._inner.read(min(len(buf), self._left + 1))
        if len(data) > self._left:
            raise BundleError("bundle is larger than the allowed size once unpacked")
        self._left -= len(data)
        buf[: len(data)] = data
        return len(data)


def _member_name(raw: str) -> str:
    if not raw or _BAD_NAME_CHARS.search(raw):
        raise BundleError(f"tar entry {raw!r} has an invalid name")
    if raw.startswith("/"):
        raise BundleError(f"tar entry {raw!r} has an absolute path")
    name = raw[2:] if raw.startswith("./") else raw
    name = name.rstrip("/")
    segs = name.split("/")
    if ".." in segs:
        raise BundleError(f"tar entry {raw!r} contains '..'")
    if not name or any(s in ("", ".") for s in segs) or (len(name) > 1 and name[1] == ":"):
        raise BundleError(f"tar entry {raw!r} is not a normalized relative path")
    return name


def _allowed_file(name: str) -> bool:
    if name in (MANIFEST, SIGNATURES):
        return True
    base = posixpath.basename(name)
    return base in (DATA_FILE, PARAMS_FILE) or (base.endswith(".rego") and not base.startswith("."))


def read_bundle_bytes(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The compressed bundle, read once (so what is hashed for the pin is what is verified)."""
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BundleError(f"cannot open bundle {path}: {exc.strerror}") from None
    with fh:
        st = os.fstat(fh.fileno())
        if not _is_regular(st.st_mode):
            raise BundleError(f"bundle {path} is not a regular file")
        if st.st_size > max_bytes:
            raise BundleError(f"bundle is {st.st_size} bytes, over the {max_bytes}-byte limit")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BundleError(f"bundle is over the {max_bytes}-byte limit")
    return data


def _read_tarball(
    data: bytes, *, max_bytes: int, max_member_bytes: int, max_members: int = DEFAULT_MAX_MEMBERS
) -> _Reading:
    """Read every member into memory, refusing anything that is not a plain, small, well-named file."""
    reading = _Reading()
    count = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as gz:
            stream = io.BufferedReader(_Limited(gz, max_bytes))
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    count += 1
                    if count > max_members:
                        raise BundleError(f"bundle has more than {max_members} entries")
                    _take_member(tar, member, reading, max_member_bytes=max_member_bytes)
    except BundleError:
        raise
    except (tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError, OSError) as exc:
        raise BundleError(f"bundle is not a readable .tar.gz: {exc}") from None
    return reading


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


def _take_member(tar: tarfile.TarFile, member: tarfile.TarInfo, reading: _Reading, *, max_member_bytes: int) -> None:
    if member.issym() or member.islnk():
        raise BundleError(f"tar entry {member.name!r} is a link; links are not allowed")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise BundleError(f"tar entry {member.name!r} is a device or FIFO; only plain files are allowed")
    name = _member_name(member.name)
    if member.isdir():
        return
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        raise BundleError(f"tar entry {member.name!r} has unsupported type {member.type!r}")
    if not _allowed_file(name):
        raise BundleError(f"tar entry {name!r} is not a .manifest, .rego, data.json, params.json or .signatures.json file")
    if member.size > max_member_bytes:
        raise BundleError(f"tar entry {name!r} is {member.size} bytes, over the {max_member_bytes}-byte limit")
    if name in reading.files or (name == SIGNATURES and reading.signatures is not None):
        raise BundleError(f"tar entry {name!r} appears twice")
    extracted = tar.extractfile(member)
    data = extracted.read(max_member_bytes + 1) if extracted is not None else b""
    if len(data) != member.size:
        raise BundleError(f"tar entry {name!r} is truncated")
    if name == SIGNATURES:
        reading.signatures = data
    else:
        reading.files[name] = data


# --------------------------------------------------------------------------- writing tarballs


def _write_tarball(out: Path, files: Mapping[str, bytes]) -> None:
    """Deterministic tar.gz (sorted names, zero times and owners), written atomically."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bundle-", suffix=".tar.gz", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name in sorted(files, key=lambda n: (n not in (MANIFEST, SIGNATURES), n)):
                    data = files[name]
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    info.mode = 0o644
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- build / sign / verify


def _check_revision(revision: Any) -> str:
    if not isinstance(revision, str) or not revision or len(revision) > 128 or not revision.isprintable() or revision.strip() != revision:
        raise BundleError(f"invalid revision {revision!r}: a non-empty printable string without surrounding spaces")
    return revision


def _collect_layer(src_dir: Path, *, max_member_bytes: int) -> dict[str, bytes]:
    """The `.rego` and `data.json` files of a layer directory; a symlink anywhere is refused."""
    src_dir = Path(src_dir)
    if src_dir.is_symlink() or not src_dir.is_dir():
        raise BundleError(f"{src_dir} is not a directory")
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(src_dir, followlinks=False):
        rel_dir = Path(dirpath).relative_to(src_dir)
        for d in list(dirnames):
            if (Path(dirpath) / d).is_symlink():
                raise BundleError(f"{rel_dir / d} is a symlink; bundle sources must be plain files")
            if d.startswith("."):
                dirnames.remove(d)
        dirnames.sort()
        for f in sorted(filenames):
            full = Path(dirpath) / f
            rel = (rel_dir / f).as_posix()
            if full.is_symlink():
                raise BundleError(f"{rel} is a symlink; bundle sources must be plain files")
            if not (f in (DATA_FILE, PARAMS_FILE) or (f.endswith(".rego") and not f.startswith("."))):
                continue
            if full.stat().st_size > max_member_bytes:
                raise BundleError(f"{rel} is over the {max_member_bytes}-byte member limit")
            files[rel] = full.read_bytes()
    return files


def build_bundle(
    src_dir: Path,
    *,
    revision: str,
    roots: list[str],
    out: Path,
    mount: str | None = None,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
) -> Path:
    """Pack a layer directory as an unsigned OPA bundle and return `out`.

    `mount` is where the directory's files go inside the bundle: by default the bundle's only root,
    so `rules/constitution/data.json` becomes `trustacks/constitution/data.json` (= data.trustacks.
    constitution); pass `mount=""` for a directory already laid out from the data root.
    """
    revision = _check_revision(revision)
    norm_roots = _check_roots(list(roots))
    if mount is None:
        mount = norm_roots[0] if len(norm_roots) == 1 else ""
    prefix = "/".join(root_segments(mount)) + "/" if mount else ""
    layer = _collect_layer(Path(src_dir), max_member_bytes=max_member_bytes)
    files = {prefix + name: data for name, data in layer.items()}
    for name, data in files.items():
        if name.endswith(".rego"):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleError(f"{name} is not UTF-8") from None
    manifest = {"revision": revision, "roots": norm_roots}
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    _check_contents(files, norm_roots)
    _write_tarball(Path(out), files)
    return Path(out)


def build_layer_bundle(
    layers: Mapping[str, Path],
    *,
    revision: str,
    out: Path,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
) -> Path:
    """Pack several layer directories, each mounted under its own root, as one unsigned bundle.

    The constitution ships this way with the helpers it calls:
    `{"trustacks/constitution": rules/constitution, "trustacks/lib": rules/lib}`.
    """
    revision = _check_revision(revision)
    norm_roots = _check_roots(list(layers))
    files: dict[str, bytes] = {}
    for root, directory in zip(norm_roots, layers.values()):
        for name, data in _collect_layer(Path(directory), max_member_bytes=max_member_bytes).items():
            files[f"{root}/{name}"] = data
    files[MANIFEST] = (json.dumps({"revision": revision, "roots": norm_roots}, indent=2, sort_keys=True) + "\n").encode("utf-8")
    _check_contents(files, norm_roots)
    _write_tarball(Path(out), files)
    return Path(out)


def layer_dir_name(root: str) -> str:
    """Where a root's files live in a rules directory: trustacks/packs/soc2 -> packs/soc2."""
    segs = root_segments(root)
    if segs[0] != "trustacks" or len(segs) < 2:
        raise BundleError(f"root {root!r} is not a trustacks layer")
    return "/".join(segs[1:])


def extract_layers(bundle: VerifiedBundle, dest: Path) -> Path:
    """Write a verified bundle's layers as a rules directory (`dest/constitution/...`) for the engine.

    Only call this on a `VerifiedBundle`: the files were checked against the signature, and every
    name was validated (no absolute paths, no `..`) when the tarball was read.
    """
    dest = Path(dest)
    for root in bundle.roots:
        target = dest / layer_dir_name(root)
        for name, data in bundle.layer_files(root).items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return dest


@dataclass(frozen=True)
class SignedRules:
    """Layers that went through build -> sign -> verify -> extract, ready for `PolicyEngine.load`."""

    rules_dir: Path
    bundles: dict[str, VerifiedBundle]  # "constitution", "packs/<name>" -> verified bundle
    public_key_pem: bytes

    @property
    def revisions(self) -> dict[str, str]:
        return {name: vb.revision for name, vb in self.bundles.items()}


def build_verified_rules(
    rules_dir: Path,
    *,
    workdir: Path,
    revision: str,
    packs: Iterable[str] = (),
    private_key_pem: bytes | None = None,
    public_key_pem: bytes | None = None,
) -> SignedRules:
    """Bundle the constitution (with lib) and each pack, sign, verify, check roots, extract.

    What the demo and tests run before evaluating anything: the engine then loads only bytes that
    verified. Without a key pair a fresh one is generated (the demo's self-signed setup); in
    production the private key never reaches the bot, which only calls `verify_bundle`.
    """
    rules_dir, workdir = Path(rules_dir), Path(workdir)
    if private_key_pem is None:
        private_key_pem, public_key_pem = keys.generate_keypair()
    elif public_key_pem is None:
        public_key_pem = keys.public_pem_of(keys.load_private_key(private_key_pem))
    plan: dict[str, dict[str, Path]] = {"constitution": {CONSTITUTION_ROOT: rules_dir / "constitution"}}
    if (rules_dir / "lib").is_dir():
        plan["constitution"][LIB_ROOT] = rules_dir / "lib"
    for pack in packs:
        plan[f"packs/{pack}"] = {f"trustacks/packs/{pack}": rules_dir / "packs" / pack}
    verified: dict[str, VerifiedBundle] = {}
    for name, layers in plan.items():
        out = workdir / "bundles" / (name.replace("/", "-") + ".tar.gz")
        build_layer_bundle(layers, revision=revision, out=out)
        sign_bundle(out, private_key_pem=private_key_pem)
        verified[name] = verify_bundle(out, public_key_pem=public_key_pem, expected_revision=revision)
    check_roots_disjoint(verified)
    extracted = workdir / "rules"
    for vb in verified.values():
        extract_layers(vb, extracted)
    return SignedRules(rules_dir=extracted, bundles=verified, public_key_pem=public_key_pem)


def _check_contents(files: Mapping[str, bytes], roots: list[str]) -> None:
    root_segs = [root_segments(r) for r in roots]
    for name, data in files.items():
        if posixpath.basename(name) == DATA_FILE:
            value = parse_json_strict(data, what=name)
            _check_data_under_roots(_dir_segments(name), value, root_segs, where=name)
        elif name.endswith(".rego"):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleError(f"{name} is not UTF-8") from None
    _merge_data(files)  # refuses two data.json files defining one path


def _parse_manifest(data: bytes) -> dict[str, Any]:
    manifest = parse_json_strict(data, what=MANIFEST)
    if not isinstance(manifest, dict):
        raise BundleError(".manifest must be a JSON object")
    _check_revision(manifest.get("revision"))
    manifest["roots"] = _check_roots(manifest.get("roots"))
    return manifest


def sign_bundle(
    path: Path,
    *,
    private_key_pem: bytes,
    key_id: str = "trustacks",
    issuer: str = "trustacks",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> None:
    """Add (or replace) `.signatures.json`: one ES256 JWT listing every file's SHA-256."""
    key = keys.load_private_key(private_key_pem)
    reading = _read_tarball(read_bundle_bytes(Path(path), max_bytes=max_bytes), max_bytes=max_bytes,
                            max_member_bytes=DEFAULT_MAX_MEMBER_BYTES)
    if MANIFEST not in reading.files:
        raise BundleError("bundle has no .manifest; build it with build_bundle first")
    manifest = _parse_manifest(reading.files[MANIFEST])
    _check_contents(reading.files, manifest["roots"])
    payload = {
        "files": [
            {"name": name, "hash": file_digest(name, data), "algorithm": HASH_ALGORITHM}
            for name, data in sorted(reading.files.items())
        ],
        "iat": int(time.time()),
        "iss": issuer,
    }
    token = jwt.encode(payload, key, algorithm=keys.ALGORITHM, headers={"kid": key_id})
    files = dict(reading.files)
    files[SIGNATURES] = (json.dumps({"signatures": [token]}, indent=2) + "\n").encode("utf-8")
    _write_tarball(Path(path), files)


def _jwt_header(token: str) -> dict[str, Any]:
    """The JOSE header alone (PyJWT's get_unverified_header would decode the whole token twice)."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise BundleError("signature is not a JWT (unreadable header)") from None
    if not isinstance(header, dict):
        raise BundleError("signature is not a JWT (header is not an object)")
    return header


def _signed_files(signatures: bytes, public_key_pem: bytes) -> tuple[dict[str, dict[str, Any]], str]:
    doc = parse_json_strict(signatures, what=SIGNATURES)
    if not isinstance(doc, dict) or not isinstance(doc.get("signatures"), list):
        raise BundleError('.signatures.json must be {"signatures": ["<JWT>"]}')
    tokens = doc["signatures"]
    if len(tokens) != 1 or not isinstance(tokens[0], str):
        raise BundleError(".signatures.json must hold exactly one JWT")
    token = tokens[0]
    key = keys.load_public_key(public_key_pem)
    header = _jwt_header(token)
    if header.get("alg") != keys.ALGORITHM:
        raise BundleError(f"signature algorithm {header.get('alg')!r} refused; only {keys.ALGORITHM} is accepted")
    try:
        claims = jwt.decode(token, key, algorithms=[keys.ALGORITHM], options={"verify_aud": False, "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise BundleError("bundle signature does not verify against the pinned public key (wrong key or tampered)") from None
    except jwt.PyJWTError as exc:
        raise BundleError(f"bundle signature refused: {exc}") from None
    if claims.get("scope") not in (None, ""):
        raise BundleError("signature carries a scope; scoped signatures are not accepted")
    entries = claims.get("files")
    if not isinstance(entries, list):
        raise BundleError("signature payload has no files list")
    signed: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(entry.get("hash"), str):
            raise BundleError("signature payload has a malformed file entry")
        name = entry["name"].lstrip("/")
        if name in signed:
            raise BundleError(f"signature lists {name!r} twice")
        signed[name] = entry
    return signed, str(header.get("kid", ""))


def verify_bundle(
    path: Path,
    *,
    public_key_pem: bytes,
    expected_revision: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
) -> VerifiedBundle:
    """Return the bundle's files only if every check passes; raise BundleError otherwise."""
    return verify_bundle_bytes(read_bundle_bytes(Path(path), max_bytes=max_bytes), public_key_pem=public_key_pem,
                               expected_revision=expected_revision, max_bytes=max_bytes, max_member_bytes=max_member_bytes)


def verify_bundle_bytes(
    data: bytes,
    *,
    public_key_pem: bytes,
    expected_revision: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
) -> VerifiedBundle:
    """`verify_bundle` on a tarball already in memory (e.g. downloaded, or read once for pinning)."""
    if len(data) > max_bytes:
        raise BundleError(f"bundle is {len(data)} bytes, over the {max_bytes}-byte limit")
    reading = _read_tarball(data, max_bytes=max_bytes, max_member_bytes=max_member_bytes)
    if reading.signatures is None:
        raise BundleError("bundle is unsigned (no .signatures.json); sign it with `trustacks bundle sign`")
    signed, kid = _signed_files(reading.signatures, public_key_pem)
    present, listed = set(reading.files), set(signed)
    if present - listed:
        raise BundleError(f"files added after signing: {sorted(present - listed)}")
    if listed - present:
        raise BundleError(f"files removed after signing: {sorted(listed - present)}")
    for name, content in sorted(reading.files.items()):
        entry = signed[name]
        if entry.get("algorithm") != HASH_ALGORITHM:
            raise BundleError(f"{name}: hash algorithm {entry.get('algorithm')!r} refused; only {HASH_ALGORITHM}")
        if not hmac.compare_digest(file_digest(name, content), entry["hash"].lower()):
            raise BundleError(f"{name}: content changed after signing (digest mismatch)")
    if MANIFEST not in reading.files:
        raise BundleError("bundle has no .manifest")
    manifest = _parse_manifest(reading.files[MANIFEST])
    _check_contents(reading.files, manifest["roots"])
    revision = manifest["revision"]
    if expected_revision is not None and revision != expected_revision:
        raise BundleError(f"bundle revision {revision!r} is not the pinned revision {expected_revision!r}")
    return VerifiedBundle(files=dict(reading.files), manifest=manifest, revision=revision, roots=list(manifest["roots"]), key_id=kid)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- the pinned constitution


def parse_semver(version: str) -> tuple[int, int, int, str]:
    m = _SEMVER.match(version or "")
    if not m:
        raise BundleError(f"constitution revision {version!r} is not semantic versioning (X.Y.Z)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4) or ""


def upgrade_kind(current: str, target: str) -> str:
    """"major", "minor", "patch", "prerelease", "same" or "downgrade" (refused by the CLI)."""
    a, b = parse_semver(current), parse_semver(target)
    if a == b:
        return "same"
    if b[:3] < a[:3] or (b[:3] == a[:3] and _pre_key(b[3]) < _pre_key(a[3])):
        return "downgrade"
    if b[0] != a[0]:
        return "major"
    if b[1] != a[1]:
        return "minor"
    if b[2] != a[2]:
        return "patch"
    return "prerelease"


def _pre_key(pre: str) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """Semver precedence for the pre-release part: a release sorts after any pre-release."""
    if not pre:
        return (1, ())
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (0, parts)  # type: ignore[return-value]


def verify_pinned_constitution(
    path: Path, *, public_key_pem: bytes, pin: ConstitutionPin, max_bytes: int = DEFAULT_MAX_BYTES
) -> VerifiedBundle:
    """Verify the constitution bundle against the pinned key, revision (and digest, when pinned)."""
    if pin.key_fingerprint and not hmac.compare_digest(keys.fingerprint(public_key_pem), pin.key_fingerprint):
        raise BundleError("the public key is not the one pinned for the constitution")
    data = read_bundle_bytes(Path(path), max_bytes=max_bytes)
    if pin.bundle_sha256 and not hmac.compare_digest(hashlib.sha256(data).hexdigest(), pin.bundle_sha256):
        raise BundleError(f"constitution bundle is not the pinned file (sha256 differs from {pin.bundle_sha256[:12]}…)")
    bundle = verify_bundle_bytes(data, public_key_pem=public_key_pem, expected_revision=pin.revision, max_bytes=max_bytes)
    if CONSTITUTION_ROOT not in bundle.roots or not set(bundle.roots) <= {CONSTITUTION_ROOT, LIB_ROOT}:
        raise BundleError(
            f"constitution bundle must have the root {CONSTITUTION_ROOT!r} (and optionally {LIB_ROOT!r}), not {bundle.roots}"
        )
    return bundle
