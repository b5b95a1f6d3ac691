"""The MCP surface of TruStacks on the official SDK's `MCPServer`: tools, resources and one prompt.

Every tool is a few lines that call `McpService` and turn its refusals into MCP tool errors
(`ToolError`: the call returns `isError` with the message, the server keeps running). Every tool is
annotated read-only, non-destructive and closed-world, and `service.py` keeps it so.

Tools (registered in `TOOLS`, one line each; tests/mcp checks the list against the live server):
`rules_list`, `rule_show`, `rules_for_change`, `evaluate`, `explain`, `profile_show`, `discover`,
`gaps`. Resources: `trustacks://profile`, `trustacks://rules` (index), `trustacks://rules/<ID>` (one
per active rule), `trustacks://gaps`. Prompt: `review_change`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Literal

from typing_extensions import TypedDict

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import ToolAnnotations
from pydantic import Field

from bot import __version__
from bot.mcp_server.limits import InputError
from bot.mcp_server.service import Unavailable
from bot.mcp_server.workspace import WorkspaceError
from bot.tree import PathEscapeError

if TYPE_CHECKING:
    from bot.mcp_server.service import McpService

NAME = "trustacks"
INSTRUCTIONS = (
    "TruStacks policy, read-only and deterministic. Agents propose, policy decides, humans approve. "
    "Before opening a pull request: `rules_for_change` for the paths you touch, then `evaluate` with the full "
    "new content of every changed file and your PR body; fix every denial (`explain` says why) and open the PR "
    "only when nothing is denied. Nothing here writes to a repository, the Profile, the policy or waivers."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

#: every tool the server offers, in the order clients list them
TOOLS: tuple[str, ...] = (
    "rules_list",
    "rule_show",
    "rules_for_change",
    "evaluate",
    "explain",
    "profile_show",
    "discover",
    "gaps",
)
REFUSALS = (InputError, Unavailable, PathEscapeError, WorkspaceError)


class FileSpec(TypedDict):
    """One file of a proposed change: its full new content, or null to delete it."""

    path: Annotated[str, Field(description="Path relative to the repository root, e.g. `Dockerfile`.")]
    content: Annotated[str | None, Field(description="The file's complete new text; null deletes the file.")]


@contextmanager
def refusals() -> Iterator[None]:
    """Anticipated refusals become MCP tool errors carrying the message; anything else stays a crash."""
    try:
        yield
    except REFUSALS as exc:
        raise ToolError(str(exc)) from None


def build_server(service: "McpService") -> MCPServer:
    """An MCPServer whose tools, resources and prompt all call `service`."""
    server = MCPServer(NAME, instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    tool = server.tool

    @tool(annotations=READ_ONLY)
    def rules_list(
        layer: Annotated[Literal["constitution", "packs", "overlay"] | None, Field(description="Only this layer.")] = None,
        pack: Annotated[str | None, Field(description="Only this compliance pack (e.g. soc2).")] = None,
    ) -> dict[str, Any]:
        """The active policy rules: ID, title, layer, severity, text (description) and remediation."""
        with refusals():
            return service.rules_list(layer=layer, pack=pack)

    @tool(annotations=READ_ONLY)
    def rule_show(rule_id: Annotated[str, Field(description="A rule ID such as TS-CRED-001.")]) -> dict[str, Any]:
        """One rule in full: text, remediation, controls, required tooling, the input facts it reads."""
        with refusals():
            return service.rule_show(rule_id)

    @tool(annotations=READ_ONLY)
    def rules_for_change(
        paths: Annotated[list[str], Field(description="Paths the change touches, e.g. [\"Dockerfile\"].")],
        profile: Annotated[str | None, Field(description="Profile YAML to judge tooling against (default: the platform repo's).")] = None,
    ) -> dict[str, Any]:
        """Which rules apply to a change touching these paths, and why (plus rules every change must meet)."""
        with refusals():
            return service.rules_for_change(paths, profile)

    @tool(annotations=READ_ONLY)
    def evaluate(
        files: Annotated[list[FileSpec], Field(description="Every changed file with its full new content.")],
        base_branch: Annotated[str | None, Field(description="Branch the PR targets (default main).")] = None,
        pr_body: Annotated[str | None, Field(description="The PR body you will open: rule IDs, ## Blast radius, ## Rollback, ## Why these tools.")] = None,
        repo: Annotated[str | None, Field(description="Configured repository the change is for (default: the platform repo).")] = None,
    ) -> dict[str, Any]:
        """Run the policy gate on a proposed change, exactly as the bot gates its own proposals.

        Returns the Decision (deny/warn with rule IDs, messages and because-trails), the cited rules
        with remediation, and the proposal as the gate saw it. Nothing is written or opened."""
        with refusals():
            return service.evaluate(files, base_branch=base_branch, pr_body=pr_body, repo=repo)

    @tool(annotations=READ_ONLY)
    def explain(
        rule_id: Annotated[str, Field(description="The rule to explain.")],
        decision: Annotated[dict[str, Any] | None, Field(description="A result of `evaluate` (or its `decision`), to show this rule's findings in it.")] = None,
    ) -> dict[str, Any]:
        """Why a rule exists and what it checks; with a decision, why it fired (its because-trail)."""
        with refusals():
            return service.explain(rule_id, decision)

    @tool(annotations=READ_ONLY)
    def profile_show() -> dict[str, Any]:
        """The Environment Profile of the platform repo: tooling per category, services, platform."""
        with refusals():
            return service.profile_show()

    @tool(annotations=READ_ONLY)
    def discover(
        path: Annotated[str, Field(description="`owner/name:sub/dir`, `owner/name`, or a path in the platform repo.")] = ".",
    ) -> dict[str, Any]:
        """Detect a configured repository's stack with evidence and the Profile changes it suggests (nothing is written)."""
        with refusals():
            return service.discover(path)

    @tool(annotations=READ_ONLY)
    def gaps() -> dict[str, Any]:
        """The Gap Analysis Report: rules the Profile's tooling cannot satisfy, by category and pack."""
        with refusals():
            return service.gaps()

    _add_resources(server, service)

    @server.prompt(name="review_change", title="Review this change against our policy")
    def review_change(paths: str = "", description: str = "") -> str:
        """Review a change against the TruStacks policy: the steps, and the rules that apply to its paths."""
        with refusals():
            return service.review_prompt(paths, description)

    return server


