"""The policy input document: a proposal, its compact facts, the Profile and the PR (DESIGN.md §3, §7).

Rego decides on facts extracted here, never on raw file text: parsed CI steps and what they do
(`bot/policy/ci/`), secret-pattern hits by path:line (`secret_scan.py`), image references, the
Kubernetes objects that matter to the packs (Secrets, Ingresses, workloads, role bindings), plaintext
endpoints, credential files, auto-merge settings, change-record references and the sections of an
agent's PR body. File contents never enter the document. Each file's facts depend on that file
alone, so `PolicyEngine.evaluate` passes its `FactsCache` and an unchanged file costs one SHA-256.

Shape (every key always present; `pr` and `profile` may be null):

    {"proposal": {kind, repo, base_branch, head_branch, default_branch, protected_branches,
                  files: [{path, action}], cites_rules, blast_radius, rollback, profile_refs,
                  author, author_is_agent, title, has_details},
     "facts": {ci: [...], secrets, credential_files, images, k8s: {secrets, ingresses, workloads,
               bindings}, insecure_urls, auto_merge, profile_changed, profile_files,
               profile_refs_unresolved, change_refs, pr_body},
     "profile": {platform, tooling: {category: [{tool, source, settings, ref}]}, named, services},
     "pr": {number, author, author_is_agent, base, head, title, approvals: [{user, is_agent}], labels}}

For a human's PR in a watched repo the caller passes `pr` (its diff as the proposal's files); the
proposal kind is then `pull_request` and the author is the PR's author. The `pr` dict accepts
`author`, `author_is_agent` (else derived: `[bot]` suffix, `type: Bot`, or a known agent login),
`base`, `head`, `title`, `body`, `number`, `labels`, `default_branch`, `protected_branches`, and
`approvals` as logins or `{user, is_agent}` / `{login, type}` objects.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from bot.catalog import CATEGORY_NAMES
from bot.models import FileChange, Proposal, ProposalKind
from bot.policy.ci import parse_ci
from bot.policy.ci.classify import file_facts, merge_calls
from bot.policy.rules_meta import RULE_ID_RE
from bot.policy.secret_scan import scan_each
from bot.profile import PROFILE_PATH, Profile, ProfileError

AGENT_LOGIN = "trustacks[bot]"
MAX_FILES = 2000
MAX_FACT_BYTES = 1_000_000  # files larger than this are not read for facts

_RULE_IN_TEXT = re.compile(r"(?<![\w-])(?:TS|SOC2|HIPAA|PCI|FEDRAMP|ITIL)-[A-Za-z0-9.\-]*[A-Za-z0-9](?![\w-])")
_CHANGE_REF = re.compile(r"(?<![\w.-])(CHG\d{7}|[A-Z][A-Z0-9]{1,9}-\d{1,7})(?![\w.-])")
_PROFILE_REF = re.compile(r"^\.trustacks/profile\.yaml#tooling\.([a-z_]+)\[(\d+)\]$")


# ====================================================================== entry point


def build_input(
    proposal: Proposal,
    profile: Profile | None,
    *,
    pr: Mapping[str, Any] | None = None,
    default_branch: str | None = None,
    protected_branches: Sequence[str] = (),
    agent_logins: Sequence[str] = (AGENT_LOGIN,),
    cache: "FactsCache | None" = None,
) -> dict[str, Any]:
    """The policy input for one proposal (or one human PR, when `pr` says a human wrote it).

    With a `cache` (the engine's), file facts are reused across calls and the document shares parts
    with earlier ones: serialise it, do not change it.
    """
    pr_doc = _pr(pr, agent_logins) if pr is not None else None
    if proposal.kind is ProposalKind.PROFILE:
        profile = _proposed_profile(proposal) or profile  # the rules judge the Profile being proposed
    human = pr_doc is not None and not pr_doc["author_is_agent"]
    default = str((pr or {}).get("default_branch") or default_branch or proposal.base_branch)
    protected = sorted({default, *protected_branches, *((pr or {}).get("protected_branches") or [])})
    files = [f for f in proposal.files][:MAX_FILES]
    refs = [tc.profile_ref for tc in proposal.tool_choices]
    cites = list(dict.fromkeys([*getattr(proposal, "citations", []), *_rule_ids(proposal.title, proposal.summary, proposal.details)]))
    doc_proposal = {
        "kind": "pull_request" if human else proposal.kind.value,
        "repo": proposal.repo,
        "base_branch": pr_doc["base"] if pr_doc and pr_doc["base"] else proposal.base_branch,
        "head_branch": pr_doc["head"] if pr_doc and pr_doc["head"] else proposal.head_branch,
        "default_branch": default,
        "protected_branches": protected,
        "files": [{"path": f.path, "action": f.action} for f in files],
        "cites_rules": cites,
        "blast_radius": list(proposal.blast_radius),
        "rollback": list(proposal.rollback),
        "profile_refs": refs,
        "author": pr_doc["author"] if pr_doc else AGENT_LOGIN,
        "author_is_agent": pr_doc["author_is_agent"] if pr_doc else True,
        "title": proposal.title,
        "has_details": bool(proposal.details.strip()),
    }
    facts = file_facts_for(files, cache=cache)
    facts["profile_changed"] = any(f.path == PROFILE_PATH for f in files)
    facts["profile_files"] = [f.path for f in files if f.path == PROFILE_PATH]
    facts["profile_refs_unresolved"] = _unresolved(proposal, profile)
    texts = [proposal.title, proposal.summary, proposal.details]
    if pr is not None:
        texts += [str(pr.get("title") or ""), str(pr.get("body") or "")]
    facts["change_refs"] = sorted({m for t in texts for m in _CHANGE_REF.findall(t or "")})
    facts["pr_body"] = _pr_body(pr) if pr_doc is not None and pr_doc["author_is_agent"] else None
    return {
        "proposal": doc_proposal,
        "facts": facts,
        "profile": profile_doc(profile) if profile is not None else None,
        "pr": pr_doc,
    }


def file_facts_for(files: Iterable[FileChange], *, cache: "FactsCache | None" = None) -> dict[str, Any]:
    """Facts about the files of a change (new contents; deletions contribute nothing).

    Each file's facts depend on its path and contents alone (`_file_facts`), so with a `cache` an
    unchanged file costs a hash; only the calls between pipelines are joined across files. The
    result then shares parts with earlier results: treat it as read-only.
    """
    readable = [f for f in files if f.new is not None and len(f.new) <= MAX_FACT_BYTES and "\x00" not in f.new[:8192]]
    keys = [FactsCache.key(f) for f in readable] if cache is not None else []
    parts: list[_FileFacts | None] = [cache.get(k) for k in keys] if cache is not None else [None] * len(readable)
    missing = [i for i, part in enumerate(parts) if part is None]
    if missing:
        hits = scan_each([(readable[i].path, readable[i].new or "", readable[i].old) for i in missing])
        for i, found in zip(missing, hits):
            f = readable[i]
            part = _file_facts(f.path, f.new or "", old=f.old, secrets=[h.to_fact() for h in found])
            parts[i] = part
            if cache is not None:
                cache.put(keys[i], part)
    ci: dict[str, dict[str, Any]] = {}
    out: dict[str, Any] = {"ci": [], "secrets": [], "credential_files": [], "images": [],
                           "k8s": {"secrets": [], "ingresses": [], "workloads": [], "bindings": []},
                           "insecure_urls": [], "auto_merge": []}
    for part in parts:
        assert part is not None
        if part.ci is not None:
            ci[part.path] = dict(part.ci)  # merge_calls replaces lists in it: never touch the cached one
        for key in ("secrets", "credential_files", "images", "insecure_urls", "auto_merge"):
            out[key] += getattr(part, key)
        for key, items in part.k8s.items():
            out["k8s"][key] += items
    merge_calls(ci)
    for f in ci.values():
        f.pop("calls", None)
        out["ci"].append(f)
    return out


@dataclass(frozen=True)
class _FileFacts:
    """The facts of one file: a function of (path, new, old) only, so a cache may keep and share it."""

    path: str
    ci: Mapping[str, Any] | None
    secrets: list[dict[str, Any]]
    credential_files: list[dict[str, Any]]
    images: list[dict[str, Any]]
    k8s: Mapping[str, list[dict[str, Any]]]
    insecure_urls: list[dict[str, Any]]
    auto_merge: list[dict[str, Any]]


def _file_facts(path: str, text: str, *, old: str | None, secrets: list[dict[str, Any]]) -> _FileFacts:
    """Everything but the secret scan (done for many files in one pass) about one file."""
    creds: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    k8s: dict[str, list[dict[str, Any]]] = {}
    auto_merge: list[dict[str, Any]] = []
    ci_facts = None
    cred = credential_kind(path, text)
    if cred:
        creds.append({"path": path, "kind": cred})
    doc = parse_ci(path, text)
    if doc is not None:
        ci_facts = file_facts(doc)
        for ref, line in doc.images:
            images.append(image_fact(ref, path=path, line=line, source="ci"))
        auto_merge += ci_facts["auto_merge"]
    elif is_dockerfile(path):
        images += dockerfile_images(path, text)
    elif path.endswith((".yml", ".yaml")):
        kind = "manifest" if _looks_k8s(text) else ("compose" if _is_compose(path) else "config")
        images += yaml_images(path, text, source=kind)
        if kind == "manifest":
            objs = k8s_objects(path, text)
            k8s = {key: objs[key] for key in ("secrets", "ingresses", "workloads", "bindings")}
            if objs.get("kubeconfig"):
                creds.append({"path": path, "kind": "kubeconfig with user credentials"})
    urls = insecure_urls(path, text, old=old) if _is_config(path) else []
    how = auto_merge_config(path, text)
    if how:
        auto_merge.append({"at": f"{path}:{how[1]}", "how": how[0]})
    return _FileFacts(path=path, ci=ci_facts, secrets=secrets, credential_files=creds, images=images, k8s=k8s,
                      insecure_urls=urls, auto_merge=auto_merge)


class FactsCache:
    """Per-file facts by content digest, least recently used first out; one per `PolicyEngine`.

    A proposal is evaluated again on every push and most of its files are unchanged: their facts
    are a pure function of (path, new contents, old contents), so they are kept under the SHA-256
    of those and reused. Bounded by entry count; safe to share between threads.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, bytes, bytes | None], _FileFacts] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(f: FileChange) -> tuple[str, bytes, bytes | None]:
        def digest(text: str) -> bytes:
            return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()

        return (f.path, digest(f.new or ""), digest(f.old) if f.old is not None else None)

    def get(self, key: tuple[str, bytes, bytes | None]) -> _FileFacts | None:
        with self._lock:
            part = self._items.get(key)
            if part is not None:
                self._items.move_to_end(key)
            return part

    def put(self, key: tuple[str, bytes, bytes | None], part: _FileFacts) -> None:
        with self._lock:
            self._items[key] = part
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


