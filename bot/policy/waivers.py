"""Signed, time-bound waivers for pack and overlay rules (never constitution rules).

Owns the waiver file format (`.trustacks/waivers.yaml`, reviewed in a PR like any change):

```yaml
waivers:
  - rule: SOC2-CC6.1-002
    scope: {repo: acme/payments, path: "services/legacy/**"}
    reason: Legacy service; migration tracked in PAY-123
    approver: alice
    expires: 2026-12-31          # valid through this day (UTC), then ignored
    signature: eyJhbGciOiJFUzI1NiIs...   # detached ES256 JWS, kid = approver
```

The signature is a detached JWS (RFC 7515 appendix F) over the canonical JSON of every field above
except `signature`, plus a type tag so no other signed document can be replayed as a waiver. The
signing key is the approver's: the JWS `kid` must equal `approver`, and the verifier holds one public
key per approver, so naming someone else as approver does not verify.

`load_waivers` never raises for one bad waiver: an unsigned, wrongly signed, expired or malformed
waiver, or one for a constitution rule, is ignored and reported in `WaiverSet.rejected`, so the
decision (and the audit) can say which waivers did not apply and why.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping

import jwt
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.policy import keys

WAIVER_TYPE = "trustacks-waiver/v1"
#: rule ID prefixes that belong to the constitution (DESIGN.md §3: `TS-PROC-001` ...)
CONSTITUTION_PREFIXES: tuple[str, ...] = ("TS-",)
MAX_FILE_BYTES = 256 * 1024
MAX_TEXT = 2000
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class WaiverError(ValueError):
    """The waiver file as a whole is unusable (not YAML, wrong shape), or a waiver cannot be signed."""


@dataclass(frozen=True)
class Waiver:
    """One waiver. `expires` is the last day (UTC) on which it applies."""

    rule: str
    repo: str
    reason: str
    approver: str
    expires: dt.date
    path: str = "**"
    signature: str = ""
    line: int = 0  # 1-based line in the file it came from (0: not from a file)

    def payload(self) -> bytes:
        """The exact bytes the signature covers."""
        doc = {
            "type": WAIVER_TYPE,
            "rule": self.rule,
            "scope": {"repo": self.repo, "path": self.path},
            "reason": self.reason,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def is_expired(self, today: dt.date) -> bool:
        return today > self.expires

    def matches(self, rule: str, *, repo: str, paths: Iterable[str] = ()) -> bool:
        """True when this waiver covers `rule` in `repo` for every one of `paths`.

        A violation with no paths is covered only by a waiver whose path scope is everything (`**`).
        """
        if rule != self.rule or not glob_match(self.repo, repo):
            return False
        paths = list(paths)
        if not paths:
            return self.path == "**"
        return all(glob_match(self.path, p) for p in paths)

    def as_record(self) -> dict[str, Any]:
        """What the audit log keeps about an applied or rejected waiver."""
        return {"rule": self.rule, "repo": self.repo, "path": self.path, "approver": self.approver,
                "expires": self.expires.isoformat(), "reason": self.reason}

    def as_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "rule": self.rule,
            "scope": {"repo": self.repo, "path": self.path},
            "reason": self.reason,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
        }
        if self.signature:
            entry["signature"] = self.signature
        return entry


@dataclass(frozen=True)
class RejectedWaiver:
    """A waiver that does not apply, and why (reported, never silently dropped)."""

    reason: str
    line: int
    waiver: Waiver | None = None
    rule: str = ""


@dataclass
class WaiverSet:
    active: list[Waiver] = field(default_factory=list)
    rejected: list[RejectedWaiver] = field(default_factory=list)

    def find(self, rule: str, *, repo: str, paths: Iterable[str] = ()) -> Waiver | None:
        paths = list(paths)
        for waiver in self.active:
            if waiver.matches(rule, repo=repo, paths=paths):
                return waiver
        return None

    def report(self) -> list[str]:
        lines = [f"active: {w.rule} for {w.repo}:{w.path} until {w.expires} (approved by {w.approver})" for w in self.active]
        lines += [f"ignored (line {r.line}): {r.rule or '?'}: {r.reason}" for r in self.rejected]
        return lines


# --------------------------------------------------------------------------- globs


def glob_match(pattern: str, value: str) -> bool:
    """`*` and `?` stay inside one path segment; `**` crosses segments. Nothing else is special."""
    return _glob_regex(pattern).fullmatch(value) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


# --------------------------------------------------------------------------- checks


def is_constitution_rule(rule: str, *, constitution_rules: Collection[str] = (), prefixes: Iterable[str] = CONSTITUTION_PREFIXES) -> bool:
    return rule in constitution_rules or any(rule.upper().startswith(p.upper()) for p in prefixes)


def _verify_signature(waiver: Waiver, trusted_keys: Mapping[str, bytes]) -> str | None:
    """None when the signature is good; otherwise the reason it is not."""
    if not waiver.signature:
        return "unsigned: a waiver applies only once an approver signs it (`trustacks waiver sign`)"
    pem = trusted_keys.get(waiver.approver)
    if pem is None:
        return f"approver {waiver.approver!r} has no trusted key"
    try:
        header = jwt.get_unverified_header(waiver.signature)
    except jwt.PyJWTError:
        return "signature is not a JWS"
    if header.get("alg") != keys.ALGORITHM:
        return f"signature algorithm {header.get('alg')!r} refused; only {keys.ALGORITHM}"
    if header.get("kid") != waiver.approver:
        return "signature key id does not name the approver"
    try:
        jwt.api_jws.PyJWS().decode_complete(
            waiver.signature, keys.load_public_key(pem), algorithms=[keys.ALGORITHM], detached_payload=waiver.payload()
        )
    except (jwt.PyJWTError, keys.KeyFormatError):
        return "signature does not verify (edited after signing, or signed by another key)"
    return None


# --------------------------------------------------------------------------- files


def _text(entry: Mapping[str, Any], key: str, *, required: bool = True, default: str = "") -> str:
    value = entry.get(key, default)
    if value is None or value == "":
        if required:
            raise WaiverError(f"missing {key!r}")
        return default
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.strip():
        raise WaiverError(f"{key!r} must be a non-empty string of at most {MAX_TEXT} characters")
    return value.strip()


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WaiverError("'expires' must be a date (YYYY-MM-DD); every waiver must expire")


def waiver_from_entry(entry: Any, *, line: int = 0) -> Waiver:
    """Build a Waiver from one mapping of the file; WaiverError names the bad field."""
    if not isinstance(entry, Mapping):
        raise WaiverError("each waiver must be a mapping")
    rule = _text(entry, "rule")
    if not _RULE_ID.match(rule):
        raise WaiverError(f"rule {rule!r} is not a rule ID")
    scope = entry.get("scope")
    if not isinstance(scope, Mapping):
        raise WaiverError("missing 'scope' mapping with 'repo' (and optionally 'path')")
    if "expires" not in entry or entry["expires"] in (None, ""):
        raise WaiverError("missing 'expires': every waiver must expire")
    signature = entry.get("signature") or ""
    if not isinstance(signature, str):
        raise WaiverError("'signature' must be a string")
    return Waiver(
        rule=rule,
        repo=_text(scope, "repo"),
        path=_text(scope, "path", required=False, default="**"),
        reason=_text(entry, "reason"),
        approver=_text(entry, "approver"),
        expires=_date(entry["expires"]),
        signature=signature.strip(),
        line=line,
    )


def read_entries(source: str | bytes | Path) -> list[tuple[int, Any]]:
    """(line, raw mapping) for each waiver in a file, without judging them."""
    if isinstance(source, Path):
        if source.stat().st_size > MAX_FILE_BYTES:
            raise WaiverError(f"{source} is over {MAX_FILE_BYTES} bytes")
        text = source.read_text(encoding="utf-8")
    elif isinstance(source, bytes):
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            raise WaiverError("waiver file is not UTF-8") from None
    else:
        text = source
    if len(text) > MAX_FILE_BYTES:
        raise WaiverError(f"waiver file is over {MAX_FILE_BYTES} bytes")
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise WaiverError(f"waiver file is not valid YAML: {exc}") from None
    if doc is None:
        return []
    if not isinstance(doc, Mapping) or not isinstance(doc.get("waivers", []), list):
        raise WaiverError("waiver file must be a mapping with a 'waivers' list")
    items = doc.get("waivers") or []
    out = []
    for i, item in enumerate(items):
        try:
            line = items.lc.item(i)[0] + 1
        except (AttributeError, KeyError, TypeError):
            line = 0
        out.append((line, item))
    return out


def load_waivers(
    source: str | bytes | Path,
    *,
    trusted_keys: Mapping[str, bytes],
    today: dt.date | None = None,
    constitution_rules: Collection[str] = (),
    constitution_prefixes: Iterable[str] = CONSTITUTION_PREFIXES,
) -> WaiverSet:
    """Sort a waiver file into waivers that apply and waivers that are ignored (with the reason)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    prefixes = tuple(constitution_prefixes)
    result = WaiverSet()
    for line, entry in read_entries(source):
        try:
            waiver = waiver_from_entry(entry, line=line)
        except WaiverError as exc:
            rule = entry.get("rule", "") if isinstance(entry, Mapping) else ""
            result.rejected.append(RejectedWaiver(reason=f"malformed: {exc}", line=line, rule=str(rule)))
            continue
        if is_constitution_rule(waiver.rule, constitution_rules=constitution_rules, prefixes=prefixes):
            result.rejected.append(RejectedWaiver("constitution rules cannot be waived", line, waiver, waiver.rule))
            continue
        problem = _verify_signature(waiver, trusted_keys)
        if problem:
            result.rejected.append(RejectedWaiver(problem, line, waiver, waiver.rule))
            continue
        if waiver.is_expired(today):
            result.rejected.append(RejectedWaiver(f"expired on {waiver.expires.isoformat()}", line, waiver, waiver.rule))
            continue
        result.active.append(waiver)
    return result


