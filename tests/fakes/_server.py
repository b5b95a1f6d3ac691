"""What the fake forges share: a loopback aiohttp server, a regex router over the raw path,
failure injection, request/write recording and page-numbered pagination with `Link` headers.

Routing uses the raw (still percent-encoded) path because GitLab puts `group%2Fproject` and
`dir%2Ffile` inside single path segments; path parameters reach handlers decoded.
"""

from __future__ import annotations

import json
import re
import traceback
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

Json = Any


class ApiError(Exception):
    """Raised by a handler: answer `status` with `body` (and `headers`)."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Reply:
    status: int = 200
    body: Json | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """One request as handlers see it."""

    method: str
    path: str  # decoded path without the API prefix
    params: dict[str, str]  # decoded path parameters
    query: dict[str, str]
    json: Json
    identity: Any
    url: str  # absolute URL of the request (for Link headers)


@dataclass
class Failure:
    status: int
    times: int
    headers: dict[str, str]
    body: Json
    method: str | None = None
    path: re.Pattern[str] | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return self.path is None or bool(self.path.search(path))


Handler = Callable[[Ctx], Awaitable[Reply]]


class FakeServer:
    """Base of the fake forges. Subclasses list routes and authenticate requests."""

    prefix = ""
    #: paths (regex on the decoded path) whose writes are not repository writes (e.g. token exchange)
    unrecorded: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.url = ""
        #: every request that reached a handler and was not a GET: (method, decoded path, json body)
        self.writes: list[tuple[str, str, Json]] = []
        #: every request: (method, decoded path with query, status answered)
        self.requests: list[tuple[str, str, int]] = []
        #: bugs in the fake itself (a handler raised): tests should assert this stays empty
        self.errors: list[str] = []
        self._failures: list[Failure] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (m, re.compile(p), h) for m, p, h in self.routes()
        ]
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ subclass API

    def routes(self) -> list[tuple[str, str, Handler]]:
        raise NotImplementedError

    def authenticate(self, request: web.Request, path: str) -> Any:
        """The caller's identity, or raise ApiError(401)."""
        raise NotImplementedError

    def default_headers(self, identity: Any) -> dict[str, str]:
        return {}

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> "FakeServer":
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ test controls

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Json = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` (after authentication)."""
        self._failures.append(
            Failure(status, times, dict(headers or {}), body, method, re.compile(path) if path else None)
        )

    def repo_writes(self) -> list[tuple[str, str, Json]]:
        return list(self.writes)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path
        path = raw[len(self.prefix):] if raw.startswith(self.prefix) else raw
        decoded = urllib.parse.unquote(path)
        method = request.method.upper()
        query = {k: v for k, v in request.rel_url.query.items()}
        shown = decoded + (("?" + request.rel_url.raw_query_string) if request.rel_url.raw_query_string else "")
        identity: Any = None
        try:
            body = await request.read()
            payload: Json = None
            if body:
                try:
                    payload = json.loads(body)
                except ValueError:
                    raise ApiError(400, {"message": "Problems parsing JSON"}) from None
            identity = self.authenticate(request, decoded)
            for failure in self._failures:
                if failure.times > 0 and failure.matches(method, decoded):
                    failure.times -= 1
                    raise ApiError(failure.status, failure.body, failure.headers)
            for m, pattern, handler in self._routes:
                match = pattern.match(path)
                if match and m == method:
                    params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items() if v is not None}
                    if method not in ("GET", "HEAD") and not any(re.search(u, decoded) for u in self.unrecorded):
                        self.writes.append((method, decoded, payload))
                    ctx = Ctx(method, decoded, params, query, payload, identity, str(request.url))
                    reply = await handler(ctx)
                    break
            else:
                raise ApiError(404, self.not_found_body())
        except ApiError as err:
            reply = Reply(err.status, err.body, err.headers)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test to see
            self.errors.append(f"{method} {shown}: {traceback.format_exc()}")
            reply = Reply(500, {"message": f"fake server bug: {type(exc).__name__}: {exc}"})
        self.requests.append((method, shown, reply.status))
        headers = {**self.default_headers(identity), **reply.headers}
        if isinstance(reply.body, bytes):
            headers.setdefault("Content-Type", "application/octet-stream")
            return web.Response(status=reply.status, body=reply.body, headers=headers)
        if reply.body is None and reply.status == 204:
            return web.Response(status=204, headers=headers)
        headers["Content-Type"] = "application/json; charset=utf-8"
        return web.Response(status=reply.status, text=json.dumps(reply.body), headers=headers)

    def not_found_body(self) -> Json:
        return {"message": "Not Found"}

    # ------------------------------------------------------------------ helpers for handlers

    @staticmethod
    def page(ctx: Ctx, items: list[Json], *, default_per_page: int, max_per_page: int) -> tuple[list[Json], dict[str, str]]:
        """Slice `items` by ?page&per_page and build `Link` (rel next/last) and GitLab's x-* headers."""
        try:
            per_page = max(1, min(int(ctx.query.get("per_page", default_per_page)), max_per_page))
            page = max(1, int(ctx.query.get("page", 1)))
        except ValueError:
            raise ApiError(400, {"message": "invalid page"}) from None
        total_pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        parts = urllib.parse.urlsplit(ctx.url)

        def link(n: int) -> str:
            q = dict(urllib.parse.parse_qsl(parts.query))
            q.update({"page": str(n), "per_page": str(per_page)})
            return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(q), ""))

        rels = []
        if page < total_pages:
            rels.append(f'<{link(page + 1)}>; rel="next"')
        if page > 1:
            rels.append(f'<{link(page - 1)}>; rel="prev"')
        rels.append(f'<{link(1)}>; rel="first"')
        rels.append(f'<{link(total_pages)}>; rel="last"')
        headers = {
            "Link": ", ".join(rels),
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-total": str(len(items)),
            "x-total-pages": str(total_pages),
            "x-next-page": str(page + 1) if page < total_pages else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
        }
        return chunk, headers