# ====================================================================== profile and PR


def profile_doc(profile: Profile) -> dict[str, Any]:
    """The Profile as the rules see it: every category present, entries with their refs, no evidence."""
    tooling = {}
    for cat in CATEGORY_NAMES:
        tooling[cat] = [
            {"tool": e.tool, "source": e.source, "settings": dict(e.settings), "ref": e.ref} for e in profile.tools(cat)
        ]
    services = [
        {"name": s.name, "repo": s.repo, "path": s.path, "language": s.language, "framework": s.framework,
         "dockerfile": s.dockerfile, "chart": s.chart}
        for s in profile.services()
    ]
    return {
        "platform": profile.platform,
        "tooling": tooling,
        "named": [c for c in CATEGORY_NAMES if tooling[c]],
        "services": services,
    }


def _is_agent(login: str, kind: str | None, agents: Sequence[str]) -> bool:
    return login.endswith("[bot]") or (kind or "").lower() == "bot" or login in agents


def _pr(pr: Mapping[str, Any], agents: Sequence[str]) -> dict[str, Any]:
    author = str(pr.get("author") or pr.get("user") or "")
    is_agent = pr.get("author_is_agent")
    if is_agent is None:
        is_agent = _is_agent(author, pr.get("author_type"), agents)
    approvals = []
    for a in pr.get("approvals") or []:
        if isinstance(a, str):
            approvals.append({"user": a, "is_agent": _is_agent(a, None, agents)})
        elif isinstance(a, Mapping):
            if str(a.get("state", "APPROVED")).upper() not in ("APPROVED", "APPROVE"):
                continue
            user = str(a.get("user") or a.get("login") or "")
            flag = a.get("is_agent")
            approvals.append({"user": user, "is_agent": bool(flag) if flag is not None else _is_agent(user, a.get("type"), agents)})
    return {
        "number": pr.get("number"),
        "author": author,
        "author_is_agent": bool(is_agent),
        "base": str(pr.get("base") or ""),
        "head": str(pr.get("head") or ""),
        "title": str(pr.get("title") or ""),
        "approvals": approvals,
        "labels": [str(x) for x in pr.get("labels") or []],
    }


