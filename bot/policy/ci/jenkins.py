"""Jenkins (`Jenkinsfile`, `*.jenkinsfile`): shell steps and credential bindings, read line by line.

A Jenkinsfile is Groovy, so it is not parsed; every `sh`/`bat`/`powershell` command (single-line or a
triple-quoted block) becomes a step, and every other line is kept as a step too so credential bindings
(`withCredentials`, `withAWS`) and `docker.build(...).push()` are seen with their line numbers.
Reference: https://www.jenkins.io/doc/book/pipeline/syntax/
"""

from __future__ import annotations

import re

from bot.policy.ci import CiDocument, Step

_STAGE = re.compile(r"""\bstage\s*\(\s*['"]([^'"]+)['"]""")
_BLOCK_OPEN = re.compile(r"""\b(?:sh|bat|powershell|pwsh)\s*\(?\s*(?:script\s*:\s*)?('''|\"\"\")""")
_AGENT_IMAGE = re.compile(r"""\bimage\s+['"]([^'"]+)['"]""")


class Jenkins:
    system = "jenkins"

    def claims(self, path: str, text: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        return name == "Jenkinsfile" or name.startswith("Jenkinsfile.") or name.lower().endswith(".jenkinsfile")

    def parse(self, path: str, text: str) -> CiDocument:
        doc = CiDocument(path=path, system=self.system)
        stage = ""
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            i += 1
            if not stripped or stripped.startswith("//"):
                continue
            m = _STAGE.search(line)
            if m:
                stage = m.group(1)
            img = _AGENT_IMAGE.search(line)
            if img:
                doc.images.append((img.group(1), i))
            block = _BLOCK_OPEN.search(line)
            if block:
                quote = block.group(1)
                rest = line[block.end():]
                body = [rest]
                start = i
                if quote not in rest:
                    while i < len(lines) and quote not in lines[i]:
                        body.append(lines[i])
                        i += 1
                    if i < len(lines):
                        body.append(lines[i].split(quote, 1)[0])
                        i += 1
                else:
                    body = [rest.split(quote, 1)[0]]
                doc.steps.append(Step(line=start, job=stage, run="\n".join(body), run_line=start))
                continue
            doc.steps.append(Step(line=i, job=stage, run=stripped, run_line=i))
        return doc


PARSER = Jenkins()
