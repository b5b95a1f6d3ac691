"""Policy parameters and the strictest-wins merge across layers (DESIGN.md §3, the ratchet).

Each layer may ship a `params.json` beside its rules. The engine merges them in layer order
(constitution, packs, overlay) with one fixed rule per parameter, so a lower layer can only tighten:
numeric limits take the strictest value, severity thresholds the lowest severity, required sets
are united, allow-lists intersected. The merged result, with a "because" trail naming the layer that
decided each value, is loaded as `data.trustacks.effective.params` for the rules to read.
Unknown parameters are refused: a typo must not silently leave a parameter at its default.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from bot.policy.rules_meta import SEVERITIES

PARAMS_FILE = "params.json"


class Merge(str, enum.Enum):
    MIN_SEVERITY = "min_severity"  # a "fail at" severity: lower is stricter
    MAX = "max"  # a minimum count (approvals): higher is stricter
    MIN = "min"  # a maximum (age, size): lower is stricter
    UNION = "union"  # required things: every layer's entries apply
    INTERSECT = "intersect"  # allow-lists: only entries every defining layer allows


@dataclass(frozen=True)
class ParamSpec:
    merge: Merge
    description: str
    item: type = str


#: the closed set of parameters a layer may set
PARAMS: Mapping[str, ParamSpec] = MappingProxyType(
    {
        "vuln_fail_at": ParamSpec(
            Merge.MIN_SEVERITY, "the vulnerability scan must fail the build at this severity or lower"
        ),
        "min_approvals": ParamSpec(Merge.MAX, "human approvals needed before a change reaches a protected branch", int),
        "required_categories": ParamSpec(Merge.UNION, "Profile tooling categories that must name a tool"),
        "agent_identities": ParamSpec(Merge.UNION, "logins that are agents (their approvals never count)"),
        "escalate": ParamSpec(Merge.UNION, "rule IDs whose warnings are raised to denials"),
        "allowed_registries": ParamSpec(Merge.INTERSECT, "registry host patterns images may come from"),
        "change_ref_patterns": ParamSpec(Merge.INTERSECT, "regular expressions a change record reference matches"),
        "fips_base_images": ParamSpec(Merge.INTERSECT, "base image repositories accepted as FIPS-validated"),
    }
)


class ParamsError(ValueError):
    """A params.json that names an unknown parameter or has a value of the wrong type."""


@dataclass(frozen=True)
class LayerParams:
    layer: str  # "constitution", "packs/soc2", "overlay"
    values: Mapping[str, Any]
    path: str = ""


def read_params(path: Path, *, layer: str) -> LayerParams:
    """Read and type-check one layer's params.json (absent file: no parameters)."""
    if not path.is_file():
        return LayerParams(layer=layer, values={})
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParamsError(f"{path}: not readable JSON ({exc})") from None
    return LayerParams(layer=layer, values=check_params(raw, where=str(path)), path=str(path))


def check_params(raw: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ParamsError(f"{where}: params must be a JSON object")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        spec = PARAMS.get(name)
        if spec is None:
            raise ParamsError(f"{where}: unknown parameter {name!r} (known: {', '.join(sorted(PARAMS))})")
        if spec.merge is Merge.MIN_SEVERITY:
            if value not in SEVERITIES:
                raise ParamsError(f"{where}: {name} must be one of {', '.join(SEVERITIES)}")
        elif spec.merge in (Merge.MAX, Merge.MIN):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ParamsError(f"{where}: {name} must be a non-negative integer")
        else:
            if not isinstance(value, list) or not all(isinstance(v, spec.item) for v in value):
                raise ParamsError(f"{where}: {name} must be a list of {spec.item.__name__}")
        out[name] = value
    return out


@dataclass(frozen=True)
class Effective:
    """Merged parameters plus, for each, the layers that decided it."""

    values: Mapping[str, Any]
    because: Mapping[str, tuple[str, ...]]

    def to_data(self) -> dict[str, Any]:
        values = dict(self.values)
        if "vuln_fail_at" in values:
            values["vuln_fail_at_rank"] = SEVERITIES.index(values["vuln_fail_at"])
        return {"params": values, "because": {k: list(v) for k, v in self.because.items()}}


def merge_params(layers: Sequence[LayerParams]) -> Effective:
    """Strictest wins, layer by layer. A looser value from a later layer has no effect."""
    values: dict[str, Any] = {}
    because: dict[str, list[str]] = {}
    for lp in layers:
        for name, value in lp.values.items():
            spec = PARAMS[name]
            if name not in values:
                values[name] = sorted(set(value)) if isinstance(value, list) else value
                because[name] = [f"{name}={_show(value)} set by {lp.layer}"]
                continue
            old = values[name]
            new = _merge(spec.merge, old, value)
            if new != old:
                because[name].append(f"{name}={_show(new)} tightened by {lp.layer}")
                values[name] = new
            elif value != old and not (isinstance(value, list) and sorted(set(value)) == old):
                because[name].append(f"{lp.layer} asked for {name}={_show(value)}: looser, ignored")
    return Effective(values=MappingProxyType(values), because=MappingProxyType({k: tuple(v) for k, v in because.items()}))


def _merge(kind: Merge, old: Any, new: Any) -> Any:
    if kind is Merge.MIN_SEVERITY:
        return new if SEVERITIES.index(new) < SEVERITIES.index(old) else old
    if kind is Merge.MAX:
        return max(old, new)
    if kind is Merge.MIN:
        return min(old, new)
    if kind is Merge.UNION:
        return sorted(set(old) | set(new))
    return sorted(set(old) & set(new))


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in sorted(set(value))) + "]"
    return str(value)