def _pr_body(pr: Mapping[str, Any]) -> dict[str, Any]:
    """Which required sections an agent's PR body still carries (a human may have edited it)."""
    from bot.citations import HEADINGS
    from bot.pr_identity import parse_marker

    body = str(pr.get("body") or "")
    ident = parse_marker(body)
    ids = sorted({m for m in re.findall(r"`([^`\s]+)`", body) if RULE_ID_RE.match(m)})
    return {
        "kind": ident.kind if ident else None,
        "rule_ids": ids,
        "blast_radius": _has_section(body, HEADINGS["blast_radius"]),
        "rollback": _has_section(body, HEADINGS["rollback"]),
        "profile_refs": _has_section(body, HEADINGS["why_tools"]) and "#tooling." in body,
    }


def _has_section(body: str, heading: str) -> bool:
    i = body.find(heading)
    if i < 0:
        return False
    rest = body[i + len(heading):]
    nxt = rest.find("\n## ")
    return bool((rest if nxt < 0 else rest[:nxt]).strip())


def _rule_ids(*texts: str) -> list[str]:
    return [m for t in texts for m in _RULE_IN_TEXT.findall(t or "")]


def _proposed_profile(proposal: Proposal) -> Profile | None:
    new = next((f.new for f in proposal.files if f.path == PROFILE_PATH and f.new is not None), None)
    if new is None:
        return None
    try:
        return Profile.loads(new)
    except ProfileError:
        return None


