"""`trustacks setup github`: register the GitHub App from app.yml with GitHub's manifest flow.

The flow (as Probot runs it; https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):

1. A page on loopback (`http://127.0.0.1:PORT/`) shows the permissions and holds a form that POSTs
   the manifest to GitHub's `/settings/apps/new` (or `/organizations/ORG/settings/apps/new`) with a
   random `state`.
2. GitHub creates the App and sends the browser to the manifest's `redirect_url`, this page's
   `/setup/callback`, with a one-time `code` and the `state`.
3. The page checks the `state` and the Host header, exchanges the code
   (`POST /app-manifests/{code}/conversions`, valid for one hour) for the App's id, private key and
   webhook secret, and writes them: the key to a PEM file and the id, key path and webhook secret to
   the TOML file `trustacks serve --config` reads (bot/config.py), both created with mode 0600.

Secrets stay in `bot.config.Secret` from the moment they arrive: they are never printed, logged or
shown on a page, and the access log (which would record the one-time code) is off. GitHub's and the
API's base URLs are parameters, so GitHub Enterprise Server works and tests run against a fake.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import os
import re
import secrets
import tomllib
import urllib.parse
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

import click

from bot.config import Secret

GITHUB_URL = "https://github.com"
API_URL = "https://api.github.com"
CALLBACK_PATH = "/setup/callback"
DEFAULT_CONFIG = Path(".trustacks") / "trustacks.toml"
KEY_FILE_NAME = "github-app.pem"
#: top-level keys GitHub accepts in a manifest
MANIFEST_KEYS = frozenset({
    "name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description", "public",
    "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update",
})
_ORG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
#: the one-time code as GitHub issues it; anything else never reaches a URL
_CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")
_PAGE_STYLE = "body{font-family:system-ui,sans-serif;max-width:46em;margin:3em auto;padding:0 1em;line-height:1.5}" \
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}" \
    "button{font-size:1.1em;padding:.4em 1.2em}code{background:#f4f4f4;padding:0 .2em}"


class SetupError(click.ClickException):
    """The setup cannot continue; the message says why and how to retry (never a secret)."""


@dataclass(frozen=True)
class AppCredentials:
    """What GitHub returns for a new App, secrets wrapped so they cannot be printed by accident."""

    app_id: int
    slug: str
    name: str
    owner: str
    html_url: str
    private_key: Secret
    webhook_secret: Secret

    @property
    def install_url(self) -> str:
        return f"{self.html_url.rstrip('/')}/installations/new"


# --------------------------------------------------------------------------- the manifest


def default_manifest_path() -> Path | None:
    """app.yml of the checkout this package runs from, if any (a wheel does not carry it)."""
    import bot

    candidate = Path(bot.__file__).resolve().parent.parent / "app.yml"
    return candidate if candidate.is_file() else None


def load_manifest(path: Path) -> dict[str, Any]:
    """Read a manifest file (YAML) and check its shape; raise SetupError naming the problem."""
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise SetupError(f"cannot read the manifest {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SetupError(f"{path}: a manifest is a YAML mapping")
    unknown = sorted(set(data) - MANIFEST_KEYS)
    if unknown:
        raise SetupError(f"{path}: keys GitHub does not accept in a manifest: {', '.join(unknown)}")
    for key in ("name", "url", "default_permissions"):
        if not data.get(key):
            raise SetupError(f"{path}: the manifest needs {key!r}")
    perms = data["default_permissions"]
    if not isinstance(perms, dict) or any(v not in ("read", "write") for v in perms.values()):
        raise SetupError(f"{path}: default_permissions maps each permission to read or write")
    return data


def _check_url(value: str, what: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SetupError(f"{what}: expected an absolute http(s) URL, got {value!r}")
    return value


def prepare_manifest(
    manifest: Mapping[str, Any], *, webhook_url: str, redirect_url: str, name: str | None = None
) -> dict[str, Any]:
    """The manifest to post: this deployment's webhook URL and this page's callback filled in."""
    out = json.loads(json.dumps(dict(manifest)))  # a deep copy of plain JSON data
    out["hook_attributes"] = {**(out.get("hook_attributes") or {}), "url": webhook_url, "active": True}
    out["redirect_url"] = redirect_url
    if name:
        out["name"] = name
    return out


def api_url_for(github_url: str) -> str:
    """The REST API base for a GitHub web URL (GitHub Enterprise Server serves it under /api/v3)."""
    return API_URL if github_url.rstrip("/") == GITHUB_URL else github_url.rstrip("/") + "/api/v3"


def new_app_url(github_url: str, *, org: str | None, state: str) -> str:
    """Where the form posts the manifest: the personal or the organisation's new-App page."""
    base = github_url.rstrip("/")
    path = "/settings/apps/new" if org is None else f"/organizations/{urllib.parse.quote(org, safe='')}/settings/apps/new"
    return f"{base}{path}?{urllib.parse.urlencode({'state': state})}"


