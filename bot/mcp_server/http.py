"""Streamable HTTP for `trustacks mcp`: loopback by default, a bearer token required anywhere else.

The SDK's Starlette app serves the MCP endpoint (with its own Host/Origin checks against DNS
rebinding on loopback); `BearerAuth` wraps it and refuses, with 401 and before the SDK sees the
request, anything that does not carry `Authorization: Bearer <token>`. The token is compared in
constant time (`config.Secret.matches`) and never logged. `check_binding` refuses to start a server
bound to a non-loopback address without a token.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Awaitable, Callable

from bot.config import Secret

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]

LOOPBACK_NAMES = ("localhost",)
MIN_TOKEN_CHARS = 32
UNAUTHORIZED = {"error": "unauthorized", "message": "send Authorization: Bearer <token> (the token file given to trustacks mcp)"}


class BindingError(ValueError):
    """A listening address and token combination the server refuses to start with."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: Secret | None) -> None:
    """Refuse a non-loopback bind without a token, and a token too short to resist guessing."""
    if token is not None and len(token.reveal()) < MIN_TOKEN_CHARS:
        raise BindingError(f"the bearer token must be at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`)")
    if not is_loopback(host) and token is None:
        raise BindingError(
            f"--host {host} is not a loopback address: pass --token-file FILE so clients must send a bearer token, "
            "or bind to 127.0.0.1"
        )


def read_token(path: str) -> Secret:
    """The token from a file (first line, whitespace stripped); never from argv, where `ps` shows it."""
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.readline().strip()
    except OSError as exc:
        raise BindingError(f"cannot read the token file {path}: {exc.strerror}") from None
    if not value:
        raise BindingError(f"the token file {path} is empty")
    return Secret(value)


class BearerAuth:
    """ASGI middleware: HTTP requests need `Authorization: Bearer <token>`; others get 401."""

    def __init__(self, app: ASGIApp, token: Secret) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        presented = b""
        for name, value in scope.get("headers") or []:
            if name.lower() == b"authorization":
                presented = value
                break
        scheme, _, credential = presented.partition(b" ")
        if scheme.lower() == b"bearer" and credential and self.token.matches(credential.strip()):
            await self.app(scope, receive, send)
            return
        body = json.dumps(UNAUTHORIZED).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="trustacks-mcp"')]})
        await send({"type": "http.response.body", "body": body})


async def serve_http(server: Any, *, host: str, port: int, token: Secret | None, path: str = "/mcp") -> None:
    """Run the MCP server over streamable HTTP until cancelled (uvicorn, as the SDK's own runner does)."""
    import uvicorn

    check_binding(host, token)
    app: Any = server.streamable_http_app(streamable_http_path=path, host=host)
    if token is not None:
        app = BearerAuth(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()