def _unresolved(proposal: Proposal, profile: Profile | None) -> list[str]:
    """Profile refs of the tool choices that name no entry of `profile` (for a Profile proposal: the new one)."""
    target = profile
    out = []
    for tc in proposal.tool_choices:
        m = _PROFILE_REF.match(tc.profile_ref)
        if not m or target is None:
            out.append(tc.profile_ref)
            continue
        cat, index = m.group(1), int(m.group(2))
        try:
            entries = target.tools(cat)
        except KeyError:
            out.append(tc.profile_ref)
            continue
        if index >= len(entries) or entries[index].tool != tc.tool:
            out.append(tc.profile_ref)
    return sorted(set(out))


# ====================================================================== images


def is_dockerfile(path: str) -> bool:
    name = posixpath.basename(path)
    low = name.lower()
    return low in ("dockerfile", "containerfile") or low.startswith(("dockerfile.", "containerfile.")) or low.endswith(".dockerfile")


def parse_image(ref: str) -> dict[str, Any]:
    """registry, name (registry/repository), tag and digest of an image reference."""
    rest, _, digest = ref.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, repo = first, remainder
    else:
        registry, repo = "docker.io", rest if "/" in rest else f"library/{rest}"
    tag = ""
    if ":" in repo.rsplit("/", 1)[-1]:
        repo, _, tag = repo.rpartition(":")
    return {"registry": registry, "name": f"{registry}/{repo}", "tag": tag, "digest": digest}