# --------------------------------------------------------------------------- the code exchange


async def exchange_code(session: Any, code: str, *, api_url: str) -> AppCredentials:
    """POST /app-manifests/{code}/conversions: the App's id, private key and webhook secret.

    https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest
    """
    import aiohttp
    import gidgethub
    import gidgethub.aiohttp

    if not _CODE.fullmatch(code):
        raise SetupError("GitHub's redirect carried a malformed code; run `trustacks setup github` again")
    gh = gidgethub.aiohttp.GitHubAPI(session, "trustacks-setup", base_url=api_url)
    try:
        data = await gh.post("/app-manifests/{code}/conversions", {"code": code}, data=b"",
                             accept="application/vnd.github+json")
    except gidgethub.BadRequest as exc:
        status = int(exc.status_code)
        if status in (404, 422):
            raise SetupError(
                f"GitHub did not accept the code ({status}): a code works once and for one hour. If the App "
                "was created, open it under Settings > Developer settings > GitHub Apps, generate a private "
                "key and set a webhook secret there (then write the config by hand, docs/install.md), or "
                "delete it and run `trustacks setup github` again."
            ) from None
        raise SetupError(f"GitHub refused the code exchange ({status}: {exc}); run the setup again") from None
    except gidgethub.GitHubBroken as exc:
        raise SetupError(f"GitHub failed the code exchange ({exc.status_code}); run the setup again") from None
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise SetupError(f"cannot reach {api_url} for the code exchange: {exc}; check the network, then "
                         "run the setup again") from None
    return _credentials(data)


def _credentials(data: Any) -> AppCredentials:
    if not isinstance(data, dict):
        raise SetupError("GitHub's answer to the code exchange is not a JSON object; run the setup again")
    pem, hook_secret, app_id = data.get("pem"), data.get("webhook_secret"), data.get("id")
    if not isinstance(app_id, int) or isinstance(app_id, bool) or app_id <= 0:
        raise SetupError("GitHub's answer has no App id; run the setup again")
    if not isinstance(pem, str) or "PRIVATE KEY-----" not in pem:
        raise SetupError("GitHub's answer has no private key; generate one on the App's settings page")
    if not isinstance(hook_secret, str) or not hook_secret.strip():
        raise SetupError("GitHub's answer has no webhook secret; set one on the App's settings page")
    owner = data.get("owner") if isinstance(data.get("owner"), dict) else {}
    return AppCredentials(
        app_id=app_id,
        slug=str(data.get("slug") or ""),
        name=str(data.get("name") or ""),
        owner=str(owner.get("login") or ""),
        html_url=str(data.get("html_url") or ""),
        private_key=Secret(pem if pem.endswith("\n") else pem + "\n"),
        webhook_secret=Secret(hook_secret.strip()),
    )


