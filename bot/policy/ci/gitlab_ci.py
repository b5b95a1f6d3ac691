"""GitLab CI (`.gitlab-ci.yml` and included `*.gitlab-ci.yml`): jobs, script lines, templates, id_tokens.

Reference: https://docs.gitlab.com/ci/yaml/
"""

from __future__ import annotations

from typing import Any

from bot.policy.ci import CiDocument, Step
from bot.policy.ci.yamlnodes import LList, YamlError, line_of, load_all, str_map, text

#: top-level keys that are not jobs
RESERVED = frozenset(
    {"stages", "variables", "include", "default", "workflow", "image", "services", "before_script",
     "after_script", "cache", "pages", "spec"}
)
_TRUE = {"true", "yes", "on", "1"}


class GitLabCi:
    system = "gitlab-ci"

    def claims(self, path: str, text: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        return name == ".gitlab-ci.yml" or name.endswith(".gitlab-ci.yml") or (
            path.startswith(".gitlab/ci/") and path.endswith((".yml", ".yaml"))
        )

    def parse(self, path: str, text_: str) -> CiDocument:
        doc = CiDocument(path=path, system=self.system)
        try:
            docs = load_all(text_)
        except YamlError as exc:
            doc.error = str(exc)
            return doc
        root = next((d for d in reversed(docs) if isinstance(d, dict)), None)  # `spec:` header doc first
        if root is None:
            doc.error = "the pipeline is not a mapping"
            return doc
        global_env = str_map(root.get("variables"))
        default = root.get("default") if isinstance(root.get("default"), dict) else {}
        _includes(doc, root)
        for key in ("image",):
            ref = _image(root.get(key)) or _image(default.get(key))
            if ref:
                doc.images.append((ref, line_of(root, key)))
        for name, job in root.items():
            if name in RESERVED or not isinstance(job, dict):
                continue
            if not any(k in job for k in ("script", "trigger", "extends", "run")):
                continue
            env = {**global_env, **str_map(job.get("variables"))}
            allow_failure = job.get("allow_failure")
            soft = (text(allow_failure).strip().lower() in _TRUE) if not isinstance(allow_failure, dict) else True
            if "id_tokens" in job or "id_tokens" in default:
                doc.oidc_declared = True
            image = _image(job.get("image"))
            if image:
                doc.images.append((image, line_of(job, "image")))
                doc.steps.append(Step(line=line_of(job, "image"), job=name, uses=image, env=env, continue_on_error=soft))
            for key in ("before_script", "script", "after_script"):
                lines = job.get(key, default.get(key) if key != "script" else None)
                items = lines if isinstance(lines, list) else ([lines] if isinstance(lines, str) else [])
                base = line_of(lines) or line_of(job, key)
                for i, item in enumerate(items):
                    cmd = text(item)
                    line = _item_line(lines, i, base)
                    doc.steps.append(Step(line=line, job=name, run=cmd, env=env, continue_on_error=soft, run_line=line))
        return doc


def _item_line(lines: Any, index: int, base: int) -> int:
    """Best line for the index-th script entry (libyaml reports lines for nested nodes only)."""
    item = lines[index] if isinstance(lines, list) else None
    return getattr(item, "line", 0) or (base + index if isinstance(lines, LList) else base)


def _image(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) else ""


def _includes(doc: CiDocument, root: dict) -> None:
    """`include: template: Security/...` jobs become steps the classifier recognises."""
    inc = root.get("include")
    items = inc if isinstance(inc, list) else ([inc] if inc is not None else [])
    for item in items:
        line = line_of(item) or line_of(root, "include")
        if isinstance(item, dict):
            if "template" in item:
                doc.steps.append(Step(line=line, job="include", uses=f"template:{text(item['template'])}"))
            elif "local" in item:
                doc.calls.append(text(item["local"]).lstrip("/"))
            elif "component" in item:
                doc.steps.append(Step(line=line, job="include", uses=f"component:{text(item['component'])}",
                                      params=str_map(item.get("inputs"))))
        elif isinstance(item, str) and not item.startswith(("http://", "https://")):
            doc.calls.append(item.lstrip("/"))


PARSER = GitLabCi()
