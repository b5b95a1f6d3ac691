"""Forge implementations behind the one `Forge` interface (base.py). One line per forge in FORGES."""

from __future__ import annotations

#: forge name -> "module:class"; a test checks every module in this package is listed
FORGES: dict[str, str] = {
    "local": "bot.forges.local:LocalForge",
    "github": "bot.forges.github:GitHubForge",
    "gitlab": "bot.forges.gitlab:GitLabForge",
}