# --------------------------------------------------------------------------- writing the files


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character escaped (TOML 1.0 §String)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}.get(ch, f"\\u{code:04X}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_document(values: Mapping[str, str | int | bool], *, header: str = "") -> str:
    """Top-level `key = value` lines (the flat form bot/config.py reads)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in values.items():
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = toml_string(str(value))
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def check_targets(config_file: Path, key_file: Path, *, force: bool) -> None:
    """Refuse (before anything is created on GitHub) to overwrite files unless --force."""
    if config_file.resolve() == key_file.resolve():
        raise SetupError("--config and --key-file must be different files")
    for path in (config_file, key_file):
        if path.is_dir():
            raise SetupError(f"{path} is a directory; name a file")
        if path.exists() and not force:
            raise SetupError(f"{path} exists; pass --force to replace it, or choose another path")


def _write_private(path: Path, data: str, *, force: bool) -> None:
    """Create `path` with mode 0600 from the first byte (no window where it is readable by others)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never clobber without --force
    except FileExistsError:
        raise SetupError(f"{path} appeared while the setup ran; pass --force to replace it") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def write_credentials(
    creds: AppCredentials, *, config_file: Path, key_file: Path, api_url: str = API_URL, force: bool = False
) -> None:
    """Write the PEM key and the config file (both 0600); the config file loads with bot.config."""
    key_path = key_file.expanduser().absolute()
    values: dict[str, str | int | bool] = {
        "github_app_id": creds.app_id,
        "github_private_key_file": str(key_path),
        "github_webhook_secret": creds.webhook_secret.reveal(),
    }
    if api_url.rstrip("/") != API_URL:
        values["github_api_url"] = api_url.rstrip("/")
    header = (
        f"Written by `trustacks setup github` for the GitHub App {creds.name!r} ({creds.html_url}).\n"
        "Holds the App's webhook secret: keep it mode 0600. Use: trustacks serve --config THIS-FILE\n"
        "Other keys: docs/configuration.md (lower case, without the TRUSTACKS_ prefix)."
    )
    text = toml_document(values, header=header)
    tomllib.loads(text)  # what we write is what bot.config reads
    _write_private(key_path, creds.private_key.reveal(), force=force)
    _write_private(config_file.expanduser().absolute(), text, force=force)


# --------------------------------------------------------------------------- the local pages


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_PAGE_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def start_page(manifest: Mapping[str, Any], *, action: str, org: str | None) -> str:
    """The form that posts the manifest to GitHub, with the permissions it asks for."""
    rows = "".join(f"<tr><td><code>{html.escape(str(k))}</code></td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in sorted(dict(manifest.get("default_permissions") or {}).items()))
    events = ", ".join(f"<code>{html.escape(str(e))}</code>" for e in manifest.get("default_events") or [])
    where = f"the organisation <b>{html.escape(org)}</b>" if org else "your personal account"
    hook = html.escape(str((manifest.get("hook_attributes") or {}).get("url", "")))
    body = (
        f"<p>This creates the GitHub App <b>{html.escape(str(manifest.get('name')))}</b> in {where}. "
        f"GitHub will send webhooks to <code>{hook}</code>.</p>"
        f"<table><tr><th>Permission</th><th>Access</th></tr>{rows}</table>"
        f"<p>Events: {events}</p>"
        f"<form method=post action=\"{html.escape(action)}\">"
        f"<input type=hidden name=manifest value=\"{html.escape(json.dumps(manifest), quote=True)}\">"
        "<button type=submit>Create the GitHub App on GitHub</button></form>"
        "<p>GitHub then sends you back here, and the App's id, private key and webhook secret are saved "
        "to files on this machine. Nothing is shown on screen.</p>"
    )
    return _page("Set up TruStacks on GitHub", body)


def done_page(creds: AppCredentials, *, config_file: Path, key_file: Path) -> str:
    body = (
        f"<p>The GitHub App <b>{html.escape(creds.name)}</b> (id {creds.app_id}) exists. Saved, mode 0600:</p>"
        f"<ul><li>config: <code>{html.escape(str(config_file))}</code></li>"
        f"<li>private key: <code>{html.escape(str(key_file))}</code></li></ul>"
        f"<p>Next: <a href=\"{html.escape(creds.install_url)}\">install the App</a> on the repositories "
        "TruStacks may read (the platform repository and the app repositories), then start "
        f"<code>trustacks serve --config {html.escape(str(config_file))}</code>. You can close this page.</p>"
    )
    return _page("TruStacks is registered", body)


def error_page(message: str, *, status_hint: str = "") -> str:
    return _page("TruStacks setup failed", f"<p>{html.escape(message)}</p>{status_hint}")


# --------------------------------------------------------------------------- the flow


async def run_setup(
    manifest: Mapping[str, Any],
    *,
    webhook_url: str,
    config_file: Path,
    key_file: Path,
    github_url: str = GITHUB_URL,
    api_url: str | None = None,
    org: str | None = None,
    name: str | None = None,
    port: int = 3000,
    force: bool = False,
    timeout: float = 900.0,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
) -> AppCredentials:
    """Serve the setup pages on loopback until GitHub's redirect is handled; return the new App.

    `on_ready(url)` is called with the start page's URL once the port is open (the CLI prints it and
    opens a browser; tests drive the flow from it). Raises SetupError on failure or after `timeout`.
    """
    import aiohttp
    from aiohttp import web

    github_url, api_url, webhook_url = check_inputs(
        webhook_url=webhook_url, github_url=github_url, api_url=api_url, org=org, config_file=config_file,
        key_file=key_file, force=force)

    loop = asyncio.get_running_loop()
    done: asyncio.Future[AppCredentials] = loop.create_future()
    state = secrets.token_urlsafe(32)
    bound: dict[str, Any] = {}  # the port is known only once the socket is open

    def host_ok(request: web.Request) -> bool:
        """Only this loopback origin: a page on another site cannot reach us by DNS rebinding."""
        return request.host in bound["hosts"]

    def respond(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html", headers={
            "Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; form-action "
                                       f"{_origin(github_url)}; frame-ancestors 'none'; base-uri 'none'",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        })

    async def start(request: web.Request) -> web.Response:
        if not host_ok(request):
            return respond(error_page("Wrong host."), 403)
        if done.done():
            return respond(error_page("This setup has finished. Run `trustacks setup github` again."), 410)
        action = new_app_url(github_url, org=org, state=state)
        return respond(start_page(bound["manifest"], action=action, org=org))

    async def callback(request: web.Request) -> web.Response:
        if not host_ok(request):
            return respond(error_page("Wrong host."), 403)
        if done.done():
            return respond(error_page("This setup has finished. Run `trustacks setup github` again."), 410)
        given = request.query.get("state", "")
        if not secrets.compare_digest(given.encode(), state.encode()):
            return respond(error_page(
                "This answer does not belong to this setup (state mismatch). Start again from "
                f"http://127.0.0.1:{bound['port']}/ ."), 403)
        try:
            creds = await exchange_code(session, request.query.get("code", ""), api_url=api_url)
        except SetupError as exc:
            done.set_exception(exc)
            return respond(error_page(exc.message), 502)
        try:
            write_credentials(creds, config_file=config_file, key_file=key_file, api_url=api_url, force=force)
        except (OSError, SetupError) as exc:
            reason = exc.message if isinstance(exc, SetupError) else (exc.strerror or str(exc))
            err = SetupError(
                f"The App {creds.name!r} was created ({creds.html_url}) but its credentials could not be "
                f"saved: {reason}. Generate a new private key on the App's page, or delete the App and run "
                "the setup again."
            )
            done.set_exception(err)
            return respond(error_page(err.message), 500)
        done.set_result(creds)
        return respond(done_page(creds, config_file=config_file.absolute(), key_file=key_file.absolute()))

    app = web.Application()
    app.router.add_get("/", start)
    app.router.add_get(CALLBACK_PATH, callback)
    # no access log: the callback's query string carries the one-time code
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await runner.setup()
        helper: asyncio.Future[Any] | None = None
        try:
            site = web.TCPSite(runner, "127.0.0.1", port)
            try:
                await site.start()
            except OSError as exc:
                raise SetupError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); pass --port") from None
            actual = runner.addresses[0][1]
            bound.update(port=actual, hosts={f"127.0.0.1:{actual}", f"localhost:{actual}"})
            bound["manifest"] = prepare_manifest(
                manifest, webhook_url=webhook_url, redirect_url=f"http://127.0.0.1:{actual}{CALLBACK_PATH}", name=name
            )
            if on_ready is not None:
                result = on_ready(f"http://127.0.0.1:{actual}/")
                if inspect.isawaitable(result):
                    helper = asyncio.ensure_future(result)
            try:
                await asyncio.wait_for(asyncio.shield(done), timeout)
            except asyncio.TimeoutError:
                raise SetupError(
                    f"no answer from GitHub within {timeout:.0f} s; run `trustacks setup github` again"
                ) from None
            except SetupError:
                pass  # raised below, once the page saying so has been delivered
            if helper is not None:
                await asyncio.wait_for(helper, 30)
            return done.result()
        finally:
            if helper is not None and not helper.done():
                helper.cancel()
            await runner.cleanup()