def image_fact(ref: str, *, path: str, line: int, source: str) -> dict[str, Any]:
    ref = ref.strip().strip("\"'")
    templated = any(t in ref for t in ("{{", "${", "$(", "$"))
    parsed = parse_image(ref) if not templated else {"registry": "", "name": ref, "tag": "", "digest": ""}
    return {
        "ref": ref,
        "at": f"{path}:{line}",
        "source": source,
        "registry": parsed["registry"],
        "name": parsed["name"],
        "pinned": "@sha256:" in ref,
        "templated": templated,
    }


_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?P<ref>\S+)(?:\s+AS\s+(?P<alias>\S+))?", re.I | re.M)


def dockerfile_images(path: str, text: str) -> list[dict[str, Any]]:
    out, stages = [], set()
    for m in _FROM.finditer(text):
        ref, alias = m.group("ref"), m.group("alias")
        if ref.lower() != "scratch" and ref not in stages:
            out.append(image_fact(ref, path=path, line=text.count("\n", 0, m.start()) + 1, source="dockerfile"))
        if alias:
            stages.add(alias)
    return out


_IMAGE_VALUE = re.compile(r"[ \t]*[\"']?(?P<ref>[^\s\"'#]+)")


def yaml_images(path: str, text: str, *, source: str) -> list[dict[str, Any]]:
    """`image:` values (found with str.find: a multi-line `^` regex tries every position)."""
    out: list[dict[str, Any]] = []
    line, pos = 1, 0
    i = text.find("image:")
    while i >= 0:
        bol = text.rfind("\n", 0, i) + 1
        prefix = text[bol:i].strip()
        if prefix in ("", "-"):
            m = _IMAGE_VALUE.match(text, i + 6)
            if m:
                line += text.count("\n", pos, i)
                pos = i
                ref = m.group("ref")
                if not (ref.startswith(("{", "|", ">", "[", "&", "*")) and not ref.startswith("{{")):
                    out.append(image_fact(ref, path=path, line=line, source=source))
        i = text.find("image:", i + 6)
    return out


