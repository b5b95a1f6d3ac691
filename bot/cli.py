"""The `trustacks` command line: one root group; each subcommand lives beside the engine it drives.

Subcommands are registered by one line each in `COMMANDS` ("module:attribute") and imported only
when used, so `trustacks --help` stays fast and one engine's import cost is paid only by its command.
"""

from __future__ import annotations

import importlib
import sys

import click

from bot import __version__

#: name -> "module:attribute" of a click.Command. One line per subcommand.
COMMANDS: dict[str, str] = {
    "demo": "bot.demo:demo_command",
    "serve": "bot.serve_cli:serve_command",
    "jobs": "bot.serve_cli:jobs_command",
    "discover": "bot.discovery.cli:discover_command",
    "generate": "bot.generate.cli:generate_command",
    "rule": "bot.policy.cli:rule_group",
    "policy": "bot.policy.cli:policy_group",
    "gaps": "bot.policy.cli:gaps_command",
    "bundle": "bot.policy.trust_cli:bundle_command",
    "keys": "bot.policy.trust_cli:keys_command",
    "constitution": "bot.policy.trust_cli:constitution_command",
    "audit": "bot.policy.trust_cli:audit_command",
    "waiver": "bot.policy.trust_cli:waiver_command",
    "mcp": "bot.mcp_server.cli:mcp_command",
    "setup": "bot.setup_github:setup_command",
}

#: one-line help shown by `trustacks --help` without importing the module
SHORT_HELP: dict[str, str] = {
    "demo": "Run the whole flow offline on a sample app (local forge, SQLite).",
    "serve": "Run the webhook service (signed ingress, durable queue, workers).",
    "jobs": "List webhook jobs; `jobs retry ID` re-queues a failed one.",
    "discover": "Detect a repo's stack with evidence and propose Profile changes.",
    "generate": "Generate CI, Dockerfile, Helm/Kustomize and Argo CD/Flux files from a Profile.",
    "rule": "List rules (`rule list [--layer] [--pack]`) or show one (`rule show ID`).",
    "policy": "Rego tests (`policy test [--coverage]`), the overlay ratchet linter (`policy lint`), `policy eval`.",
    "gaps": "Gap Analysis Report: rules the Profile's tooling cannot satisfy (md or json).",
    "bundle": "Build, sign and verify OPA policy bundles (`bundle build|sign|verify|release`).",
    "keys": "Generate an ES256 signing key pair (`keys generate`).",
    "constitution": "Verify the pinned constitution or upgrade it explicitly (`constitution verify|upgrade`).",
    "audit": "Verify the hash-chained audit log or show its entries (`audit verify|show`).",
    "waiver": "Sign a waiver or check a waiver file (`waiver sign|check`).",
    "mcp": "Serve rules, verdicts and the Profile to coding agents over MCP (read-only; stdio or HTTP).",
    "setup": "Register the GitHub App from app.yml (`setup github`: manifest flow, credentials saved 0600).",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="trustacks")
def cli() -> None:
    """TruStacks: a Git-native GitOps bot.

    Agents propose. Policy decides. Humans approve. Discovery reads your repos and proposes an
    Environment Profile; generators write CI, Dockerfiles, Helm/Kustomize and ArgoCD/Flux from it;
    layered Rego policy gates every proposal; every change is a PR a human merges.
    """


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="trustacks", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("interrupted", err=True)
        sys.exit(130)
