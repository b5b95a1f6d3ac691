"""`trustacks mcp`: serve the read-only MCP server over stdio (default) or streamable HTTP.

    trustacks mcp [--transport stdio|streamable-http] [--platform-repo PATH] [--repo NAME=PATH]...
                  [--pack NAME]... [--overlay DIR] [--rules-dir DIR] [--waiver-keys-dir DIR]
                  [--host 127.0.0.1] [--port 8765]
                  [--token-file FILE]

The policy layers (rules dir, packs, overlay) are fixed here, by the operator; no tool argument
can change them. Packs default to none (constitution only), as `trustacks serve` does without
TRUSTACKS_POLICY_PACKS: pass the same `--pack` list as the service so verdicts match its gate.
Over stdio nothing but MCP messages is written to stdout; diagnostics go to stderr.
"""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_PORT = 8765


def _repo_option(values: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{value!r}: use NAME=PATH, e.g. acme/payments=../payments", param_hint="--repo")
        out[name] = Path(path)
    return out


@click.command("mcp")
@click.option("--transport", type=click.Choice(("stdio", "streamable-http")), default="stdio", show_default=True)
@click.option("--platform-repo", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The platform repo (holds .trustacks/profile.yaml); tools read only configured repos.")
@click.option("--repo", "repos", multiple=True, metavar="NAME=PATH",
              help="Another repository tools may read (discover, evaluate), named owner/name. Repeatable.")
@click.option("--platform-name", default=None, help="The platform repo's name (default: platform.repo in its Profile).")
@click.option("--pack", "packs", multiple=True, metavar="NAME", help="Compliance pack to load (repeatable); default none.")
@click.option("--overlay", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The customer's overlay rules directory (package trustacks.overlay.*).")
@click.option("--rules-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Rules directory (default: the shipped rules/).")
@click.option("--waiver-keys-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Trusted waiver approvers' keys (<approver>.pub), as the bot's TRUSTACKS_WAIVER_KEYS_DIR.")
@click.option("--host", default="127.0.0.1", show_default=True, help="streamable-http: address to bind.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535), help="streamable-http: port.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="streamable-http: file holding the bearer token clients must send (required off loopback).")
def mcp_command(
    transport: str,
    platform_repo: Path,
    repos: tuple[str, ...],
    platform_name: str | None,
    packs: tuple[str, ...],
    overlay: Path | None,
    rules_dir: Path | None,
    waiver_keys_dir: Path | None,
    host: str,
    port: int,
    token_file: Path | None,
) -> None:
    """Serve TruStacks rules, verdicts and the Profile to coding agents over MCP (read-only)."""
    import anyio

    from bot.mcp_server.http import BindingError, check_binding, read_token, serve_http
    from bot.mcp_server.server import build_server
    from bot.mcp_server.service import McpService
    from bot.mcp_server.workspace import Workspace, WorkspaceError
    from bot.policy.engine import PolicyEngine, PolicyError

    token = None
    if transport == "streamable-http":
        try:
            token = read_token(str(token_file)) if token_file is not None else None
            check_binding(host, token)
        except BindingError as exc:
            raise click.UsageError(str(exc)) from None
    elif token_file is not None or host != "127.0.0.1":
        raise click.UsageError("--host and --token-file apply to --transport streamable-http only")
    try:
        workspace = Workspace(platform_repo, repos=_repo_option(repos), platform_name=platform_name)
    except WorkspaceError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        engine = PolicyEngine.load(rules_dir=rules_dir, packs=packs, overlay_dir=overlay)
    except PolicyError as exc:
        raise click.ClickException(f"policy could not be loaded: {exc} (fix the named file, or check --rules-dir/--overlay)") from None
    from bot.policy.keys import KeyFormatError
    from bot.policy.waivers import approver_keys

    try:
        waiver_keys = approver_keys(waiver_keys_dir) if waiver_keys_dir is not None else {}
    except KeyFormatError as exc:
        engine.close()
        raise click.ClickException(f"--waiver-keys-dir {waiver_keys_dir}: {exc}") from None
    server = build_server(McpService(engine, workspace, waiver_keys=waiver_keys))
    click.echo(f"trustacks mcp: {transport}, platform repo {workspace.platform.name} ({workspace.platform.root}), "
               f"{len(engine.rules())} rules, read-only", err=True)
    try:
        if transport == "stdio":
            server.run("stdio")
        else:
            click.echo(f"trustacks mcp: listening on http://{host}:{port}/mcp"
                       f"{' (bearer token required)' if token else ''}", err=True)
            anyio.run(lambda: serve_http(server, host=host, port=port, token=token))
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        engine.close()