def _add_resources(server: MCPServer, service: "McpService") -> None:
    def resource(fn: Callable[[], str], uri: str, name: str, description: str, mime: str) -> None:
        def read() -> str:
            try:
                return fn()
            except REFUSALS as exc:
                raise ResourceError(str(exc)) from None

        server.add_resource(FunctionResource(uri=uri, name=name, description=description, mime_type=mime, fn=read))

    resource(lambda: service.profile_show()["yaml"], "trustacks://profile", "profile",
             "The Environment Profile (.trustacks/profile.yaml) of the platform repo.", "application/yaml")
    resource(lambda: _rules_index(service), "trustacks://rules", "rules",
             "Every active rule: ID, layer, severity, title.", "text/markdown")
    resource(service.gaps_markdown, "trustacks://gaps", "gaps",
             "The latest Gap Analysis Report for the platform repo's Profile.", "text/markdown")
    for meta in service.engine.rules():
        resource(_bind(service.rule_text, meta.id), f"trustacks://rules/{meta.id}", meta.id,
                 f"{meta.title} ({meta.layer_label}, {meta.severity})", "text/markdown")


def _bind(fn: Callable[[str], str], rule_id: str) -> Callable[[], str]:
    return lambda: fn(rule_id)


def _rules_index(service: "McpService") -> str:
    rows = [f"| `{m.id}` | {m.layer_label} | {m.severity} | {m.title} |" for m in service.engine.rules()]
    return "\n".join(["# Active rules", "", "| Rule | Layer | Severity | Title |", "|---|---|---|---|", *rows]) + "\n"
