"""The Gap Analysis Report and the status page in a real headless Chromium (Debian's `chromium`).

Each test loads the page, reads the DOM Chromium built (`--dump-dom`), checks the charts and tables
carry the expected numbers and that an XSS probe stayed text, and saves a screenshot under
`test-artifacts/` (or $TRUSTACKS_TEST_ARTIFACTS). CI installs Chromium with `.ci/chromium.sh`; without
it these tests skip and say how to get it. Chromium only ever talks to 127.0.0.1 or file:// here.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from bot.audit import AuditLog
from bot.policy.gaps import Gap, gap_report
from bot.reports import build_view, render
from bot.status_page import status_routes

from .conftest import ROOT, complete_profile
from .test_status_page import TOKEN, XSS_REPO, seed

#: if this ever runs, it marks the page; the assertions look for the mark
PROBE = "<script>document.documentElement.setAttribute('data-pwned','1')</script>"
IMG_PROBE = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','2')\">"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio")
TIMEOUT = 90


def chromium_binary() -> str | None:
    for name in (os.environ.get("TRUSTACKS_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


BINARY = chromium_binary()
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="headless Chromium not found: run `bash .ci/chromium.sh` (installs Debian's chromium) "
           "or set TRUSTACKS_CHROMIUM to its path",
)


def artifacts() -> Path:
    path = Path(os.environ.get("TRUSTACKS_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


async def chromium(url: str, profile_dir: Path, *, screenshot: Path | None = None, size: str = "1280,2000") -> str:
    """Run Chromium once on `url`: the serialized DOM, or (with `screenshot`) the PNG written there."""
    args = [BINARY, *FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={size}"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = await asyncio.create_subprocess_exec(*args, url, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"chromium did not finish within {TIMEOUT}s on {url}") from None
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    if screenshot:
        assert screenshot.is_file() and screenshot.stat().st_size > 10_000, "no screenshot written"
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return out.decode("utf-8")


def chart_values(dom: str, chart_id: str) -> list[int]:
    """The numbers pygal printed on the bars of one chart, as Chromium's DOM has them."""
    start = dom.index(f'id="chart-{chart_id}"')
    end = dom.index("</svg>", start)
    return [int(v) for v in re.findall(r'<text[^>]*class="value"[^>]*>(\d+)</text>', dom[start:end])]


def assert_probe_inert(dom: str) -> None:
    assert "data-pwned=" not in dom, "an XSS probe ran"
    assert not re.search(r"<script\b", dom, re.I), "a script element made it into the DOM"
    assert not re.search(r"<img\b", dom, re.I), "an img element made it into the DOM"


async def test_gap_report_renders_its_charts_and_tables(engine, tmp_path: Path):
    profile = complete_profile(observability=False, ticketing=False)
    report = gap_report(profile, engine)
    hostile = Gap(rule="ACME-OVERLAY-001", title=f"Overlay {PROBE}", layer="overlay", severity="high",
                  category="ticketing", reasons=(f"because {IMG_PROBE}",), remediation="fix it")
    report = replace(report, gaps=[*report.gaps, hostile], profile=f"acme/{PROBE}")
    view = build_view(report, engine=engine, profile=profile)
    page = tmp_path / "gaps.html"
    page.write_text(render(report, engine=engine, profile=profile, fmt="html"), encoding="utf-8")

    dom = await chromium(page.as_uri(), tmp_path / "chrome")
    assert_probe_inert(dom)
    assert "Overlay &lt;script&gt;document.documentElement.setAttribute('data-pwned','1')&lt;/script&gt;" in dom
    assert dom.count("<svg") == 2
    assert sorted(chart_values(dom, "gaps-by-category")) == sorted(
        v for b in view.by_category for v in (b.satisfied, b.unsatisfiable) if v)
    assert sorted(chart_values(dom, "gaps-by-layer")) == sorted(
        v for b in view.by_pack for v in (b.satisfied, b.unsatisfiable) if v)
    assert re.search(r'id="stat-gaps">%d<' % len(report.gaps), dom)
    obs = re.search(r'<tr data-chart="category" data-label="observability">(.*?)</tr>', dom, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', obs) == ["0", "3"]
    rows = re.findall(r'<tr class="gap" data-rule="([^"]+)" data-category="([^"]+)"', dom)
    assert ("SOC2-CC7.2-001", "observability") in rows and ("ITIL-CHG-002", "ticketing") in rows
    assert len(rows) == len(report.gaps)

    await chromium(page.as_uri(), tmp_path / "chrome", screenshot=artifacts() / "gap-report.png")


async def test_status_page_renders_live_behind_its_token(aiohttp_server, store, engine, tmp_path: Path):
    audit = AuditLog(tmp_path / "audit.db")
    try:
        ids = await seed(store, audit)
        app = web.Application()
        assert status_routes(app, store=store, audit=audit, policy=engine, token=TOKEN)
        server = await aiohttp_server(app, host="127.0.0.1")
        base = f"http://127.0.0.1:{server.port}/"

        refused = await chromium(base, tmp_path / "chrome-anon")
        assert "queue-depth" not in refused  # no token: nothing but the 401

        url = f"http://operator:{TOKEN}@127.0.0.1:{server.port}/"
        dom = await chromium(url, tmp_path / "chrome")
        assert_probe_inert(dom)
        assert re.search(r'id="queue-depth">1<', dom) and re.search(r'id="count-dead">1<', dom)
        assert re.search(r'<tr class="job" data-state="dead"><td class="num">%d</td>' % ids["dead"], dom)
        assert "acme/&lt;script&gt;alert(1)&lt;/script&gt;" in dom and XSS_REPO not in dom
        assert 'id="audit-status">verified: 2 entries intact' in dom
        verdicts = re.findall(r'<tr class="decision" data-verdict="(\w+)">', dom)
        assert verdicts == ["warn", "deny"]  # newest first
        for layer, rev in engine.revisions.items():
            assert f"<td>{layer}</td><td><code>{rev}</code></td>" in dom

        await chromium(url, tmp_path / "chrome", screenshot=artifacts() / "status-page.png", size="1280,1600")
    finally:
        audit.close()
