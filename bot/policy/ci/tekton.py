"""Tekton (`tekton.dev/*` Tasks, Pipelines and runs in any YAML file): steps, task references, params.

Reference: https://tekton.dev/docs/pipelines/
"""

from __future__ import annotations

from typing import Any

from bot.policy.ci import CiDocument, Step
from bot.policy.ci.yamlnodes import YamlError, line_of, load_all, text


class Tekton:
    system = "tekton"

    def claims(self, path: str, text: str) -> bool:
        return path.endswith((".yml", ".yaml")) and "tekton.dev/" in text

    def parse(self, path: str, text_: str) -> CiDocument:
        doc = CiDocument(path=path, system=self.system)
        try:
            docs = load_all(text_)
        except YamlError as exc:
            doc.error = str(exc)
            return doc
        for d in docs:
            if isinstance(d, dict) and text(d.get("apiVersion")).startswith(("tekton.dev/", "triggers.tekton.dev/")):
                name = text((d.get("metadata") or {}).get("name")) if isinstance(d.get("metadata"), dict) else ""
                self._spec(doc, d.get("spec"), name)
        return doc

    def _spec(self, doc: CiDocument, spec: Any, name: str) -> None:
        if not isinstance(spec, dict):
            return
        for step in spec.get("steps") or []:
            if not isinstance(step, dict):
                continue
            argv = " ".join(_words(step.get("command")) + _words(step.get("args")))  # one command line
            run = "\n".join(x for x in (text(step.get("script")), argv) if x)
            image = text(step.get("image"))
            if image:
                doc.images.append((image, line_of(step, "image")))
            env = {text(e.get("name")): text(e.get("value")) for e in step.get("env") or [] if isinstance(e, dict)}
            doc.steps.append(Step(line=getattr(step, "line", 0), job=name, uses=image, run=run, env=env,
                                  continue_on_error=text(step.get("onError")) == "continue",
                                  run_line=line_of(step, "script") + 1 if "script" in step else getattr(step, "line", 0)))
        for key in ("tasks", "finally"):
            for task in spec.get(key) or []:
                if not isinstance(task, dict):
                    continue
                ref = task.get("taskRef") if isinstance(task.get("taskRef"), dict) else {}
                params = {text(p.get("name")): " ".join(_words(p.get("value"))) for p in task.get("params") or []
                          if isinstance(p, dict)}
                ref_name = text(ref.get("name")) or _resolver_name(ref)
                doc.steps.append(Step(line=getattr(task, "line", 0), job=text(task.get("name")), uses=f"task:{ref_name}", params=params))
                self._spec(doc, task.get("taskSpec"), text(task.get("name")))
        self._spec(doc, spec.get("taskSpec"), name)
        self._spec(doc, spec.get("pipelineSpec"), name)


def _words(value: Any) -> list[str]:
    """A command/args/param value as argv words (a list stays a list; a scalar is one word)."""
    if isinstance(value, list):
        return [text(v) for v in value]
    return [text(value)] if value is not None and text(value) else []


def _resolver_name(ref: dict) -> str:
    for p in ref.get("params") or []:
        if isinstance(p, dict) and text(p.get("name")) in ("name", "pathInRepo"):
            return text(p.get("value")).rsplit("/", 1)[-1].removesuffix(".yaml")
    return ""


PARSER = Tekton()