def check_inputs(
    *, webhook_url: str, github_url: str, api_url: str | None, org: str | None, config_file: Path, key_file: Path,
    force: bool,
) -> tuple[str, str, str]:
    """The URLs checked and normalised (github, api, webhook), and the target files checked (before anything
    is created on GitHub); raises SetupError naming the flag to fix."""
    github_url = _check_url(github_url, "--github-url").rstrip("/")
    api_url = _check_url(api_url or api_url_for(github_url), "--api-url").rstrip("/")
    webhook_url = _check_url(webhook_url, "--webhook-url")
    if org is not None and not _ORG.fullmatch(org):
        raise SetupError(f"--org: {org!r} is not a GitHub organisation name")
    check_targets(config_file, key_file, force=force)
    return github_url, api_url, webhook_url


def describe_setup(
    manifest: Mapping[str, Any], *, webhook_url: str, config_file: Path, key_file: Path, github_url: str = GITHUB_URL,
    api_url: str | None = None, org: str | None = None, name: str | None = None, port: int = 3000,
    force: bool = False,
) -> list[str]:
    """What `run_setup` would do, as lines to print (`setup github --dry-run`): the same checks, no page
    served, no request to GitHub, no file written. Raises SetupError where the real run would."""
    github_url, api_url, webhook_url = check_inputs(
        webhook_url=webhook_url, github_url=github_url, api_url=api_url, org=org, config_file=config_file,
        key_file=key_file, force=force)
    where = f"127.0.0.1:{port}" if port else "127.0.0.1:<a free port>"
    prepared = prepare_manifest(manifest, webhook_url=webhook_url, redirect_url=f"http://{where}{CALLBACK_PATH}",
                                name=name)
    perms = dict(prepared.get("default_permissions") or {})
    owner = f"the organisation {org}" if org else "your personal account"
    replaced = [str(p) for p in (config_file, key_file) if p.exists()]
    return [
        "Dry run: no page is served, nothing is sent to GitHub, no file is written.",
        f"Would serve the setup page at http://{where}/ and post the manifest to "
        f"{new_app_url(github_url, org=org, state='STATE')} (STATE: a random value checked on the way back),",
        f"creating the GitHub App {prepared.get('name')!r} in {owner}:",
        f"  webhook URL:  {prepared['hook_attributes']['url']}",
        f"  redirect URL: {prepared['redirect_url']}",
        "  permissions:  " + ", ".join(f"{k}: {v}" for k, v in sorted(perms.items())),
        "  events:       " + (", ".join(str(e) for e in prepared.get("default_events") or []) or "none"),
        f"Then exchange GitHub's one-time code at {api_url}/app-manifests/CODE/conversions and write, mode 0600"
        + (f" (replacing {', '.join(replaced)})" if replaced else "") + ":",
        f"  {config_file}  (github_app_id, github_private_key_file, github_webhook_secret"
        + (", github_api_url)" if api_url != API_URL else ")"),
        f"  {key_file}  (the App's private key)",
    ]


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --------------------------------------------------------------------------- the command


