"""`trustacks mcp`: a read-only MCP server over the bot's own engines (issue #16, DESIGN.md §6).

Coding agents ask the same engines the CLI and the webhook handlers use: which rules exist, which
apply to a change, what the policy gate says about a proposed change and why, the Environment
Profile, discovery and the gap report. Deterministic: no language model is involved.

    workspace.py      the configured repositories, read-only and path-confined
    limits.py         size bounds on every argument, with errors that say the limit
    applicability.py  which rules apply to which paths (rule ASTs + the facts each file kind feeds)
    service.py        the tool bodies: plain functions over PolicyEngine, discovery, gaps, Profile
    server.py         the MCP surface (tools, resources, prompt) on the official SDK's MCPServer
    http.py           streamable HTTP: loopback by default, bearer token required elsewhere
    cli.py            `trustacks mcp`

Nothing here imports the SDK at package import time; `cli.py` loads it when the command runs.
"""
