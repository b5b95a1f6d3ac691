"""A Go text/template interpreter with Helm's functions, enough to render deploy/helm/trustacks offline.

No helm binary runs here, so the chart test renders the templates with this. It follows Go's
text/template (https://pkg.go.dev/text/template) and Helm's engine where the chart relies on them,
and is strict where Helm would be lenient in a way that hides chart bugs:

- actions with `{{-`/`-}}` trimming and `/* */` comments; `if`/`else if`/`else`, `range` (lists and
  maps in key order, with `$i, $v :=`), `with`/`else`, `define`, `template`, variables (`:=`, `=`,
  `$`), pipelines, parenthesised pipelines, field chains on dot, variables and sub-pipelines;
- Go truth (nil, false, 0, "", empty list/map are false), `and`/`or` returning an operand, `eq` with
  several operands, ordered comparisons refusing an int against a float (Go does: Helm reads
  values.yaml numbers as float64, so templates must convert with `int`);
- numbers from values files are floats, printed like Go's %v (1e+06); a missing map key is nil,
  printed as "" (Helm replaces "<no value>"), and a field of nil is an error, as in Go;
- Helm/Sprig functions: include, required, fail, default, empty, quote, squote, toYaml, toJson,
  nindent, indent, printf, print, trunc, trimSuffix, trimPrefix, replace, lower, upper, join, list,
  dict, hasKey, toString, int, int64, float64, sha256sum, b64enc, contains, hasPrefix, len, index,
  ternary, not, and, or, eq, ne, lt, le, gt, ge. Any other function or action raises.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import yaml


class TemplateError(ValueError):
    """The template does not render (Helm would stop with an error too)."""


class Fail(TemplateError):
    """`fail` or `required` was called: the chart refuses these values, with this message."""


# --------------------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.X,
)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str


def _lex_action(src: str, pos: int) -> tuple[list[Tok], int, bool]:
    """Tokens of one action starting after `{{` (and its `- `); returns (tokens, end, trim_right)."""
    toks: list[Tok] = []
    while True:
        if src.startswith(" -}}", pos) or src.startswith("\t-}}", pos) or src.startswith("\n-}}", pos):
            return toks, pos + 4, True
        if src.startswith("}}", pos):
            return toks, pos + 2, False
        m = _TOKEN.match(src, pos)
        if not m:
            raise TemplateError(f"unexpected {src[pos:pos + 10]!r} in action")
        if m.lastgroup != "ws":
            toks.append(Tok(m.lastgroup or "", m.group()))
        pos = m.end()


def _split(src: str) -> list[tuple[str, Any]]:
    """[('text', str) | ('action', [Tok]) | ('comment', None)] with Go's trim markers applied."""
    out: list[tuple[str, Any]] = []
    pos = 0
    trim_next = False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if start < 0:
            out.append(("text", text))
            return out
        inner = start + 2
        trim_left = src.startswith("- ", inner) or src.startswith("-\t", inner) or src.startswith("-\n", inner)
        if trim_left:
            text = text.rstrip(" \t\r\n")
            inner += 2
        out.append(("text", text))
        rest = src[inner:].lstrip(" \t\r\n") if trim_left else src[inner:]
        if rest.startswith("/*"):
            close = src.find("*/", inner)
            if close < 0:
                raise TemplateError("unclosed comment")
            after = close + 2
            if src.startswith(" -}}", after):
                pos, trim_next = after + 4, True
            elif src.startswith("}}", after):
                pos, trim_next = after + 2, False
            else:
                raise TemplateError("comment must end the action")
            continue
        toks, pos, trim_next = _lex_action(src, inner)
        out.append(("action", toks))


# --------------------------------------------------------------------------- parsing


@dataclass
class Pipeline:
    decl: list[str]
    assign: bool  # `=` rather than `:=`
    cmds: list[list[Any]]  # each command: a list of operands


@dataclass
class Node:
    kind: str  # text | output | if | range | with | template
    text: str = ""
    pipe: Pipeline | None = None
    body: list["Node"] = field(default_factory=list)
    orelse: list["Node"] = field(default_factory=list)
    name: str = ""