@click.group("setup")
def setup_command() -> None:
    """Register TruStacks with a forge (`setup github`)."""


@setup_command.command("github")
@click.option("--webhook-url", required=True,
              help="Public URL of your `trustacks serve`'s GitHub endpoint, e.g. https://trustacks.example.com/webhooks/github.")
@click.option("--org", default=None, help="Create the App in this organisation (default: your personal account).")
@click.option("--name", default=None, help="App name (names are unique on GitHub; default: the manifest's).")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The App manifest (default: app.yml of this checkout).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG,
              show_default=True, help="TOML config file to write (App id, key path, webhook secret).")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Where to write the App's private key (default: {KEY_FILE_NAME} beside the config file).")
@click.option("--github-url", default=GITHUB_URL, show_default=True, help="GitHub Enterprise Server: https://HOST.")
@click.option("--api-url", default=None, help="REST API base (default: from --github-url; GHES: https://HOST/api/v3).")
@click.option("--port", type=click.IntRange(0, 65535), default=3000, show_default=True,
              help="Loopback port of the setup page (GitHub redirects the browser to it).")
@click.option("--timeout", type=click.IntRange(10, 86400), default=900, show_default=True,
              help="Seconds to wait for GitHub's answer.")
@click.option("--force", is_flag=True, help="Replace existing config and key files.")
@click.option("--no-browser", is_flag=True, help="Print the page's address instead of opening a browser.")
@click.option("--dry-run", is_flag=True,
              help="Check everything and print what would be registered and written; serve, send and write nothing.")
