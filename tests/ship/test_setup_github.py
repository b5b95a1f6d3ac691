"""`trustacks setup github`: the manifest flow against a fake GitHub, driven by a scripted browser.

The browser loads the local page, submits its form to the fake's new-App page exactly as rendered,
follows GitHub's redirect back to the local callback; the fake validates the manifest as GitHub
does and answers the code conversion. The assertions are what matter to an operator: the App gets
the manifest's permissions and this deployment's webhook URL, the files are 0600 and load with
bot.config, and no secret is printed, logged or shown on a page.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from bot.cli import cli
from bot.config import load_settings
from bot.setup_github import (
    SetupError,
    api_url_for,
    load_manifest,
    new_app_url,
    run_setup,
    toml_document,
    toml_string,
    write_credentials,
)
from tests.fakes.github_manifest import FakeGitHubApps, manifest_errors

ROOT = Path(__file__).resolve().parents[2]
APP_YML = ROOT / "app.yml"
WEBHOOK = "https://trustacks.example.com/webhooks/github"


class Form(HTMLParser):
    """The first form of a page: its action and its inputs, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self.method = a.get("action", ""), a.get("method", "get").lower()
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


async def browse(start_url: str, *, before_callback=None) -> tuple[int, str]:
    """Load the start page, submit its form to GitHub, follow GitHub's redirect; the last page."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(start_url) as resp:
            assert resp.status == 200
            assert "form-action" in resp.headers["Content-Security-Policy"]
            form = Form()
            form.feed(await resp.text())
        assert form.method == "post" and form.action
        async with browser.post(form.action, data=form.fields, allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
            location = resp.headers["Location"]
        if before_callback is not None:
            await before_callback(location)
        async with browser.get(location) as resp:
            return resp.status, await resp.text()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secrets_of(app) -> list[str]:
    body = "".join(app.pem.splitlines()[1:-1])
    return [body[:40], body[-40:], app.webhook_secret, app.client_secret]


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "conf" / "trustacks.toml", tmp_path / "conf" / "github-app.pem"


# --------------------------------------------------------------------------- the flow


async def test_manifest_flow_creates_the_app_and_saves_loadable_private_files(paths, capsys, caplog):
    config, key = paths
    pages: list[tuple[int, str]] = []

    async def browser(url: str) -> None:
        pages.append(await browse(url))

    async with FakeGitHubApps() as gh:
        creds = await run_setup(load_manifest(APP_YML), webhook_url=WEBHOOK, config_file=config, key_file=key,
                                github_url=gh.url, api_url=gh.url, port=0, timeout=30, on_ready=browser)
    (app,) = gh.apps
    assert (creds.app_id, creds.owner, creds.install_url) == (app.id, "octocat", f"{gh.url}/apps/{app.slug}/installations/new")

    # what GitHub received: app.yml, with this deployment's webhook URL and this page's callback
    (posted,) = gh.manifests
    assert manifest_errors(posted) == []
    assert posted["hook_attributes"] == {"url": WEBHOOK, "active": True}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/setup/callback", posted["redirect_url"])
    manifest = load_manifest(APP_YML)
    assert posted["default_permissions"] == manifest["default_permissions"]
    assert posted["default_events"] == manifest["default_events"]
    assert [(m, p) for m, p, _ in gh.requests] == [
        ("POST", "/settings/apps/new"), ("POST", f"/app-manifests/{app.code}/conversions")]

    # the files: 0600, and exactly what `trustacks serve --config` reads
    assert mode(config) == 0o600 and mode(key) == 0o600 and mode(config.parent) == 0o700
    assert key.read_text() == app.pem
    settings_ = load_settings(env={}, file=config)
    assert settings_.warnings == ()
    assert settings_.github_app_id == app.id
    assert settings_.github_private_key.reveal() == app.pem.strip()  # bot.config strips the file
    assert settings_.github_webhook_secret.reveal() == app.webhook_secret
    assert settings_.github_api_url == gh.url

    # nothing secret on the page, on the terminal or in the logs
    ((status, page),) = pages
    assert status == 200 and "installations/new" in page and str(config) in page
    shown = page + capsys.readouterr().out + capsys.readouterr().err + caplog.text + repr(creds)
    for secret in secrets_of(app):
        assert secret not in shown
    assert app.client_secret not in config.read_text()  # the bot does no OAuth: not kept at all


async def test_organisation_variant_posts_to_the_org_page(paths):
    config, key = paths

    async with FakeGitHubApps() as gh:
        async def browser(url: str) -> None:
            status, _ = await browse(url)
            assert status == 200

        creds = await run_setup(load_manifest(APP_YML), webhook_url=WEBHOOK, config_file=config, key_file=key,
                                github_url=gh.url, api_url=gh.url, org="acme", name="TruStacks acme", port=0,
                                timeout=30, on_ready=browser)
    assert gh.requests[0][:2] == ("POST", "/organizations/acme/settings/apps/new")
    assert (creds.owner, creds.name) == ("acme", "TruStacks acme")


async def test_forged_callbacks_are_refused_and_do_not_end_the_flow(paths):
    """A wrong state (CSRF) or a foreign Host (DNS rebinding) is refused before any exchange."""
    config, key = paths

    async def probe(location: str) -> None:
        bad_state = re.sub(r"state=[^&]+", "state=forged", location)
        async with aiohttp.ClientSession() as s:
            async with s.get(bad_state) as resp:
                assert resp.status == 403
            async with s.get(location, headers={"Host": "attacker.example:80"}) as resp:
                assert resp.status == 403
            async with s.get(location.split("/setup")[0] + "/", headers={"Host": "attacker.example"}) as resp:
                assert resp.status == 403
        assert not any(p.startswith("/app-manifests") for _, p, _ in gh.requests)
        assert not config.exists()

    async with FakeGitHubApps() as gh:
        async def browser(url: str) -> None:
            status, _ = await browse(url, before_callback=probe)
            assert status == 200

        await run_setup(load_manifest(APP_YML), webhook_url=WEBHOOK, config_file=config, key_file=key,
                        github_url=gh.url, api_url=gh.url, port=0, timeout=30, on_ready=browser)
    assert config.exists() and key.exists()


async def test_spent_or_expired_code_fails_clearly_and_writes_nothing(paths):
    config, key = paths
    seen: list[tuple[int, str]] = []

    async with FakeGitHubApps() as gh:
        async def expire(_location: str) -> None:
            gh.expire_codes()

        async def browser(url: str) -> None:
            seen.append(await browse(url, before_callback=expire))

        with pytest.raises(SetupError, match="one hour"):
            await run_setup(load_manifest(APP_YML), webhook_url=WEBHOOK, config_file=config, key_file=key,
                            github_url=gh.url, api_url=gh.url, port=0, timeout=30, on_ready=browser)
    assert seen[0][0] == 502 and "one hour" in seen[0][1]
    assert not config.exists() and not key.exists()


async def test_existing_files_are_kept_unless_forced(paths):
    config, key = paths
    config.parent.mkdir()
    config.write_text("port = 9000\n")
    called = []
    with pytest.raises(SetupError, match="exists; pass --force"):
        await run_setup(load_manifest(APP_YML), webhook_url=WEBHOOK, config_file=config, key_file=key,
                        github_url="http://127.0.0.1:9", port=0, timeout=10, on_ready=called.append)
    assert called == [] and config.read_text() == "port = 9000\n"

    os.chmod(config, 0o644)
    async with FakeGitHubApps() as gh:
        async def browser(url: str) -> None:
            await browse(url)

        await run_setup(load_manifest(APP_YML), webhook_url=WEBHOOK, config_file=config, key_file=key,
                        github_url=gh.url, api_url=gh.url, port=0, timeout=30, force=True, on_ready=browser)
    assert mode(config) == 0o600 and "github_app_id" in config.read_text()


async def test_no_answer_times_out(paths):
    config, key = paths
    with pytest.raises(SetupError, match="no answer from GitHub within"):
        await run_setup(load_manifest(APP_YML), webhook_url=WEBHOOK, config_file=config, key_file=key,
                        github_url="http://127.0.0.1:9", port=0, timeout=0.2)
    assert not config.parent.exists()


def test_files_are_private_whatever_the_umask(tmp_path):
    from bot.config import Secret
    from bot.setup_github import AppCredentials

    creds = AppCredentials(app_id=7, slug="t", name="T", owner="o", html_url="https://github.com/apps/t",
                           private_key=Secret("-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n"),
                           webhook_secret=Secret('we"ird\\secret\n'))
    old = os.umask(0)
    try:
        write_credentials(creds, config_file=tmp_path / "c.toml", key_file=tmp_path / "k.pem",
                          api_url="https://ghe.example.com/api/v3")
    finally:
        os.umask(old)
    assert mode(tmp_path / "c.toml") == 0o600 and mode(tmp_path / "k.pem") == 0o600
    s = load_settings(env={}, file=tmp_path / "c.toml")
    assert s.github_webhook_secret.reveal() == 'we"ird\\secret'  # stripped, escaped, read back
    assert s.github_api_url == "https://ghe.example.com/api/v3"


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook-url", "ftp://x/webhooks/github"], "expected an absolute http(s) URL"),
        (["--webhook-url", WEBHOOK, "--org", "acme/evil"], "not a GitHub organisation name"),
        (["--webhook-url", WEBHOOK, "--manifest", "missing.yml"], "cannot read the manifest"),
        (["--webhook-url", WEBHOOK, "--config", "existing.toml"], "exists; pass --force"),
        (["--webhook-url", WEBHOOK, "--github-url", "github.com"], "--github-url: expected an absolute"),
    ],
)
def test_cli_refuses_bad_input_before_opening_a_port(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing.toml").write_text("port = 1\n")
    result = CliRunner().invoke(cli, ["setup", "github", "--no-browser", "--port", "0", *args])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Open http" not in result.output
    assert (tmp_path / "existing.toml").read_text() == "port = 1\n"


def test_cli_is_registered():
    result = CliRunner().invoke(cli, ["--help"])
    assert "setup" in result.output
    result = CliRunner().invoke(cli, ["setup", "github", "--help"])
    assert result.exit_code == 0 and "--webhook-url" in result.output


# --------------------------------------------------------------------------- app.yml


def test_app_manifest_asks_for_the_least_the_bot_uses():
    manifest = load_manifest(APP_YML)
    assert manifest["default_permissions"] == {
        "metadata": "read", "administration": "read", "contents": "write", "pull_requests": "write",
        "issues": "write", "checks": "write", "workflows": "write",
    }
    assert manifest["default_events"] == ["push", "pull_request", "issue_comment", "issues"]
    assert manifest["public"] is False and manifest["request_oauth_on_install"] is False
    assert manifest_errors(manifest) == []


def test_every_permission_and_event_says_why():
    text = APP_YML.read_text()
    block = re.search(r"^default_permissions:\n((?:  .*\n)+)", text, re.M)
    events = re.search(r"^default_events:\n((?:  .*\n)+)", text, re.M)
    assert block and events
    for line in block[1].splitlines() + events[1].splitlines():
        assert re.search(r"\S\s+#\s+\S{2,}", line), f"no reason given: {line.strip()}"


def test_urls_for_github_and_enterprise_server():
    assert api_url_for("https://github.com") == "https://api.github.com"
    assert api_url_for("https://ghe.example.com/") == "https://ghe.example.com/api/v3"
    assert new_app_url("https://github.com", org=None, state="s t") == "https://github.com/settings/apps/new?state=s+t"
    assert new_app_url("https://ghe.example.com", org="acme", state="x") == \
        "https://ghe.example.com/organizations/acme/settings/apps/new?state=x"


# --------------------------------------------------------------------------- TOML


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_toml_strings_round_trip(value):
    assert tomllib.loads(f"k = {toml_string(value)}")["k"] == value


def test_toml_document_reads_back_with_types():
    text = toml_document({"a": 1, "b": True, "c": "x\ny"}, header="two\nlines")
    assert text.startswith("# two\n# lines\n")
    assert tomllib.loads(text) == {"a": 1, "b": True, "c": "x\ny"}
