"""Azure Pipelines (`azure-pipelines*.yml`, `.azure-pipelines/`, `.azuredevops/`): steps at any depth.

Reference: https://learn.microsoft.com/azure/devops/pipelines/yaml-schema/
"""

from __future__ import annotations

from typing import Any

from bot.policy.ci import CiDocument, Step
from bot.policy.ci.yamlnodes import YamlError, line_of, load_all, str_map, text

_SCRIPT_KEYS = ("script", "bash", "pwsh", "powershell")
_TRUE = {"true", "yes", "on", "1"}


class AzurePipelines:
    system = "azure-pipelines"

    def claims(self, path: str, text: str) -> bool:
        name = path.rsplit("/", 1)[-1].lower()
        in_dir = path.startswith((".azure-pipelines/", ".azuredevops/", "azure-pipelines/"))
        return path.endswith((".yml", ".yaml")) and (name.startswith("azure-pipelines") or in_dir)

    def parse(self, path: str, text_: str) -> CiDocument:
        doc = CiDocument(path=path, system=self.system)
        try:
            docs = load_all(text_)
        except YamlError as exc:
            doc.error = str(exc)
            return doc
        root = docs[0] if docs else None
        if not isinstance(root, dict):
            doc.error = "the pipeline is not a mapping"
            return doc
        self._walk(doc, root, job="", env=_variables(root.get("variables")))
        return doc

    def _walk(self, doc: CiDocument, node: Any, *, job: str, env: dict[str, str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._walk(doc, item, job=job, env=env)
            return
        if not isinstance(node, dict):
            return
        name = text(node.get("job") or node.get("deployment") or node.get("stage") or job)
        env = {**env, **_variables(node.get("variables"))}
        steps = node.get("steps")
        if isinstance(steps, list):
            for step in steps:
                if isinstance(step, dict):
                    doc.steps.append(_step(step, name, env))
                    if "template" in step:
                        doc.calls.append(text(step["template"]).split("@", 1)[0])
        for key, value in node.items():
            if key != "steps" and isinstance(value, (dict, list)):
                self._walk(doc, value, job=name, env=env)


def _variables(value: Any) -> dict[str, str]:
    if isinstance(value, list):  # [{name: X, value: Y}, {group: G}]
        return {text(v.get("name")): text(v.get("value")) for v in value if isinstance(v, dict) and "name" in v}
    return str_map(value)


def _step(step: dict, job: str, env: dict[str, str]) -> Step:
    script_key = next((k for k in _SCRIPT_KEYS if k in step), None)
    run = text(step.get(script_key)) if script_key else ""
    return Step(
        line=getattr(step, "line", 0),
        job=job,
        uses=text(step.get("task") or step.get("template") or ""),
        run=run,
        params=str_map(step.get("inputs")),
        env={**env, **str_map(step.get("env"))},
        continue_on_error=text(step.get("continueOnError")).strip().lower() in _TRUE,
        run_line=line_of(step, script_key) + (1 if "\n" in run else 0) if script_key else 0,
    )


PARSER = AzurePipelines()
