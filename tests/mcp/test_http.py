"""Streamable HTTP: loopback by default, a bearer token required off loopback, 401 without it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bot.config import Secret
from bot.mcp_server.cli import mcp_command
from bot.mcp_server.http import BearerAuth, BindingError, check_binding, is_loopback, read_token

from tests.mcp.conftest import ROOT

TOKEN = "t0ken-" + "9" * 40


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls.append(scope["type"])


async def _request(app: BearerAuth, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await app({"type": "http", "method": "POST", "path": "/mcp", "headers": headers}, receive, send)
    return sent


async def test_bearer_auth_refuses_missing_and_wrong_tokens() -> None:
    inner = Recorder()
    app = BearerAuth(inner, Secret(TOKEN))
    for headers in ([], [(b"authorization", b"Bearer nope")], [(b"authorization", TOKEN.encode())],
                    [(b"authorization", b"Basic " + TOKEN.encode())]):
        sent = await _request(app, headers)
        assert sent[0]["status"] == 401 and inner.calls == []
        assert TOKEN.encode() not in sent[1]["body"]
    assert await _request(app, [(b"Authorization", b"bearer " + TOKEN.encode())]) == []
    await app({"type": "lifespan"}, None, None)
    assert inner.calls == ["http", "lifespan"]


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("10.0.0.5", False),
                                            ("example.com", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_rules(tmp_path: Path) -> None:
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", Secret(TOKEN))
    with pytest.raises(BindingError, match="not a loopback"):
        check_binding("0.0.0.0", None)
    with pytest.raises(BindingError, match="at least"):
        check_binding("127.0.0.1", Secret("short"))
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    assert read_token(str(f)).reveal() == TOKEN
    f.write_text("\n")
    with pytest.raises(BindingError, match="empty"):
        read_token(str(f))


def test_cli_refuses_to_listen_off_loopback_without_a_token(tmp_path: Path) -> None:
    runner = CliRunner()
    got = runner.invoke(mcp_command, ["--transport", "streamable-http", "--host", "0.0.0.0", "--platform-repo", str(tmp_path)])
    assert got.exit_code == 2 and "--token-file" in got.output
    got = runner.invoke(mcp_command, ["--token-file", str(tmp_path / "t"), "--platform-repo", str(tmp_path)])
    assert got.exit_code == 2 and "streamable-http only" in got.output
    got = runner.invoke(mcp_command, ["--repo", "nameonly", "--platform-repo", str(tmp_path)])
    assert got.exit_code == 2 and "NAME=PATH" in got.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not start listening")


async def test_streamable_http_with_a_token(platform_repo: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "mcp", "--transport", "streamable-http", "--port", str(port),
         "--token-file", str(token_file), "--platform-repo", str(platform_repo)],
        cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        await _wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        async with httpx2.AsyncClient() as anonymous:
            refused = await anonymous.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                result = await client.call_tool("rules_for_change", {"paths": ["Dockerfile"]})
                assert not result.is_error
                assert "TS-SUPPLY-001" in result.structured_content["rule_ids"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert TOKEN not in " ".join(proc.args)  # the token never appears in argv
