"""Rendered reports: the Gap Analysis Report (HTML, Markdown, JSON) and the templating they share."""

from bot.reports.gaps import FORMATS, GapView, build_view, render

__all__ = ["FORMATS", "GapView", "build_view", "render"]
