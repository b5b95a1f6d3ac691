"""The bodies of the MCP tools: plain, synchronous, read-only functions over the bot's engines.

Each method checks its arguments (`limits.py`), calls the same engine the CLI and the webhook
handlers call (`PolicyEngine.rules/rule/evaluate`, `discovery.discover` + `profile_diff`,
`policy.gaps.gap_report`, `Profile.loads`), and returns a JSON-ready dict. Nothing here writes:
no repository, Profile, policy, waiver or store is ever opened for writing, and the policy layers
are fixed when the server starts (no argument can load, replace or extend one).

`change_proposal` turns an agent's proposed change into the same `bot.models.Proposal` the bot
builds for its own generation proposals, so `evaluate` gives the verdict the bot's gate would give.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from bot.citations import HEADINGS
from bot.mcp_server import applicability
from bot.mcp_server.limits import (
    MAX_PR_BODY_CHARS,
    MAX_PROFILE_CHARS,
    InputError,
    check_decision,
    check_files,
    check_paths,
    check_ref,
    check_rule_id,
    check_text,
)
from bot.mcp_server.workspace import Workspace
from bot.models import BRANCH_PREFIX, Decision, FileChange, Proposal, ProposalKind, ToolChoice, as_dict
from bot.pr_identity import input_hash
from bot.profile import PROFILE_PATH, Profile, ProfileError

if TYPE_CHECKING:
    from bot.policy.engine import PolicyEngine
    from bot.policy.rules_meta import RuleMeta

DEFAULT_BASE = "main"
DEFAULT_TITLE = "Change proposed by an agent (TruStacks MCP)"
HEAD_PREFIX = f"{BRANCH_PREFIX}mcp/"
PARAMS_HELPER = "trustacks.lib.util.params"
DISCOVER_SECONDS = 20.0
_PROFILE_REF = re.compile(r"\.trustacks/profile\.yaml#tooling\.([a-z_]+)\[(\d+)\]")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")

NO_PROFILE = (
    "the platform repo {repo} has no {path}; run the `discover` tool and open the proposed Profile as a PR "
    "(`trustacks discover PATH` does the same offline)"
)
BAD_PROFILE = "the Profile in {repo} cannot be read: {error}; fix it in a PR, then retry"
NEXT_DENY = "Fix each denial (see `remediation`), then call evaluate again; `explain` shows a rule's full text."
NEXT_WARN = "Nothing is denied; read the warnings before opening the PR."
NEXT_PASS = "Nothing is denied or warned; a human still reviews and merges the PR."


class Unavailable(ValueError):
    """The repository state does not allow an answer (no Profile, a broken Profile, a policy error)."""


class McpService:
    """What the MCP tools do, independent of the transport (tests call it directly too)."""

    def __init__(self, engine: "PolicyEngine", workspace: Workspace, *, discover_seconds: float = DISCOVER_SECONDS,
                 waiver_keys: Mapping[str, bytes] | None = None) -> None:
        self.engine = engine
        self.workspace = workspace
        #: trusted approvers' keys (--waiver-keys-dir), as the bot's TRUSTACKS_WAIVER_KEYS_DIR
        self.waiver_keys = dict(waiver_keys or {})
        self.discover_seconds = discover_seconds
        self._reads: dict[str, applicability.RuleReads] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ rules

    def reads(self) -> dict[str, applicability.RuleReads]:
        """What each rule reads, from the rule ASTs (computed once; the layers never change while serving)."""
        with self._lock:
            if self._reads is None:
                self._reads = applicability.rule_reads(self.engine.sources, self.engine.rules())
            return self._reads

    def rules_list(self, layer: str | None = None, pack: str | None = None) -> dict[str, Any]:
        from bot.policy.engine import LAYERS

        if layer is not None and layer not in LAYERS:
            raise InputError(f"layer must be one of {', '.join(LAYERS)}")
        if pack is not None and pack not in self.engine.packs:
            loaded = ", ".join(self.engine.packs) or "none"
            raise InputError(f"pack {str(pack)[:60]!r} is not loaded (loaded packs: {loaded})")
        metas = self.engine.rules(layer=layer, pack=pack)
        return {
            "count": len(metas),
            "rules": [self._meta_dict(m) for m in metas],
            "packs": self.engine.packs,
            "revisions": dict(self.engine.revisions),
        }

    def rule_show(self, rule_id: str) -> dict[str, Any]:
        meta = self._rule(rule_id)
        reads = self.reads().get(meta.id)
        out = self._meta_dict(meta)
        if reads is not None:
            out["reads"] = reads.to_dict()
            out["file_kinds"] = self._kinds_for(reads)
            out["parameters"] = self._params_for(reads)
        return out

    def rule_text(self, rule_id: str) -> str:
        """A rule as Markdown (the MCP resource for each rule)."""
        m = self._rule(rule_id)
        lines = [f"# {m.id}: {m.title}", "", f"Layer: {m.layer_label} · severity: {m.severity} · effects: {m.effects or 'deny'}"]
        if m.controls:
            lines.append(f"Controls: {', '.join(m.controls)}")
        for r in m.requires:
            tools = f" ({', '.join(r.tools)})" if r.tools else ""
            lines.append(f"Requires: {r.category}{tools}{': ' + r.purpose if r.purpose else ''}")
        if m.path:
            lines.append(f"Source: `{m.path}:{m.line}` (package `{m.package}`)")
        lines += ["", m.description, "", f"**Remediation:** {m.remediation}", ""]
        return "\n".join(lines)

    def rules_for_change(self, paths: Any, profile: Any = None) -> dict[str, Any]:
        clean = check_paths(paths)
        prof = self._profile_arg(profile)
        repo = self.workspace.platform
        infos = [applicability.classify_path(p, self.workspace.read_text(repo, p)) for p in clean]
        metas = self.engine.rules()
        by_files, every, judged_profile = applicability.applicable_rules(infos, metas, self.reads())

        def entry(a: applicability.Applicable) -> dict[str, Any]:
            d = self._meta_dict(a.meta) | {"scope": a.scope, "paths": a.paths, "because": a.because}
            if prof is not None and a.meta.requires:
                d["profile_tooling"] = _tooling_status(a.meta, prof)
            return d

        return {
            "paths": [i.to_dict() for i in infos],
            "rules": [entry(a) for a in by_files],
            "rule_ids": [a.meta.id for a in by_files],
            "every_change": [{"id": a.meta.id, "title": a.meta.title, "because": a.because} for a in every],
            "profile_rules": [{"id": a.meta.id, "title": a.meta.title, "because": a.because} for a in judged_profile],
            "current": self._current_findings(infos, {a.meta.id for a in by_files}),
            "method": (
                "Static: each rule's AST says which input facts it reads; each path's file kind says which facts "
                "it feeds (bot/policy/facts.py). A Dockerfile is also a build input, judged through the CI "
                "pipeline that builds it. Call `evaluate` with the file contents for the verdict."
            ),
        }

    # ------------------------------------------------------------------ evaluation

    def change_proposal(
        self, files: Any, *, base_branch: Any = None, pr_body: Any = None, repo: Any = None
    ) -> tuple[Proposal, Profile | None]:
        """The Proposal the bot's gate judges for an agent's change, and the Profile it is judged with."""
        changes = check_files(files)
        base = check_ref(base_branch) or DEFAULT_BASE
        body = check_text(pr_body, arg="pr_body", limit=MAX_PR_BODY_CHARS) or ""
        target = self.workspace.repo(repo)
        profile = self._platform_profile(required=False)
        file_changes = []
        for path, new in changes:
            old = self.workspace.read_text(target, path)
            if new is None and old is None:
                raise InputError(f"{path}: cannot delete a file that does not exist in {target.name}")
            file_changes.append(FileChange(path=path, new=new, old=old))
        kind = ProposalKind.PROFILE if (
            target == self.workspace.platform and any(f.path == PROFILE_PATH for f in file_changes)
        ) else ProposalKind.GENERATE
        digest = input_hash("mcp", target.name, [(f.path, f.new) for f in file_changes])
        proposal = Proposal(
            kind=kind,
            repo=target.name,
            base_branch=base,
            head_branch=f"{HEAD_PREFIX}{digest[:12]}",
            title=_title(body),
            summary=body,
            files=file_changes,
            tool_choices=_tool_choices(body, profile),
            blast_radius=_section_items(body, HEADINGS["blast_radius"]),
            rollback=_section_items(body, HEADINGS["rollback"]),
            details=body,
        )
        proposal.input_hash = digest
        return proposal, profile

    def evaluate(self, files: Any, base_branch: Any = None, pr_body: Any = None, repo: Any = None) -> dict[str, Any]:
        proposal, profile = self.change_proposal(files, base_branch=base_branch, pr_body=pr_body, repo=repo)
        decision = self.engine.evaluate(proposal, profile)
        return self.decision_report(proposal, self._with_waivers(proposal, decision))

    def _with_waivers(self, proposal: Proposal, decision: Decision) -> Decision:
        """The gate's waiver step on the platform repo's merged waiver file, as the bot applies it."""
        from bot.policy.waivers import WAIVERS_PATH, waive

        text = self.workspace.read_text(self.workspace.platform, WAIVERS_PATH)
        return waive(decision, text, trusted_keys=self.waiver_keys,
                     constitution_rules=[m.id for m in self.engine.rules(layer="constitution")],
                     repo=proposal.repo, paths=[f.path for f in proposal.files])

    def decision_report(self, proposal: Proposal, decision: Decision) -> dict[str, Any]:
        cited = []
        for rule_id in decision.cited_rules:
            meta = self._rule_or_none(rule_id)
            results = [{"effect": eff, "msg": v.msg, "because": list(v.because)}
                       for eff, items in (("deny", decision.deny), ("warn", decision.warn)) for v in items
                       if v.rule == rule_id]
            cited.append({
                "id": rule_id,
                "title": meta.title if meta else "",
                "layer": meta.layer_label if meta else "",
                "severity": meta.severity if meta else "",
                "remediation": meta.remediation if meta else "",
                "results": results,
            })
        verdict = decision.verdict
        return {
            "verdict": verdict,
            "allowed": decision.allowed,
            "decision": as_dict(decision),
            "citations": cited,
            "proposal": {
                "kind": proposal.kind.value,
                "repo": proposal.repo,
                "base_branch": proposal.base_branch,
                "head_branch": proposal.head_branch,
                "title": proposal.title,
                "files": [{"path": f.path, "action": f.action} for f in proposal.files],
                "blast_radius": list(proposal.blast_radius),
                "rollback": list(proposal.rollback),
                "profile_refs": [c.profile_ref for c in proposal.tool_choices],
            },
            "next_step": NEXT_DENY if verdict == "deny" else NEXT_WARN if verdict == "warn" else NEXT_PASS,
        }

    def explain(self, rule_id: str, decision: Any = None) -> dict[str, Any]:
        out = self.rule_show(rule_id)
        got = check_decision(decision)
        if got is not None:
            found = [
                {"effect": effect, "msg": str(v.get("msg", ""))[:2000],
                 "because": [str(b)[:2000] for b in v.get("because", []) if isinstance(b, str)][:50]}
                for effect in ("deny", "warn") for v in got.get(effect, []) if v.get("rule") == out["id"]
            ]
            out["in_decision"] = found
            out["in_decision_summary"] = (
                f"{out['id']} denied this change" if any(f["effect"] == "deny" for f in found)
                else f"{out['id']} warned about this change" if found
                else f"{out['id']} neither denied nor warned: the change satisfies it or it did not apply"
            )
        return out

    # ------------------------------------------------------------------ Profile, discovery, gaps

    def profile_show(self) -> dict[str, Any]:
        profile = self._platform_profile(required=True)
        assert profile is not None
        return {
            "repo": self.workspace.platform.name,
            "path": PROFILE_PATH,
            "yaml": self.workspace.profile_text(),
            "profile": profile.to_plain(),
            "services": [s.name for s in profile.services()],
        }

    def discover(self, path: Any = ".") -> dict[str, Any]:
        from bot.discovery import discover, profile_diff

        repo, rel = self.workspace.locate(path if path is not None else ".")
        tree = self.workspace.tree(repo, rel)
        result = discover(tree, repo=repo.name, max_seconds=self.discover_seconds)
        current = self._platform_profile(required=False)
        diff = profile_diff(current, [result], platform_repo=self.workspace.platform.name)
        return {
            "repo": repo.name,
            "path": rel,
            "complete": result.complete,
            "files_listed": result.files_listed,
            "files_read": result.files_read,
            "findings": as_dict(result.findings),
            "services": as_dict(result.services),
            "skipped": [{"path": p, "reason": r} for p, r in result.skipped],
            "profile_diff": {
                "is_empty": diff.is_empty,
                "markdown": diff.to_markdown(),
                "proposed_profile": None if diff.is_empty else diff.apply(current).dumps(),
            },
            "note": "Nothing was written. Propose Profile changes as a PR; the Profile is never changed silently.",
        }

    def gaps(self) -> dict[str, Any]:
        from bot.policy.engine import PolicyError
        from bot.policy.gaps import gap_report

        profile = self._platform_profile(required=True)
        assert profile is not None
        try:
            report = gap_report(profile, self.engine)
        except PolicyError as exc:
            raise Unavailable(f"the gap report could not be computed: {exc}") from None
        return report.to_dict() | {"markdown": report.to_markdown()}

    def review_prompt(self, paths: str = "", description: str = "") -> str:
        """The "review this change against our policy" prompt: deterministic text, no model involved."""
        desc = check_text(description, arg="description", limit=MAX_PR_BODY_CHARS) or ""
        raw = check_text(paths, arg="paths", limit=200_000) or ""
        wanted = [p.strip() for p in re.split(r"[\n,]", raw) if p.strip()]
        lines = [
            "Review this change against our TruStacks policy. Agents propose, policy decides, humans approve.",
            "",
            "1. Call `rules_for_change` with the paths the change touches; read each rule (`rule_show`).",
            "2. Call `evaluate` with every changed file's full new content and the PR body you will open. The PR",
            f"   body needs the rule IDs it implements, a `{HEADINGS['blast_radius']}` and a `{HEADINGS['rollback']}`",
            f"   section, and for tool choices a `{HEADINGS['why_tools']}` section citing Profile entries",
            "   (`.trustacks/profile.yaml#tooling.<category>[<n>]`).",
            "3. For every denial: fix the cause (the rule's remediation), then evaluate again. Never weaken a rule,",
            "   never remove a check from CI, never commit credentials; `explain` shows why a rule fired.",
            "4. Open the PR only when `evaluate` returns no denial; a human reviews and merges it.",
        ]
        if desc:
            lines += ["", "The change:", desc]
        if wanted:
            found = self.rules_for_change(wanted)
            lines += ["", "Rules that apply to these paths:"]
            lines += [f"- `{r['id']}` ({r['layer']}, {r['severity']}): {r['title']}" for r in found["rules"]]
            lines += [f"- `{r['id']}` (every change): {r['title']}" for r in found["every_change"]]
        return "\n".join(lines) + "\n"

    def gaps_markdown(self) -> str:
        return str(self.gaps()["markdown"])

    # ------------------------------------------------------------------ helpers

    def _rule(self, rule_id: Any) -> "RuleMeta":
        from bot.policy.engine import UnknownRule

        rid = check_rule_id(rule_id)
        try:
            return self.engine.rule(rid)
        except UnknownRule as exc:
            raise InputError(f"{exc}; rules_list lists the active rules") from None

    def _rule_or_none(self, rule_id: str) -> "RuleMeta | None":
        try:
            return self.engine.rule(rule_id)
        except KeyError:
            return None

    def _meta_dict(self, meta: "RuleMeta") -> dict[str, Any]:
        return meta.to_dict() | {"effects": meta.effects or "deny", "layer_label": meta.layer_label}

    def _kinds_for(self, reads: applicability.RuleReads) -> list[str]:
        kinds = [k.name for k in applicability.FILE_KINDS if set(k.feeds) & reads.fact_keys]
        if reads.helpers & set(applicability.BUILD_HELPERS):
            kinds += [k.name for k in applicability.FILE_KINDS if k.build_input and k.name not in kinds]
        return kinds

    def _params_for(self, reads: applicability.RuleReads) -> dict[str, Any]:
        """The effective layer parameters the rule reads (`util.params.<name>`), with their because-trail."""
        eff = self.engine.effective
        return {name: {"value": eff.values.get(name), "because": list(eff.because.get(name, ()))}
                for name in reads.members_of(PARAMS_HELPER) if name in eff.values}

    def _platform_profile(self, *, required: bool) -> Profile | None:
        name = self.workspace.platform.name
        try:
            profile = self.workspace.profile()
        except ProfileError as exc:
            raise Unavailable(BAD_PROFILE.format(repo=name, error=exc)) from None
        if profile is None and required:
            raise Unavailable(NO_PROFILE.format(repo=name, path=PROFILE_PATH))
        return profile

    def _profile_arg(self, profile: Any) -> Profile | None:
        """The `profile` argument (Profile YAML) or, when absent, the platform repo's Profile."""
        text = check_text(profile, arg="profile", limit=MAX_PROFILE_CHARS)
        if text is None:
            return self._platform_profile(required=False)
        try:
            return Profile.loads(text, path="profile argument")
        except ProfileError as exc:
            raise InputError(f"profile: {exc}") from None

    def _current_findings(self, infos: Sequence[applicability.PathInfo], rule_ids: set[str]) -> dict[str, Any]:
        """How the applicable rules judge the paths that exist now (unchanged files: pre-existing findings)."""
        from bot.policy.engine import POLICY_ERROR_ID

        repo = self.workspace.platform
        files = []
        for info in infos:
            if info.exists:
                text = self.workspace.read_text(repo, info.path)
                files.append(FileChange(path=info.path, new=text, old=text))
        if not files:
            return {"evaluated": [], "findings": []}
        proposal = Proposal(kind=ProposalKind.GENERATE, repo=repo.name, base_branch=DEFAULT_BASE,
                            head_branch=f"{HEAD_PREFIX}current", title="current state", summary="", files=files)
        decision = self.engine.evaluate(proposal, self._platform_profile(required=False))
        findings = [{"rule": v.rule, "effect": eff, "msg": v.msg, "because": list(v.because)}
                    for eff, items in (("deny", decision.deny), ("warn", decision.warn)) for v in items
                    if v.rule in rule_ids or v.rule == POLICY_ERROR_ID]
        return {"evaluated": [f.path for f in files], "findings": findings}


