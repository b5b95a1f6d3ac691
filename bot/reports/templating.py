"""The Jinja2 environments every rendered page and issue body goes through, and their escapers.

Two environments, both loading from `bot/templates/`:
- `html_env()`: autoescape on for every template, so repo names, PR titles, job errors and audit
  subjects (all untrusted) are HTML-escaped unless a template marks a value `|safe` (only the
  server-generated SVG charts are).
- `markdown_env()`: for forge issue bodies. Every `{{ value }}` passes through `md_text` (one line,
  HTML and Markdown metacharacters escaped, @mentions defused) unless it is already `Raw` (the
  output of the `code` filter or of another trusted renderer). Markdown has no autoescape; this
  `finalize` hook makes escaping the default instead of something each template must remember.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
#: a zero-width word joiner after '@' stops forges from turning untrusted text into a mention
_MENTION = "@\u2060"


class Raw(str):
    """Markdown that is already safe to insert (built by our own code from escaped parts)."""


def md_text(value: Any) -> Raw:
    """Untrusted text as one line of inert Markdown: no HTML, no links, no emphasis, no mentions."""
    if isinstance(value, Raw):
        return value
    text = " ".join(str("" if value is None else value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Raw(_MD_SPECIAL.sub(r"\\\1", text).replace("@", _MENTION))


def md_code(value: Any) -> Raw:
    """A value as an inline code span (identifiers: rule IDs, repos, branches). One line, no backticks."""
    text = " ".join(str("" if value is None else value).split()).replace("`", "'")
    return Raw(f"`{text}`" if text else "")


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (Raw, int, float)):
        return value
    return md_text(value)


def markdown_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["code"] = md_code
    env.filters["md"] = md_text
    env.filters["safe_raw"] = Raw  # for markers the template builds from constants, never for data
    return env


def html_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


#: sent with every HTML page and embedded in the standalone report: nothing loads from anywhere,
#: and no script runs even if an escaping bug let one through
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