def _parse_operand(toks: list[Tok], i: int) -> tuple[Any, int]:
    t = toks[i]
    if t.kind == "lparen":
        depth, j = 1, i + 1
        while depth:
            if j >= len(toks):
                raise TemplateError("unclosed (")
            depth += {"lparen": 1, "rparen": -1}.get(toks[j].kind, 0)
            j += 1
        return ("pipe", _parse_pipeline(toks[i + 1:j - 1])), j
    if t.kind == "str":
        return ("lit", _go_unquote(t.text)), i + 1
    if t.kind == "raw":
        return ("lit", t.text[1:-1]), i + 1
    if t.kind == "num":
        return ("lit", float(t.text) if any(c in t.text for c in ".eE") else int(t.text)), i + 1
    if t.kind == "field":
        return ("field", [p for p in t.text.split(".") if p]), i + 1
    if t.kind == "var":
        name, *chain = t.text.split(".")
        return ("var", name, chain), i + 1
    if t.kind == "ident":
        if t.text in ("true", "false"):
            return ("lit", t.text == "true"), i + 1
        if t.text == "nil":
            return ("lit", None), i + 1
        return ("func", t.text), i + 1
    raise TemplateError(f"unexpected {t.text!r}")


def _parse_pipeline(toks: list[Tok]) -> Pipeline:
    decl: list[str] = []
    assign = False
    for k, t in enumerate(toks):
        if t.kind in ("decl", "assign"):
            names = [x for x in toks[:k] if x.kind != "comma"]
            if names and all(x.kind == "var" and "." not in x.text for x in names):
                decl, assign, toks = [x.text for x in names], t.kind == "assign", toks[k + 1:]
            break
    cmds: list[list[Any]] = [[]]
    i = 0
    while i < len(toks):
        if toks[i].kind == "pipe":
            cmds.append([])
            i += 1
            continue
        operand, i = _parse_operand(toks, i)
        cmds[-1].append(operand)
    if any(not c for c in cmds):
        raise TemplateError("empty command in pipeline")
    return Pipeline(decl, assign, cmds)


def _go_unquote(text: str) -> str:
    return json.loads(text)


def parse(src: str) -> tuple[list[Node], dict[str, list[Node]]]:
    """The node list of `src` and the templates it defines."""
    defines: dict[str, list[Node]] = {}
    root: list[Node] = []
    # stack entries: (node or None for define, the list being filled, define name)
    stack: list[tuple[Node | None, list[Node], str]] = [(None, root, "")]
    for kind, value in _split(src):
        target = stack[-1][1]
        if kind == "text":
            if value:
                target.append(Node("text", text=value))
            continue
        toks: list[Tok] = value
        if not toks:
            raise TemplateError("empty action")
        word = toks[0].text if toks[0].kind == "ident" else ""
        if word in ("if", "range", "with"):
            node = Node(word, pipe=_parse_pipeline(toks[1:]))
            target.append(node)
            stack.append((node, node.body, ""))
        elif word == "else":
            node = stack[-1][0]
            if node is None or node.kind not in ("if", "range", "with"):
                raise TemplateError("else outside if/range/with")
            if len(toks) > 1:  # else if / else with: a nested node that the same `end` closes
                if toks[1].text != node.kind or node.kind == "range":
                    raise TemplateError(f"else {toks[1].text} inside {node.kind}")
                inner = Node(node.kind, pipe=_parse_pipeline(toks[2:]))
                node.orelse.append(inner)
                stack[-1] = (node, node.orelse, "chain")
                stack.append((inner, inner.body, "chained"))
            else:
                stack[-1] = (node, node.orelse, stack[-1][2])
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError("unexpected end")
            while stack[-1][2] == "chained":
                stack.pop()
            node, body, name = stack.pop()
            if node is None:
                defines[name] = body
        elif word == "define":
            if len(toks) != 2 or toks[1].kind != "str":
                raise TemplateError("define needs a name")
            stack.append((None, [], _go_unquote(toks[1].text)))
        elif word == "template":
            name = _go_unquote(toks[1].text)
            target.append(Node("template", name=name, pipe=_parse_pipeline(toks[2:]) if len(toks) > 2 else None))
        elif word in ("block", "break", "continue"):
            raise TemplateError(f"unsupported action {word!r}")
        else:
            target.append(Node("output", pipe=_parse_pipeline(toks)))
    if len(stack) != 1:
        raise TemplateError("missing end")
    return root, defines


# --------------------------------------------------------------------------- values and printing


