"""GitHub App authentication: the App JWT, and installation tokens cached in memory only.

Owns: minting the App JWT (RS256 with PyJWT; `iat` backdated 60 s for clock drift, `exp` 10 minutes
after `iat`, so at most 9 minutes ahead), exchanging it for an installation token
(POST /app/installations/{id}/access_tokens), and caching that token until shortly before it
expires. Tokens and keys live in instance attributes only: never on disk, never in a log line,
never in a repr or an error message.

Docs: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
and .../authenticating-as-a-github-app-installation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any, Awaitable, Callable, Protocol

import aiohttp
import gidgethub
import jwt

from bot.forges.base import ForgeError
from bot.forges.github import DEFAULT_BASE_URL, RetryingGitHubAPI, translate_error
from bot.forges.ratelimit import RetryPolicy

log = logging.getLogger(__name__)

#: backdate `iat` by this much to allow for clock drift (GitHub's recommendation)
JWT_BACKDATE = 60
#: `exp` - `iat`; GitHub refuses an `exp` more than 10 minutes ahead
JWT_LIFETIME = 600
#: refresh an installation token this long before it expires (tokens last one hour)
REFRESH_MARGIN = 300.0


class TokenProvider(Protocol):
    """What a forge needs: a current token, and a way to drop it after a 401."""

    async def token(self) -> str: ...

    def invalidate(self) -> None: ...


class StaticToken:
    """A fixed token (a PAT for local use, or tests). Its repr never shows the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("empty token")
        self._value = value

    async def token(self) -> str:
        return self._value

    def invalidate(self) -> None:
        """A static token cannot be refreshed; the next call fails the same way."""

    def __repr__(self) -> str:
        return "StaticToken(***)"


class GitHubApp:
    """A GitHub App identity: app id + private key. Hands out one token cache per installation."""

    def __init__(
        self,
        app_id: int | str,
        private_key: str | bytes,
        *,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        retry: RetryPolicy = RetryPolicy(),
        refresh_margin: float = REFRESH_MARGIN,
    ) -> None:
        self.app_id = str(app_id)
        self._private_key = private_key
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._api = RetryingGitHubAPI(
            session, f"trustacks-app-{self.app_id}", base_url=base_url, sleep=sleep, clock=clock, policy=retry
        )
        self._installations: dict[int, InstallationTokens] = {}

    def __repr__(self) -> str:
        return f"GitHubApp(app_id={self.app_id!r}, private_key=***)"

    def jwt(self) -> str:
        """A fresh App JWT: iss = app id, iat = now - 60 s, exp = iat + 10 min."""
        issued = int(self._clock()) - JWT_BACKDATE
        payload = {"iat": issued, "exp": issued + JWT_LIFETIME, "iss": self.app_id}
        return jwt.encode(payload, self._private_key, algorithm="RS256")

    def installation(self, installation_id: int) -> InstallationTokens:
        """The token cache for one installation (the same object on every call)."""
        key = int(installation_id)
        if key not in self._installations:
            self._installations[key] = InstallationTokens(self, key)
        return self._installations[key]

    async def _exchange(self, installation_id: int) -> tuple[str, float, dict[str, str] | None]:
        """POST /app/installations/{id}/access_tokens; returns (token, expires_at epoch, permissions granted)."""
        path = f"/app/installations/{int(installation_id)}/access_tokens"
        try:
            data = await self._api.post(path, data=b"", jwt=self.jwt())
        except gidgethub.HTTPException as exc:
            raise translate_error(exc, "POST", path, None) from None
        except aiohttp.ClientError as exc:
            raise ForgeError(f"GitHub POST {path}: network error ({type(exc).__name__}); the job will be retried") from None
        token = str(data["token"])
        expires_at = _parse_time(data.get("expires_at")) or (self._clock() + 3600.0)
        log.info("github: installation %s token issued, expires at %s", installation_id,
                 dt.datetime.fromtimestamp(expires_at, dt.timezone.utc).isoformat())
        granted = data.get("permissions")
        permissions = {str(k): str(v) for k, v in granted.items()} if isinstance(granted, dict) else None
        return token, expires_at, permissions


class InstallationTokens:
    """An installation token, fetched on first use and refreshed `refresh_margin` before expiry."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        #: what the installation granted, as the last token exchange reported it (None until then)
        self.permissions: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"InstallationTokens(installation_id={self.installation_id}, token=***)"

    @property
    def expires_at(self) -> float:
        return self._expires_at

    def _fresh(self) -> bool:
        return self._token is not None and self.app._clock() < self._expires_at - self.app._refresh_margin

    async def token(self) -> str:
        if self._fresh():
            return self._token  # type: ignore[return-value]
        async with self._lock:  # one exchange even when many calls find the cache stale at once
            if not self._fresh():
                self._token, self._expires_at, self.permissions = await self.app._exchange(self.installation_id)
            return self._token  # type: ignore[return-value]

    def invalidate(self) -> None:
        """Drop the cached token (after a 401): the next call exchanges a new one."""
        self._token = None
        self._expires_at = 0.0


def _parse_time(value: Any) -> float | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
