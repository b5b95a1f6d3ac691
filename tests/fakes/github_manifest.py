"""A fake of GitHub's App-manifest flow on loopback: the new-App pages and the code conversion API.

    async with FakeGitHubApps() as gh:      # gh.url serves both the web pages and the API
        ...  # a browser POSTs the manifest form to gh.url + /settings/apps/new?state=...
        gh.apps        # the Apps created, with their secrets (for assertions)
        gh.requests    # (method, path, status) of every request

It checks what GitHub checks before creating an App (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
the manifest is JSON with a name, a homepage url and a webhook url; every permission is a known
one at read or write (metadata read only); every event is subscribable and backed by a permission
that grants it. Then it answers like GitHub: 302 to the manifest's redirect_url with `code` and
`state`. `POST /app-manifests/{code}/conversions` (no authentication) answers 201 with the App's
id, pem, webhook_secret and client credentials once per code, and 404 afterwards or after expiry.
Kept apart from tests/fakes/github.py, whose REST fake routes JSON bodies only.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

#: repository and organisation permissions an App may ask for (a subset of GitHub's list)
PERMISSIONS = {
    "actions", "administration", "checks", "contents", "deployments", "environments", "issues", "metadata",
    "packages", "pages", "pull_requests", "repository_hooks", "repository_projects", "secret_scanning_alerts",
    "secrets", "security_events", "statuses", "vulnerability_alerts", "workflows", "members",
    "organization_administration", "organization_hooks", "organization_projects", "organization_secrets",
}
#: event -> permissions any one of which lets an App subscribe to it
EVENT_PERMISSIONS = {
    "push": {"contents"},
    "create": {"contents"},
    "delete": {"contents"},
    "pull_request": {"pull_requests"},
    "pull_request_review": {"pull_requests"},
    "pull_request_review_comment": {"pull_requests"},
    "issue_comment": {"issues", "pull_requests"},
    "issues": {"issues"},
    "label": {"issues", "pull_requests"},
    "check_run": {"checks"},
    "check_suite": {"checks"},
    "status": {"statuses"},
    "workflow_run": {"actions"},
    "repository": {"metadata"},
    "member": {"members"},
}


@dataclass
class CreatedApp:
    id: int
    slug: str
    name: str
    owner: str
    manifest: dict[str, Any]
    pem: str
    webhook_secret: str
    client_id: str
    client_secret: str
    code: str
    code_used: bool = False
    code_expired: bool = False


def manifest_errors(manifest: Any) -> list[str]:
    """What GitHub would refuse in a manifest, one message per problem (empty: acceptable)."""
    if not isinstance(manifest, dict):
        return ["manifest must be a JSON object"]
    errors = []
    if not isinstance(manifest.get("name"), str) or not manifest["name"].strip():
        errors.append("Name can't be blank")
    if not isinstance(manifest.get("url"), str) or not manifest["url"].startswith(("http://", "https://")):
        errors.append("Url must be a valid URL")
    hook = manifest.get("hook_attributes")
    if hook is not None and (not isinstance(hook, dict) or not str(hook.get("url", "")).startswith(("http://", "https://"))):
        errors.append("Hook url must be a valid URL")
    redirect = manifest.get("redirect_url")
    if redirect is not None and not str(redirect).startswith(("http://", "https://")):
        errors.append("Redirect url must be a valid URL")
    perms = manifest.get("default_permissions") or {}
    if not isinstance(perms, dict):
        return errors + ["default_permissions must be an object"]
    for perm, level in perms.items():
        if perm not in PERMISSIONS:
            errors.append(f"Unknown permission {perm}")
        elif level not in ("read", "write") or (perm == "metadata" and level != "read"):
            errors.append(f"Invalid access level {level!r} for {perm}")
    for event in manifest.get("default_events") or []:
        needs = EVENT_PERMISSIONS.get(event)
        if needs is None:
            errors.append(f"Default events unsupported: {event}")
        elif not needs & set(perms):
            errors.append(f"Default events are not supported by permissions: {event}")
    return errors


@dataclass
class FakeGitHubApps:
    url: str = ""
    apps: list[CreatedApp] = field(default_factory=list)
    #: manifests received, as posted (valid or not)
    manifests: list[Any] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(900001))
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> "FakeGitHubApps":
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/settings/apps/new", self._new_app)
        app.router.add_post("/organizations/{org}/settings/apps/new", self._new_app)
        app.router.add_post("/app-manifests/{code}/conversions", self._conversion)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def expire_codes(self) -> None:
        for app in self.apps:
            app.code_expired = True

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.requests.append((request.method, request.path, exc.status))
            raise
        self.requests.append((request.method, request.path, response.status))
        return response

    async def _new_app(self, request: web.Request) -> web.Response:
        """The 'Create GitHub App' step: GitHub shows a confirmation; the fake confirms at once."""
        form = await request.post()
        try:
            manifest = json.loads(str(form.get("manifest", "")))
        except ValueError:
            manifest = None
        self.manifests.append(manifest)
        errors = manifest_errors(manifest)
        if errors:
            return web.Response(status=422, content_type="text/html",
                                text="<ul>" + "".join(f"<li>{e}</li>" for e in errors) + "</ul>")
        owner = request.match_info.get("org", "octocat")
        app_id = next(self._ids)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
        created = CreatedApp(
            id=app_id, slug=re.sub(r"[^a-z0-9]+", "-", manifest["name"].lower()).strip("-"), name=manifest["name"],
            owner=owner, manifest=manifest, pem=pem, webhook_secret=secrets.token_hex(20),
            client_id=f"Iv1.{secrets.token_hex(8)}", client_secret=secrets.token_hex(20), code=secrets.token_hex(10),
        )
        self.apps.append(created)
        query = {"code": created.code}
        if "state" in request.query:
            query["state"] = request.query["state"]
        target = manifest.get("redirect_url") or f"{self.url}/apps/{created.slug}"
        raise web.HTTPFound(f"{target}?{urllib.parse.urlencode(query)}")

    async def _conversion(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        for app in self.apps:
            if secrets.compare_digest(app.code, code) and not app.code_used and not app.code_expired:
                app.code_used = True
                body = {
                    "id": app.id, "slug": app.slug, "node_id": f"A_{app.id}", "name": app.name,
                    "owner": {"login": app.owner, "type": "Organization" if app.owner != "octocat" else "User"},
                    "description": app.manifest.get("description"), "external_url": app.manifest["url"],
                    "html_url": f"{self.url}/apps/{app.slug}", "permissions": app.manifest.get("default_permissions", {}),
                    "events": app.manifest.get("default_events", []), "client_id": app.client_id,
                    "client_secret": app.client_secret, "webhook_secret": app.webhook_secret, "pem": app.pem,
                }
                return web.json_response(body, status=201)
        return web.json_response({"message": "Not Found",
                                  "documentation_url": "https://docs.github.com/rest/apps/apps"}, status=404)