def sign_waiver(
    waiver: Waiver,
    *,
    private_key_pem: bytes,
    constitution_rules: Collection[str] = (),
    constitution_prefixes: Iterable[str] = CONSTITUTION_PREFIXES,
) -> Waiver:
    """Return the waiver with the approver's signature; refuses constitution rules outright."""
    if is_constitution_rule(waiver.rule, constitution_rules=constitution_rules, prefixes=tuple(constitution_prefixes)):
        raise WaiverError(f"{waiver.rule} is a constitution rule; constitution rules cannot be waived")
    # Round-trip through the file form so a signed waiver is exactly what a reader will rebuild.
    checked = waiver_from_entry(waiver.as_entry())
    key = keys.load_private_key(private_key_pem)
    token = jwt.api_jws.PyJWS().encode(
        checked.payload(), key, algorithm=keys.ALGORITHM, headers={"kid": checked.approver}, is_payload_detached=True
    )
    return replace(checked, signature=token, line=waiver.line)


def add_to_file(text: str, waiver: Waiver) -> str:
    """`text` (a waiver file, possibly empty) with `waiver` appended; comments and order are kept."""
    yaml = YAML(typ="rt")
    yaml.width = 4096
    try:
        doc = yaml.load(text) if text.strip() else None
    except YAMLError as exc:
        raise WaiverError(f"waiver file is not valid YAML: {exc}") from None
    if doc is None:
        return dump_waivers([waiver])
    if not isinstance(doc, Mapping) or not isinstance(doc.get("waivers", []), list):
        raise WaiverError("waiver file must be a mapping with a 'waivers' list")
    if doc.get("waivers") is None:
        doc["waivers"] = []
    doc["waivers"].append(waiver.as_entry())
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def dump_waivers(waivers: Iterable[Waiver]) -> str:
    """The YAML text of a waiver file (what `/trustacks waive` proposes in a PR)."""
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump({"waivers": [w.as_entry() for w in waivers]}, buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- applying


def waivable(violation: Any) -> bool:
    """Only pack (`packs/<name>`) and overlay violations; never the constitution or the engine's fail-closed denial."""
    layer = str(violation.layer)
    return (layer == "overlay" or layer == "packs" or layer.startswith("packs/")) and not is_constitution_rule(violation.rule)


def apply_waivers(decision: Any, waivers: WaiverSet, *, repo: str, paths: Iterable[str]) -> Any:
    """`decision` with each pack/overlay violation an active waiver covers moved to `decision.waived`.

    A waiver covers a violation when it names the rule, its repo glob matches `repo`, and its path glob
    matches every changed path (a waiver for one directory does not lift a rule for a change that also
    touches others). Rejected waivers are listed in `decision.waivers_ignored`. Pure: nothing is read.
    """
    from bot.models import Waived

    paths = list(paths)
    kept: dict[str, list[Any]] = {"deny": [], "warn": []}
    waived = list(decision.waived)
    for kind in ("deny", "warn"):
        for violation in getattr(decision, kind):
            waiver = waivers.find(violation.rule, repo=repo, paths=paths) if waivable(violation) else None
            if waiver is None:
                kept[kind].append(violation)
            else:
                waived.append(Waived(violation=violation, waiver=waiver.as_record(), was=kind))
    ignored = [*decision.waivers_ignored,
               *(f"{r.rule or '?'} (line {r.line}): {r.reason}" for r in waivers.rejected)]
    return replace(decision, deny=kept["deny"], warn=kept["warn"], waived=waived, waivers_ignored=ignored)


#: where waivers live: the platform repo, merged by humans like any other change
WAIVERS_PATH = ".trustacks/waivers.yaml"


def waive(
    decision: Any,
    waiver_file: str | bytes | None,
    *,
    trusted_keys: Mapping[str, bytes],
    constitution_rules: Collection[str],
    repo: str,
    paths: Iterable[str],
) -> Any:
    """The gate's waiver step, shared by the bot and the MCP server: read the file's text, apply what is valid.

    An unreadable file lifts nothing and says so in `decision.waivers_ignored`; no file lifts nothing.
    """
    if waiver_file is None or not (decision.deny or decision.warn):
        return decision
    try:
        waivers = load_waivers(waiver_file, trusted_keys=trusted_keys, constitution_rules=constitution_rules)
    except WaiverError as exc:
        return replace(decision, waivers_ignored=[*decision.waivers_ignored,
                                                  f"{WAIVERS_PATH} cannot be read, so no waiver applies: {exc}"])
    return apply_waivers(decision, waivers, repo=repo, paths=paths)


def approver_keys(directory: Path) -> dict[str, bytes]:
    """Trusted approver public keys: `<approver>.pub` files in `directory` (never from a repository)."""
    keys_found: dict[str, bytes] = {}
    for pub in sorted(Path(directory).glob("*.pub")):
        if pub.is_file():
            data = pub.read_bytes()
            keys.load_public_key(data)  # KeyFormatError names the bad file's content problem
            keys_found[pub.stem] = data
    return keys_found
