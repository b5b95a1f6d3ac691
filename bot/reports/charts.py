"""Server-side SVG charts for the reports (pygal), made safe to inline in a self-contained page.

pygal draws the chart; this module only configures it and cleans its output: no JavaScript (pygal
inlines a config `<script>` even with `js=[]`; the page's CSP would block it anyway), no comments
(they carry the render date), and a fixed element id instead of a random UUID, so the same data
always gives the same bytes. Labels are set as data, and pygal's XML serializer escapes them.
"""

from __future__ import annotations

import re
from typing import Sequence

import pygal
from pygal.style import Style

SATISFIED_COLOR = "#2e7d32"
UNSATISFIABLE_COLOR = "#c62828"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ID = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


def stacked_bars(
    chart_id: str,
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    colors: Sequence[str] = (SATISFIED_COLOR, UNSATISFIABLE_COLOR),
    width: int = 760,
) -> str:
    """A horizontal stacked bar chart as an inline `<svg>` element (values printed on the bars)."""
    if not _ID.match(chart_id):
        raise ValueError(f"chart id {chart_id!r}: lower-case letters, digits and '-' only")
    style = Style(
        colors=tuple(colors),
        background="white",
        plot_background="white",
        foreground="#222",
        foreground_strong="#111",
        foreground_subtle="#666",
        font_family="DejaVu Sans, Liberation Sans, Arial, sans-serif",
        value_font_size=13,
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=13,
        title_font_size=16,
    )
    height = max(160, 70 + 34 * max(1, len(labels)))
    chart = pygal.HorizontalStackedBar(
        style=style,
        js=[],
        disable_xml_declaration=True,
        explicit_size=True,
        width=width,
        height=height,
        print_values=True,
        print_zeroes=False,
        legend_at_bottom=True,
        show_y_guides=False,
        truncate_label=-1,
        truncate_legend=-1,
        margin=8,
    )
    chart.uuid = chart_id  # pygal uses it as the element id and CSS scope
    chart.title = title
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, [int(v) for v in values])
    svg = chart.render(is_unicode=True)
    svg = _COMMENT.sub("", _SCRIPT.sub("", svg))
    return svg.replace('id="chart-', f'role="img" aria-label="{_attr(title)}" id="chart-', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