def _title(body: str) -> str:
    for line in body.splitlines():
        text = line.strip().lstrip("#").strip()
        if text:
            return text[:200]
    return DEFAULT_TITLE


def _section_items(body: str, heading: str) -> list[str]:
    """The items of a `## Heading` section of a PR body: bullet lines, else its non-empty lines."""
    lines = body.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.strip().startswith("## "):
            inside = line.strip().lower() == heading.lower()
            continue
        if inside and line.strip():
            out.append(line)
    bullets = [_BULLET.sub("", x).strip() for x in out if _BULLET.match(x)]
    items = bullets or [x.strip() for x in out]
    return [x[:500] for x in items if x][:100]


def _tool_choices(body: str, profile: Profile | None) -> list[ToolChoice]:
    """Profile entries the PR body cites (`.trustacks/profile.yaml#tooling.<category>[<n>]`)."""
    out: dict[str, ToolChoice] = {}
    for m in _PROFILE_REF.finditer(body):
        ref, category, index = m.group(0), m.group(1), int(m.group(2))
        tool = ""
        if profile is not None:
            try:
                entries = profile.tools(category)
            except KeyError:
                entries = []
            tool = entries[index].tool if index < len(entries) else ""
        out.setdefault(ref, ToolChoice(category=category, tool=tool or "unknown", profile_ref=ref))
    return list(out.values())[:200]


def _tooling_status(meta: "RuleMeta", profile: Profile) -> list[dict[str, Any]]:
    out = []
    for req in meta.requires:
        try:
            named = [e.tool for e in profile.tools(req.category)]
        except KeyError:
            named = []
        ok = bool(named) and (not req.tools or any(t in req.tools for t in named))
        out.append({"category": req.category, "needs": list(req.tools), "profile_names": named, "satisfied": ok})
    return out
