"""One forge client per event: the GitHub installation's, the GitLab instance's, or the local forge.

Clients are created on first use and kept for the life of the service (tokens live in memory only,
inside the GitHub App's per-installation cache). Nothing here reads the environment: the settings
object carries the App id, key and URLs (bot/config.py is the only reader of env vars).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.forges.base import Forge, ForgeError
from bot.handlers.events import Event


class ForgeFactory:
    """Callable `await factory(event) -> Forge`, used by the dispatcher."""

    def __init__(self, settings: Any, *, github_api_url: str | None = None, gitlab_url: str | None = None) -> None:
        self.settings = settings
        self.gitlab_url = gitlab_url or getattr(settings, "gitlab_url", None) or "https://gitlab.com"
        self.github_api_url = github_api_url or getattr(settings, "github_api_url", None) or "https://api.github.com"
        self._session: Any = None
        self._app: Any = None
        self._github: dict[int, Forge] = {}
        self._gitlab: Forge | None = None
        self._local: Forge | None = None

    async def __call__(self, event: Event) -> Forge:
        dry = bool(getattr(self.settings, "dry_run", False))
        if event.forge == "github":
            return await self._github_forge(event, dry)
        if event.forge == "gitlab":
            if self._gitlab is None:
                from bot.forges.gitlab import GitLabForge

                token = getattr(self.settings, "gitlab_api_token", None)
                if token is None:
                    raise ForgeError("GitLab event received but TRUSTACKS_GITLAB_API_TOKEN is not configured")
                forge = GitLabForge(self.gitlab_url, token.reveal(), dry_run=dry)
                await forge.whoami()
                self._gitlab = forge
            return self._gitlab
        if event.forge == "local":
            if self._local is None:
                from bot.forges.local import LocalForge

                self._local = LocalForge(Path(self.settings.data_dir) / "forge", dry_run=dry)
            return self._local
        raise ForgeError(f"no forge client for {event.forge!r}")

    async def _github_forge(self, event: Event, dry: bool) -> Forge:
        if event.installation_id is None:
            raise ForgeError("GitHub event without installation id: is the App installed on this repository?")
        forge = self._github.get(event.installation_id)
        if forge is not None:
            return forge
        import aiohttp

        from bot.forges.github import GitHubForge
        from bot.forges.github_auth import GitHubApp

        base_url = self.github_api_url
        if self._session is None:
            self._session = aiohttp.ClientSession()
        if self._app is None:
            key = getattr(self.settings, "github_private_key", None)
            app_id = getattr(self.settings, "github_app_id", None)
            if key is None or app_id is None:
                raise ForgeError("GitHub event received but the App id or private key is not configured")
            self._app = GitHubApp(app_id, key.reveal(), session=self._session, base_url=base_url)
        forge = GitHubForge(self._session, self._app.installation(event.installation_id), base_url=base_url,
                            dry_run=dry)
        self._github[event.installation_id] = forge
        return forge

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        for forge in (self._gitlab, self._local):
            close = getattr(forge, "close", None)
            if close is not None:
                result = close()
                if hasattr(result, "__await__"):
                    await result