def go_float(value: float) -> str:
    """Go's %v of a float64 (strconv 'g', shortest): 1234567 -> 1.234567e+06, 100000 -> 100000."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value != value:
        return "NaN"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    exp10 = len(digits) + int(exponent) - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:  # shortest %g switches to %e at precision 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if exp10 >= len(text) - 1:
        return prefix + text + "0" * (exp10 - len(text) + 1)
    if exp10 >= 0:
        return prefix + text[:exp10 + 1] + "." + text[exp10 + 1:]
    return prefix + "0." + "0" * (-exp10 - 1) + text


def to_str(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (dict, list)):
        raise TemplateError(f"printing a {type(value).__name__} (use toYaml): {value!r}")
    return str(value)


def truth(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (int, float, str, list, dict, tuple)):
        return bool(value)
    return True


def floats(value: Any) -> Any:
    """Numbers as Helm holds values.yaml numbers: float64 (booleans stay booleans)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [floats(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """For toYaml/toJson: whole floats as ints, like encoding/json does for float64."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_yaml(value: Any) -> str:
    if value is None:
        return "null"
    text = yaml.safe_dump(_plain(value), default_flow_style=False, sort_keys=True, width=10**9)
    return text.removesuffix("\n...\n").rstrip("\n")  # a bare scalar: no document-end marker


def _number_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _compare(a: Any, b: Any) -> int:
    ka, kb = _number_kind(a), _number_kind(b)
    if ka != kb or ka not in ("int", "float", "string"):
        raise TemplateError(f"incompatible types for comparison: {ka} and {kb}")
    return (a > b) - (a < b)


def _eq(a: Any, *others: Any) -> bool:
    for b in others:
        ka, kb = _number_kind(a), _number_kind(b)
        if a is None or b is None:
            if a is b:
                return True
            continue
        if ka != kb and {ka, kb} <= {"int", "float"}:
            raise TemplateError(f"incompatible types for comparison: {ka} and {kb}")
        if a == b:
            return True
    return False


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            return 0
    return 0


def _printf(fmt: str, *args: Any) -> str:
    out, i, n = [], 0, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        verb = fmt[i + 1] if i + 1 < len(fmt) else ""
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            raise TemplateError(f"printf {fmt!r}: missing argument")
        arg = args[n]
        n += 1
        if verb in ("s", "v"):
            out.append(to_str(arg))
        elif verb == "d":
            if _number_kind(arg) != "int":
                raise TemplateError(f"printf %d of a {_number_kind(arg)} (convert with int)")
            out.append(str(arg))
        elif verb == "q":
            out.append(json.dumps(to_str(arg), ensure_ascii=False))
        else:
            raise TemplateError(f"printf verb %{verb} is not supported")
    if n != len(args):
        raise TemplateError(f"printf {fmt!r}: too many arguments")
    return "".join(out)


def _go_print(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = ""
    for k, arg in enumerate(args):
        if k and not isinstance(arg, str) and not isinstance(args[k - 1], str):
            out += " "
        out += to_str(arg)
    return out


def _empty(value: Any) -> bool:
    return not truth(value)


def _required(message: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and value == ""):
        raise Fail(message)
    return value


def _fail(message: str) -> Any:
    raise Fail(message)


def _index(coll: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(coll, dict):
            coll = coll.get(key)
        elif isinstance(coll, list):
            coll = coll[_to_int(key)]
        else:
            raise TemplateError(f"index of {type(coll).__name__}")
    return coll


FUNCS: dict[str, Callable[..., Any]] = {
    "required": _required,
    "fail": _fail,
    "default": lambda d, *v: v[0] if v and not _empty(v[0]) else d,
    "empty": _empty,
    "quote": lambda *a: " ".join(json.dumps(to_str(x), ensure_ascii=False) for x in a if x is not None),
    "squote": lambda *a: " ".join(f"'{to_str(x)}'" for x in a if x is not None),
    "toYaml": to_yaml,
    "toJson": lambda v: json.dumps(_plain(v), separators=(",", ":"), sort_keys=True),
    "nindent": lambda n, s: "\n" + "\n".join(" " * _to_int(n) + ln for ln in str(s).split("\n")),
    "indent": lambda n, s: "\n".join(" " * _to_int(n) + ln for ln in str(s).split("\n")),
    "printf": _printf,
    "print": _go_print,
    "trunc": lambda n, s: str(s)[:_to_int(n)] if _to_int(n) >= 0 else str(s)[_to_int(n):],
    "trimSuffix": lambda suf, s: str(s)[:-len(suf)] if suf and str(s).endswith(suf) else str(s),
    "trimPrefix": lambda pre, s: str(s)[len(pre):] if pre and str(s).startswith(pre) else str(s),
    "replace": lambda old, new, s: str(s).replace(old, new),
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "join": lambda sep, items: sep.join(to_str(x) for x in (items or [])),
    "list": lambda *a: list(a),
    "dict": lambda *a: {str(a[k]): a[k + 1] if k + 1 < len(a) else None for k in range(0, len(a), 2)},
    "hasKey": lambda d, k: isinstance(d, dict) and k in d,
    "toString": to_str,
    "int": _to_int,
    "int64": _to_int,
    "float64": lambda v: float(v) if isinstance(v, (int, float)) else float(v or 0),
    "sha256sum": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
    "b64enc": lambda s: base64.b64encode(str(s).encode()).decode(),
    "contains": lambda sub, s: sub in str(s),
    "hasPrefix": lambda pre, s: str(s).startswith(pre),
    "len": lambda v: len(v) if v is not None else 0,
    "index": _index,
    "ternary": lambda a, b, cond: a if truth(cond) else b,
    "not": lambda v: not truth(v),
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": lambda a, b: _compare(a, b) < 0,
    "le": lambda a, b: _compare(a, b) <= 0,
    "gt": lambda a, b: _compare(a, b) > 0,
    "ge": lambda a, b: _compare(a, b) >= 0,
}


# --------------------------------------------------------------------------- evaluation


class Renderer:
    """Templates by name; `render(name, data)` executes one like Helm's engine does."""

    def __init__(self) -> None:
        self.templates: dict[str, list[Node]] = {}

    def add(self, name: str, src: str) -> None:
        nodes, defines = parse(src)
        self.templates[name] = nodes
        self.templates.update(defines)

    def render(self, name: str, data: Any) -> str:
        return self._exec(self.templates[name], data, [{"$": data}])

    # -- execution

    def _exec(self, nodes: list[Node], dot: Any, scopes: list[dict[str, Any]]) -> str:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "output":
                assert node.pipe is not None
                value = self._pipeline(node.pipe, dot, scopes)
                if not node.pipe.decl:
                    out.append(to_str(value))
            elif node.kind == "template":
                ctx = self._pipeline(node.pipe, dot, scopes) if node.pipe else None
                out.append(self._include(node.name, ctx))
            elif node.kind in ("if", "with"):
                out.append(self._branch(node, dot, scopes))
            elif node.kind == "range":
                out.append(self._range(node, dot, scopes))
        return "".join(out)

    def _branch(self, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> str:
        inner = [*scopes, {}]
        assert node.pipe is not None
        value = self._pipeline(node.pipe, dot, inner)
        if truth(value):
            return self._exec(node.body, value if node.kind == "with" else dot, inner)
        return self._exec(node.orelse, dot, [*scopes, {}])

    def _range(self, node: Node, dot: Any, scopes: list[dict[str, Any]]) -> str:
        assert node.pipe is not None
        pipe = Pipeline([], False, node.pipe.cmds)
        coll = self._pipeline(pipe, dot, scopes)
        if isinstance(coll, dict):
            items = [(k, coll[k]) for k in sorted(coll)]
        elif isinstance(coll, list):
            items = list(enumerate(coll))
        elif coll is None:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {coll!r}")
        if not items:
            return self._exec(node.orelse, dot, [*scopes, {}])
        out = []
        for key, value in items:
            scope: dict[str, Any] = {}
            if len(node.pipe.decl) == 1:
                scope[node.pipe.decl[0]] = value
            elif len(node.pipe.decl) == 2:
                scope[node.pipe.decl[0]], scope[node.pipe.decl[1]] = key, value
            out.append(self._exec(node.body, value, [*scopes, scope]))
        return "".join(out)

    def _include(self, name: str, ctx: Any) -> str:
        if name not in self.templates:
            raise TemplateError(f"no template {name!r}")
        return self._exec(self.templates[name], ctx, [{"$": ctx}])

    def _pipeline(self, pipe: Pipeline, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = None
        for k, cmd in enumerate(pipe.cmds):
            value = self._command(cmd, dot, scopes, value, k > 0)
        for name in pipe.decl:
            if pipe.assign:
                for scope in reversed(scopes):
                    if name in scope:
                        scope[name] = value
                        break
                else:
                    raise TemplateError(f"undefined variable {name}")
            else:
                scopes[-1][name] = value
        return value

    def _command(self, cmd: list[Any], dot: Any, scopes: list[dict[str, Any]], piped: Any, has_piped: bool) -> Any:
        head = cmd[0]
        if head[0] == "func":
            args = [self._operand(op, dot, scopes) for op in cmd[1:]]
            if has_piped:
                args.append(piped)
            return self._call(head[1], args, dot)
        if len(cmd) > 1 or has_piped:
            raise TemplateError(f"can't give arguments to non-function {head!r}")
        return self._operand(head, dot, scopes)

    def _call(self, name: str, args: list[Any], dot: Any) -> Any:
        if name == "include":
            if len(args) != 2:
                raise TemplateError("include takes a name and a context")
            return self._include(args[0], args[1])
        if name == "and":
            for a in args:
                if not truth(a):
                    return a
            return args[-1]
        if name == "or":
            for a in args:
                if truth(a):
                    return a
            return args[-1]
        fn = FUNCS.get(name)
        if fn is None:
            raise TemplateError(f"function {name!r} not defined")
        try:
            return fn(*args)
        except TypeError as exc:
            raise TemplateError(f"wrong arguments for {name}: {exc}") from None

    def _operand(self, op: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        kind = op[0]
        if kind == "lit":
            return op[1]
        if kind == "field":
            return _chain(dot, op[1], ".")
        if kind == "var":
            for scope in reversed(scopes):
                if op[1] in scope:
                    return _chain(scope[op[1]], op[2], op[1])
            raise TemplateError(f"undefined variable {op[1]}")
        if kind == "pipe":
            return self._pipeline(op[1], dot, [*scopes, {}])
        if kind == "func":
            return self._call(op[1], [], dot)
        raise TemplateError(f"bad operand {op!r}")


def _chain(value: Any, names: list[str], what: str) -> Any:
    for name in names:
        if value is None:
            raise TemplateError(f"nil pointer evaluating interface {{}}.{name} (in {what})")
        if not isinstance(value, dict):
            raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
        value = value.get(name)
    return value


# --------------------------------------------------------------------------- a chart


@dataclass(frozen=True)
class Rendered:
    files: dict[str, str]  # templates/<file> -> rendered text
    notes: str

    def objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object of the release (empty documents dropped, as Helm does)."""
        out = []
        for name, text in sorted(self.files.items()):
            for doc in yaml.safe_load_all(text):
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise TemplateError(f"{name}: a document is not a mapping")
                out.append(doc)
        return out


def deep_merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of user values over the chart's defaults (null deletes a key)."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = deep_merge(base.get(key), value)
    return out


def render_chart(chart_dir: Path, *, values: dict[str, Any] | None = None, release: str = "trustacks",
                 namespace: str = "trustacks") -> Rendered:
    """Render a chart like `helm template RELEASE CHART -f values.yaml` (values schema checked first)."""
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    defaults = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    merged = deep_merge(defaults, values or {})
    schema_file = chart_dir / "values.schema.json"
    if schema_file.exists():
        import jsonschema

        errors = sorted(jsonschema.Draft7Validator(json.loads(schema_file.read_text())).iter_errors(merged),
                        key=lambda e: list(e.path))
        if errors:
            raise Fail("values don't meet the specifications of the schema: " + "; ".join(
                f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors))
    base = f"{meta['name']}/templates"
    data = {
        "Values": floats(merged),
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta.get("appVersion", "")},
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": True,
                    "IsUpgrade": False, "Revision": 1.0},
        "Capabilities": {"KubeVersion": {"Version": "v1.31.0", "Major": "1", "Minor": "31"}},
        "Template": {"BasePath": base},
    }
    renderer = Renderer()
    names = sorted(p.relative_to(chart_dir).as_posix() for p in (chart_dir / "templates").rglob("*") if p.is_file())
    for name in names:
        renderer.add(f"{meta['name']}/{name}", (chart_dir / name).read_text())
    files, notes = {}, ""
    for name in names:
        base_name = name.rsplit("/", 1)[-1]
        if base_name.startswith("_"):
            continue
        full = f"{meta['name']}/{name}"
        text = renderer.render(full, {**data, "Template": {**data["Template"], "Name": full}})
        text = text.replace("<no value>", "")
        if base_name == "NOTES.txt":
            notes = text
        else:
            files[name] = text
    return Rendered(files, notes)
