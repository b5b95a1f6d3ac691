"""GitHub Actions workflows (`.github/workflows/*.yml`): steps, permissions, reusable-workflow calls.

Reference: https://docs.github.com/en/actions/writing-workflows/workflow-syntax-for-github-actions
"""

from __future__ import annotations

from typing import Any

from bot.policy.ci import CiDocument, Step
from bot.policy.ci.yamlnodes import LMap, YamlError, line_of, load_all, str_map, text

_TRUE = {"true", "yes", "on", "1"}


class GitHubActions:
    system = "github-actions"

    def claims(self, path: str, text: str) -> bool:
        return path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml"))

    def parse(self, path: str, text_: str) -> CiDocument:
        doc = CiDocument(path=path, system=self.system)
        try:
            docs = load_all(text_)
        except YamlError as exc:
            doc.error = str(exc)
            return doc
        root = docs[0] if docs else None
        if not isinstance(root, dict):
            doc.error = "the workflow is not a mapping"
            return doc
        wf_env = str_map(root.get("env"))
        _permissions(doc, root, "workflow")
        jobs = root.get("jobs")
        if not isinstance(jobs, dict):
            return doc
        for job_id, job in jobs.items():
            if not isinstance(job, dict):
                continue
            _permissions(doc, job, f"job {job_id}")
            env = {**wf_env, **str_map(job.get("env"))}
            uses = job.get("uses")
            if isinstance(uses, str):  # a reusable workflow call
                doc.steps.append(Step(line=line_of(job, "uses"), job=str(job_id), uses=uses, params=str_map(job.get("with")), env=env))
                if uses.startswith("./"):
                    doc.calls.append(uses[2:].split("@", 1)[0])
            for key in ("container",):
                image = job.get(key)
                ref = image.get("image") if isinstance(image, dict) else image
                if isinstance(ref, str) and ref:
                    doc.images.append((ref, line_of(job, key)))
            services = job.get("services")
            if isinstance(services, dict):
                for svc in services.values():
                    ref = svc.get("image") if isinstance(svc, dict) else svc
                    if isinstance(ref, str) and ref:
                        doc.images.append((ref, line_of(services)))
            steps = job.get("steps")
            if not isinstance(steps, list):
                continue
            for step in steps:
                if isinstance(step, dict):
                    doc.steps.append(_step(step, str(job_id), env))
        return doc


def _step(step: LMap, job: str, env: dict[str, str]) -> Step:
    run = step.get("run")
    return Step(
        line=step.line,
        job=job,
        uses=text(step.get("uses")),
        run=text(run),
        params=str_map(step.get("with")),
        env={**env, **str_map(step.get("env"))},
        continue_on_error=text(step.get("continue-on-error")).strip().lower() in _TRUE,
        run_line=line_of(step, "run") + (1 if isinstance(run, str) and "\n" in run else 0),
    )


def _permissions(doc: CiDocument, node: Any, scope: str) -> None:
    if "permissions" not in node:
        return
    value = node["permissions"]
    line = line_of(node, "permissions")
    if isinstance(value, dict):
        perms = {str(k): text(v) for k, v in value.items()}
        doc.permissions.append({"scope": scope, "line": line, "value": perms})
        if perms.get("id-token") == "write":
            doc.id_token_write = True
    else:
        v = text(value).strip()
        doc.permissions.append({"scope": scope, "line": line, "value": v or "{}"})
        if v == "write-all":
            doc.id_token_write = True


PARSER = GitHubActions()
