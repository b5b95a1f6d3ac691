"""A renderer for the subset of Go templates the generated charts use, so tests can render them without helm.

Supported, with Go template semantics: text and actions with `{{-`/`-}}` whitespace trimming, comments,
`define`/`end`, `if`/`else`/`end` (with `not`), pipelines of `include "name" .`, `toYaml`, `default`,
`quote`, `nindent`, `indent`, `trunc`, `trimSuffix`, fields of `.Values`, `.Chart`, `.Release` and `.`.
Anything else raises, so a template that drifts outside the subset fails its test instead of passing
by accident.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(ValueError):
    pass


@dataclass
class Node:
    kind: str  # text | expr | if | define | root
    value: str = ""
    body: list["Node"] = field(default_factory=list)
    orelse: list["Node"] = field(default_factory=list)


def _tokens(text: str) -> list[tuple[str, str]]:
    """[(kind, value)] with trimming applied: kind is 'text' or 'action'."""
    out: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        out.append(("text", chunk))
        out.append(("action", m.group(2)))
        trim_next = bool(m.group(3))
        pos = m.end()
    chunk = text[pos:]
    out.append(("text", chunk.lstrip() if trim_next else chunk))
    return out


def parse(text: str) -> Node:
    root = Node("root")
    stack = [root]
    in_else = [False]
    for kind, value in _tokens(text):
        cur = stack[-1]
        target = cur.orelse if in_else[-1] else cur.body
        if kind == "text":
            if value:
                target.append(Node("text", value))
            continue
        if value.startswith("/*"):
            continue
        word = value.split(None, 1)[0]
        if word in ("if", "define"):
            node = Node(word, value.split(None, 1)[1])
            target.append(node)
            stack.append(node)
            in_else.append(False)
        elif word == "else":
            if stack[-1].kind != "if":
                raise TemplateError("else outside if")
            in_else[-1] = True
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError("unbalanced end")
            stack.pop()
            in_else.pop()
        elif word in ("range", "with", "template", "block", "tpl"):
            raise TemplateError(f"unsupported action {word!r}")
        else:
            target.append(Node("expr", value))
    if len(stack) != 1:
        raise TemplateError("missing end")
    return root


def _truthy(v: Any) -> bool:
    return bool(v) if v is not None else False


def _to_str(v: Any) -> str:
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        raise TemplateError("printing a map or list: use toYaml")
    return str(v)


def _to_yaml(v: Any) -> str:
    if v is None:
        return "null"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


class Renderer:
    def __init__(self, *, values: dict[str, Any], chart: dict[str, Any], release: dict[str, Any]) -> None:
        self.root = {"Values": values, "Chart": chart, "Release": release}
        self.defines: dict[str, Node] = {}

    def load_helpers(self, text: str) -> None:
        for node in parse(text).body:
            if node.kind == "define":
                self.defines[shlex.split(node.value)[0]] = node
            elif node.kind == "text" and node.value.strip():
                raise TemplateError("text outside define in a helpers file")

    def render(self, text: str) -> str:
        tree = parse(text)
        for node in tree.body:
            if node.kind == "define":
                self.defines[shlex.split(node.value)[0]] = node
        return self._nodes(tree.body, self.root)

    def _nodes(self, nodes: list[Node], dot: Any) -> str:
        out = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.value)
            elif node.kind == "expr":
                out.append(_to_str(self._pipeline(node.value, dot)))
            elif node.kind == "if":
                out.append(self._nodes(node.body if _truthy(self._pipeline(node.value, dot)) else node.orelse, dot))
            elif node.kind == "define":
                continue
        return "".join(out)

    def _field(self, ref: str, dot: Any) -> Any:
        if ref == ".":
            return dot
        cur = self.root if ref.startswith((".Values", ".Chart", ".Release")) else dot
        for part in ref.strip(".").split("."):
            if not isinstance(cur, dict):
                raise TemplateError(f"{ref}: not a map at {part!r}")
            cur = cur.get(part)
        return cur

    def _arg(self, tok: str, dot: Any) -> Any:
        if tok.startswith("."):
            return self._field(tok, dot)
        if tok.startswith('"'):
            return json.loads(tok)
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        if tok in ("true", "false"):
            return tok == "true"
        raise TemplateError(f"unsupported argument {tok!r}")

    def _command(self, cmd: str, dot: Any, piped: Any, has_piped: bool) -> Any:
        toks = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', cmd)
        name, args = toks[0], [self._arg(t, dot) for t in toks[1:]]
        if has_piped:
            args.append(piped)
        if name.startswith(".") or name.startswith('"'):
            if args and not has_piped:
                raise TemplateError(f"field {name} takes no arguments")
            return self._arg(name, dot)
        if name == "include":
            template, ctx = args
            if template not in self.defines:
                raise TemplateError(f"no template {template!r}")
            return self._nodes(self.defines[template].body, ctx)
        if name == "toYaml":
            return _to_yaml(args[0])
        if name == "not":
            return not _truthy(args[0])
        if name == "default":
            fallback, value = args
            return value if _truthy(value) else fallback
        if name == "quote":
            return json.dumps(_to_str(args[0]))
        if name in ("nindent", "indent"):
            n, text = args
            body = "\n".join(" " * n + line if line else line for line in str(text).split("\n"))
            return ("\n" + body) if name == "nindent" else body
        if name == "trunc":
            n, text = args
            return str(text)[:n]
        if name == "trimSuffix":
            suffix, text = args
            return text[: -len(suffix)] if suffix and str(text).endswith(suffix) else text
        raise TemplateError(f"unsupported function {name!r}")

    def _pipeline(self, expr: str, dot: Any) -> Any:
        parts = [p.strip() for p in re.split(r'\|(?=(?:[^"]*"[^"]*")*[^"]*$)', expr)]
        value: Any = None
        for i, part in enumerate(parts):
            value = self._command(part, dot, value, i > 0)
        return value


def render_chart(templates: dict[str, str], *, values: dict[str, Any], chart: dict[str, Any],
                 release_name: str, namespace: str = "default") -> dict[str, str]:
    """templates/<name> -> rendered text (helpers loaded first, like helm)."""
    r = Renderer(values=values, chart={"Name": chart["name"], "Version": chart["version"],
                                       "AppVersion": chart.get("appVersion", "")},
                 release={"Name": release_name, "Namespace": namespace, "Service": "Helm"})
    for name, text in templates.items():
        if name.endswith(".tpl"):
            r.load_helpers(text)
    return {name: r.render(text) for name, text in templates.items() if not name.endswith(".tpl")}