def _is_compose(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name.startswith(("docker-compose", "compose."))


# ====================================================================== Kubernetes objects

_KIND = re.compile(r"kind:[ \t]*[\"']?([A-Za-z]+)")
_WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Pod", "Job", "CronJob", "ReplicaSet", "Rollout", "DeploymentConfig"})
_BATCH = frozenset({"Job", "CronJob", "Pod"})
_INTERESTING = _WORKLOADS | {"Secret", "Ingress", "RoleBinding", "ClusterRoleBinding", "Config"}
_PRIVILEGED = re.compile(r"^[ \t-]*privileged:[ \t]*true\b", re.M)
_HOST_NETWORK = re.compile(r"^[ \t-]*hostNetwork:[ \t]*true\b", re.M)
_HOST_PID = re.compile(r"^[ \t-]*hostPID:[ \t]*true\b", re.M)
_TLS = re.compile(r"^[ \t]+tls:", re.M)


def _looks_k8s(text: str) -> bool:
    return "apiVersion:" in text and "kind:" in text


def _has(body: str, word: str, pattern: re.Pattern[str]) -> bool:
    """A multi-line regex only where its key word occurs (a `^` regex otherwise tries every offset)."""
    return word in body and bool(pattern.search(body))


def _spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each YAML document, split on `---` lines."""
    spans, start = [], 0
    i = text.find("---") if text.startswith("---") else text.find("\n---")
    while i >= 0:
        cut = i if i == 0 and text.startswith("---") else i + 1  # the separator line starts here
        eol = text.find("\n", cut)
        eol = len(text) if eol < 0 else eol
        rest = text[cut + 3:eol].strip()
        if not rest or rest.startswith("#"):
            if cut > start:
                spans.append((start, cut))
            start = eol + 1
        i = text.find("\n---", eol)
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _kind(text: str, start: int, end: int) -> tuple[str, int] | None:
    """The top-level `kind:` of a document and its offset."""
    i = start if text.startswith("kind:", start) else text.find("\nkind:", start, end)
    if i < 0:
        return None
    i = i if text.startswith("kind:", i) else i + 1
    m = _KIND.match(text, i)
    return (m.group(1), i) if m else None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], key: str) -> tuple[int, list[str]]:
    """The index of top-level `key:` and the lines of its block (until the next top-level key)."""
    head = f"{key}:"
    for i, line in enumerate(lines):
        if line.startswith(head):
            body = []
            for nxt in lines[i + 1:]:
                if nxt.strip() and not nxt.startswith((" ", "\t", "-", "#")):
                    break
                body.append(nxt)
            return i, body
    return -1, []


def _child(block: list[str], key: str) -> str:
    """The value of the first `key:` at the block's first indentation level."""
    level = next((_indent(x) for x in block if x.strip() and not x.strip().startswith("#")), None)
    if level is None:
        return ""
    head = f"{key}:"
    for line in block:
        if _indent(line) == level and line.lstrip().startswith(head):
            return line.split(":", 1)[1].strip().strip("\"'")
    return ""


def k8s_objects(path: str, text: str) -> dict[str, Any]:
    """Secrets with values, Ingresses (TLS or not), workloads (privileges, probes), role bindings.

    Read from the text document by document (Helm templates are not YAML until rendered, and a
    regular expression per document is ~20x cheaper than a parse); only the kinds the rules look at
    are examined further.
    """
    out: dict[str, Any] = {"secrets": [], "ingresses": [], "workloads": [], "bindings": [], "kubeconfig": False}
    for start, end in _spans(text):
        found = _kind(text, start, end)
        if found is None or found[0] not in _INTERESTING:
            continue
        kind, offset = found
        at = f"{path}:{text.count(chr(10), 0, offset) + 1}"
        body = text[start:end]
        lines = body.split("\n")
        _, meta = _block(lines, "metadata")
        name = _child(meta, "name") or "(unnamed)"
        if kind == "Secret":
            values = []
            for key in ("data", "stringData"):
                _, blk = _block(lines, key)
                values += [x for x in blk if ":" in x and x.split(":", 1)[1].strip()]
            if any("{{" not in v for v in values):
                out["secrets"].append({"at": at, "name": name})
        elif kind == "Ingress":
            out["ingresses"].append({"at": at, "name": name, "tls": _has(body, "tls:", _TLS)})
        elif kind in _WORKLOADS:
            out["workloads"].append({
                "at": at, "kind": kind, "name": name,
                "privileged": _has(body, "privileged:", _PRIVILEGED),
                "host_network": _has(body, "hostNetwork:", _HOST_NETWORK),
                "host_pid": _has(body, "hostPID:", _HOST_PID),
                "probes": kind in _BATCH or ("livenessProbe:" in body and "readinessProbe:" in body),
            })
        elif kind in ("RoleBinding", "ClusterRoleBinding"):
            _, ref = _block(lines, "roleRef")
            _, subjects = _block(lines, "subjects")
            names = [x.split(":", 1)[1].strip().strip("\"'") for x in subjects if re.match(r"^\s*-?\s*name:", x)]
            out["bindings"].append({"at": at, "kind": kind, "role": _child(ref, "name"), "subjects": names})
        elif kind == "Config" and re.search(r"^users:", body, re.M) and re.search(
            r"^\s+(?:token|client-key-data|client-key|password):\s*\S", body, re.M
        ):
            out["kubeconfig"] = True
    return out


# ====================================================================== credential files, URLs, auto-merge

_KEY_FILE_SUFFIXES = (".p12", ".pfx", ".jks", ".keystore", ".publishsettings")


def credential_kind(path: str, text: str) -> str | None:
    """The kind of credential file this is, or None."""
    name = posixpath.basename(path).lower()
    if path.endswith(".aws/credentials") or (name == "credentials" and "aws_secret_access_key" in text):
        return "AWS credentials file"
    if name.endswith(".json") and '"service_account"' in text and '"private_key"' in text:
        return "GCP service account key file"
    if name == ".npmrc" and re.search(r"_authToken\s*=\s*(?!\$)\S", text):
        return "npm auth token file"
    if (path.endswith(".docker/config.json") or name == "config.json") and '"auths"' in text and re.search(r'"auth"\s*:\s*"[^"]+"', text):
        return "registry auth file"
    if name == ".pypirc" and re.search(r"^\s*password\s*[:=]\s*\S", text, re.M):
        return "PyPI credentials file"
    if name in (".netrc", "_netrc") and "password" in text:
        return "netrc credentials file"
    if name.endswith(_KEY_FILE_SUFFIXES):
        return "key store or publish profile"
    if (name.endswith((".pem", ".key")) or name in ("id_rsa", "id_ecdsa", "id_ed25519", "id_dsa")) and "PRIVATE KEY" in text:
        return "private key file"
    return None


_CONFIG_SUFFIXES = (".yml", ".yaml", ".json", ".toml", ".ini", ".cfg", ".conf", ".properties", ".tf", ".tfvars", ".env")
_HTTP = re.compile(r"http://(?P<host>[A-Za-z0-9.\-]+)(?::\d+)?[^\s\"'<>]*")
_LOCAL_HOSTS = re.compile(
    r"^(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|host\.docker\.internal|.*\.svc(?:\.cluster\.local)?|.*\.cluster\.local|"
    r".*\.local|.*\.internal|.*\.localhost|(?:www\.)?example\.(?:com|org|net)|www\.w3\.org|json-schema\.org|schemas\..*|"
    r"[a-z0-9-]+)$",  # a bare name (no dots) is an in-cluster or docker-compose service
    re.I,
)


def _is_config(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name.endswith(_CONFIG_SUFFIXES) or name.startswith(".env")


def insecure_urls(path: str, text: str, *, old: str | None = None) -> list[dict[str, Any]]:
    """Plain-HTTP endpoints to non-local hosts on lines this change adds."""
    if "http://" not in text:
        return []
    old_lines = {x.strip() for x in old.split("\n")} if old else set()
    out = []
    for m in _HTTP.finditer(text):
        host = m.group("host")
        if _LOCAL_HOSTS.match(host):
            continue
        line_no = text.count("\n", 0, m.start()) + 1
        line = text.split("\n", line_no)[line_no - 1] if line_no else ""
        if line.strip() in old_lines or "{{" in line or "xmlns" in line:
            continue
        out.append({"at": f"{path}:{line_no}", "url": m.group(0)[:200]})
    return out


_RENOVATE = ("renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", ".renovaterc.json5")


def auto_merge_config(path: str, text: str) -> tuple[str, int] | None:
    """A bot configuration that merges pull requests without a human: (how, line)."""
    name = posixpath.basename(path)
    if name in _RENOVATE or path in (".github/renovate.json", ".gitlab/renovate.json"):
        m = re.search(r"[\"']?automerge[\"']?\s*:\s*true", text)
        if m:
            return ("renovate automerge", text.count("\n", 0, m.start()) + 1)
    if name in (".mergify.yml", "mergify.yml", ".mergify.yaml") or path == ".github/mergify.yml":
        m = re.search(r"^\s+merge:", text, re.M)
        if m:
            return ("mergify merge action", text.count("\n", 0, m.start()) + 1)
    if name == ".kodiak.toml":
        return ("kodiak auto-merge", 1)
    return None
