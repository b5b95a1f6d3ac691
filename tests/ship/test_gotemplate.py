"""The Go-template renderer the chart test relies on: Go's and Helm's semantics on the cases that bite.

Each expected string is what Go's text/template with Helm's functions produces for the same input.
"""

from __future__ import annotations

import pytest

from tests.ship.gotemplate import Fail, Renderer, TemplateError, floats, go_float


def render(src: str, data=None, **templates: str) -> str:
    r = Renderer()
    for name, text in templates.items():
        r.add(name, text)
    r.add("main", src)
    return r.render("main", data if data is not None else {}).replace("<no value>", "")


@pytest.mark.parametrize(
    ("src", "data", "expected"),
    [
        ("a  {{- 1 -}}  b", {}, "a1b"),
        ("a\n  {{- /* note */ -}}\n  b", {}, "ab"),
        ("{{ if .x }}x{{ else if .y }}y{{ else }}n{{ end }}", {"y": 1}, "y"),
        ("{{ if .x }}x{{ else if .y }}y{{ else }}n{{ end }}", {}, "n"),
        ("{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}", {"m": {"b": "2", "a": "1"}}, "a=1;b=2;"),
        ("{{ range .l }}[{{ . }}]{{ else }}none{{ end }}", {"l": []}, "none"),
        ("{{ range $i, $v := .l }}{{ $i }}{{ $v }}{{ end }}", {"l": ["a", "b"]}, "0a1b"),
        ("{{ with .w }}{{ .n }}{{ else }}no{{ end }}", {"w": {"n": "in"}}, "in"),
        ("{{ with .w }}{{ .n }}{{ else }}no{{ end }}", {"w": {}}, "no"),
        ("{{ range .l }}{{ $.top }}{{ end }}", {"l": [1, 2], "top": "T"}, "TT"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", {}, "2"),
        ("{{ and 1 0 2 }}|{{ or 0 \"\" \"z\" }}|{{ or 0 \"\" }}", {}, "0|z|"),
        ("{{ eq .a \"x\" \"y\" }}", {"a": "y"}, "true"),
        ("{{ .missing }}", {}, ""),
        ("{{ .b | default true }}", {"b": False}, "true"),  # sprig: false is empty
        ("{{ .n | default 5 }}", {"n": 0}, "5"),
        ("{{ toYaml .v }}", {"v": floats({"a": [1, 2], "b": {"c": 3}})}, "a:\n- 1\n- 2\nb:\n  c: 3"),
        ("{{ toYaml .n }}|{{ toYaml .s }}", {"n": 1.0, "s": "50%"}, "1|50%"),
        ("x:{{ include \"t\" . | nindent 2 }}", {"k": "v"}, "x:\n  k: v"),
        ("{{ printf \"%s-%d\" .s 3 }}", {"s": "a"}, "a-3"),
        ("{{ print \"a\" 1 2 \"b\" }}", {}, "a1 2b"),
        ("{{ .n }}", {"n": 1234567.0}, "1.234567e+06"),
        ("{{ .n | int }}", {"n": 1234567.0}, "1234567"),
        ("{{ quote .n }} {{ quote .s }}", {"n": 8080.0, "s": 'a"b'}, '"8080" "a\\"b"'),
        ("{{ (list 1 2) | len }} {{ join \",\" .l }}", {"l": ["a", "b"]}, "2 a,b"),
        ("{{ if gt (int .r) 1 }}many{{ end }}", {"r": 2.0}, "many"),
        ("{{ trunc 5 \"abcdefgh\" | trimSuffix \"-\" }}", {}, "abcde"),
    ],
)
def test_semantics(src, data, expected):
    assert render(src, data, t="{{ define \"t\" }}k: {{ .k }}{{ end }}") == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234567.0, "1.234567e+06"), (100000.0, "100000"), (1e6, "1e+06"), (8080.0, "8080"), (0.5, "0.5"),
     (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"), (0.0, "0"), (123456.5, "123456.5")],
)
def test_floats_print_like_go(value, text):
    assert go_float(value) == text


@pytest.mark.parametrize(
    ("src", "data", "error", "match"),
    [
        ("{{ .a.b }}", {}, TemplateError, "nil pointer"),
        ("{{ gt .r 1 }}", {"r": 2.0}, TemplateError, "incompatible types"),
        ("{{ eq .r 1 }}", {"r": 1.0}, TemplateError, "incompatible types"),
        ("{{ nosuch 1 }}", {}, TemplateError, "not defined"),
        ("{{ .m }}", {"m": {"a": 1}}, TemplateError, "toYaml"),
        ("{{ required \"set x\" .x }}", {}, Fail, "set x"),
        ("{{ fail \"no\" }}", {}, Fail, "no"),
        ("{{ if .x }}", {}, TemplateError, "missing end"),
        ("{{ $y }}", {}, TemplateError, "undefined variable"),
        ("{{ block \"b\" . }}{{ end }}", {}, TemplateError, "unsupported"),
    ],
)
def test_errors(src, data, error, match):
    with pytest.raises(error, match=match):
        render(src, data)
