"""Reference for the file facts: `file_facts_for` as it was before facts were cached per file.

Kept only for the differential tests (`test_facts_cache.py`): every file read in one loop, the
secret scan by the per-keyword reference. It calls the same per-artifact helpers as the real module
(CI parsers, image and Kubernetes readers), so the tests compare how the facts are assembled and
cached, never two copies of those readers.
"""

from __future__ import annotations

from typing import Any, Iterable

from bot.models import FileChange
from bot.policy import facts as real
from bot.policy.ci import parse_ci
from bot.policy.ci.classify import file_facts, merge_calls

from . import reference_secret_scan


def file_facts_for(files: Iterable[FileChange]) -> dict[str, Any]:
    ci: dict[str, dict[str, Any]] = {}
    creds: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    k8s: dict[str, list[dict[str, Any]]] = {"secrets": [], "ingresses": [], "workloads": [], "bindings": []}
    urls: list[dict[str, Any]] = []
    auto_merge: list[dict[str, Any]] = []
    to_scan: list[tuple[str, str, str | None]] = []
    for f in files:
        if f.new is None or len(f.new) > real.MAX_FACT_BYTES or "\x00" in f.new[:8192]:
            continue
        path, text = f.path, f.new
        to_scan.append((path, text, f.old))
        cred = real.credential_kind(path, text)
        if cred:
            creds.append({"path": path, "kind": cred})
        doc = parse_ci(path, text)
        if doc is not None:
            ci[path] = file_facts(doc)
            for ref, line in doc.images:
                images.append(real.image_fact(ref, path=path, line=line, source="ci"))
            auto_merge += ci[path]["auto_merge"]
        elif real.is_dockerfile(path):
            images += real.dockerfile_images(path, text)
        elif path.endswith((".yml", ".yaml")):
            kind = "manifest" if real._looks_k8s(text) else ("compose" if real._is_compose(path) else "config")
            images += real.yaml_images(path, text, source=kind)
            if kind == "manifest":
                objs = real.k8s_objects(path, text)
                for key in k8s:
                    k8s[key] += objs[key]
                if objs.get("kubeconfig"):
                    creds.append({"path": path, "kind": "kubeconfig with user credentials"})
        if real._is_config(path):
            urls += real.insecure_urls(path, text, old=f.old)
        how = real.auto_merge_config(path, text)
        if how:
            auto_merge.append({"at": f"{path}:{how[1]}", "how": how[0]})
    secrets = [h.to_fact() for h in reference_secret_scan.scan_many(to_scan)]
    merge_calls(ci)
    ci_list = []
    for f in ci.values():
        f.pop("calls", None)
        ci_list.append(f)
    return {"ci": ci_list, "secrets": secrets, "credential_files": creds, "images": images, "k8s": k8s,
            "insecure_urls": urls, "auto_merge": auto_merge}