def setup_github_command(
    webhook_url: str, org: str | None, name: str | None, manifest_path: Path | None, config_file: Path,
    key_file: Path | None, github_url: str, api_url: str | None, port: int, timeout: int, force: bool,
    no_browser: bool, dry_run: bool,
) -> None:
    """Create the TruStacks GitHub App from its manifest and save its credentials (mode 0600).

    Opens a page on 127.0.0.1 that sends the manifest (app.yml) to GitHub; after you confirm on
    GitHub, the App's id, private key and webhook secret are written to --config and --key-file.
    No secret is printed. Then install the App and run `trustacks serve --config FILE`.
    """
    path = manifest_path or default_manifest_path()
    if path is None:
        raise SetupError("no app.yml beside this installation: pass --manifest PATH (app.yml from the "
                         "TruStacks repository)")
    manifest = load_manifest(path)
    key_file = key_file or config_file.parent / KEY_FILE_NAME
    parts = urllib.parse.urlsplit(webhook_url)
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
        click.echo("warning: the webhook URL is plain http; GitHub will send signed payloads in clear text",
                   err=True)
    if not parts.path.endswith("/webhooks/github"):
        click.echo("warning: `trustacks serve` receives GitHub webhooks at /webhooks/github; "
                   f"{webhook_url} does not end with it", err=True)
    if dry_run:
        for line in describe_setup(manifest, webhook_url=webhook_url, config_file=config_file, key_file=key_file,
                                   github_url=github_url, api_url=api_url, org=org, name=name, port=port,
                                   force=force):
            click.echo(line)
        return

    def ready(url: str) -> None:
        click.echo(f"Open {url} to create the GitHub App (waiting up to {timeout} s; Ctrl-C to stop).")
        if not no_browser:
            webbrowser.open(url)

    creds = asyncio.run(run_setup(
        manifest, webhook_url=webhook_url, config_file=config_file, key_file=key_file, github_url=github_url,
        api_url=api_url, org=org, name=name, port=port, force=force, timeout=float(timeout), on_ready=ready,
    ))
    click.echo(f"Created the GitHub App {creds.name!r} (id {creds.app_id}, owner {creds.owner or '-'}).")
    click.echo(f"Saved (mode 0600): {config_file} and {key_file}")
    click.echo(f"Next: install it on your repositories: {creds.install_url}")
    click.echo("Then: release and pin the signed policy (docs/install.md, \"Policy bundles\"), add "
               "policy_bundle_dir and policy_public_key_file to that file, and run:")
    click.echo(f"  trustacks serve --config {config_file}")
