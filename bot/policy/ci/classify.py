"""What pipeline steps do: build, push, test, SBOM, sign, attest, scan, authenticate, upload, merge.

The tables below are data: each entry names a capability, the canonical tool id (bot/catalog.py where
one exists) and a pattern over a step's shell text (`run`) or its action/task/image reference (`uses`).
Scanners also get a threshold: whether the step fails the build (`blocking`: True, False, or None
when it cannot be told) and the lowest severity it fails on, read from the tool's flags or inputs
with the tool's documented default. A step marked continue-on-error / allow_failure, or a command
followed by `|| true`, never blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from bot.policy.ci import CiDocument, Step
from bot.policy.rules_meta import SEVERITIES

# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Pattern:
    capability: str  # build | push | test | sbom | sign | provenance | sast | secret_scan | auto_merge
    tool: str
    run: re.Pattern[str] | None = None
    uses: re.Pattern[str] | None = None


def _r(p: str) -> re.Pattern[str]:
    return re.compile(p, re.I | re.M)


PATTERNS: tuple[Pattern, ...] = (
    # builds
    Pattern("build", "docker", run=_r(r"\b(?:docker|podman)\s+(?:buildx\s+)?build\b|\bbuildah\s+(?:bud|build)\b"),
            uses=_r(r"^docker/build-push-action|^Docker@\d|^task:(?:kaniko|buildah|s2i\S*|buildpacks\S*)$|kaniko-project/executor")),
    Pattern("build", "maven", run=_r(r"(?:^|[\s/])mvnw?\s|\bmvn\b"), uses=_r(r"^Maven@\d")),
    Pattern("build", "gradle", run=_r(r"(?:^|[\s/])gradlew?\s"), uses=_r(r"^Gradle@\d")),
    Pattern("build", "node", run=_r(r"\b(?:npm\s+(?:ci|install|run\s+build)|yarn(?:\s+install|\s+build)?|pnpm\s+(?:install|build))\b"), uses=_r(r"^Npm@\d")),
    Pattern("build", "python", run=_r(r"\b(?:pip3?\s+install|poetry\s+(?:install|build)|uv\s+(?:sync|build)|python3?\s+-m\s+build)\b")),
    Pattern("build", "go", run=_r(r"\bgo\s+(?:build|install)\b|\bko\s+build\b")),
    Pattern("build", "dotnet", run=_r(r"\bdotnet\s+(?:build|restore|publish)\b"), uses=_r(r"^DotNetCoreCLI@\d")),
    Pattern("build", "cargo", run=_r(r"\bcargo\s+build\b")),
    Pattern("build", "buildpacks", run=_r(r"\bpack\s+build\b")),
    # pushes (release artifacts)
    Pattern("push", "docker", run=_r(r"\b(?:docker|podman|buildah)\s+push\b|\bdocker\s+(?:buildx\s+)?build\b[^\n]*--push\b|\bcrane\s+(?:push|copy|cp)\b|\bskopeo\s+copy\b|\boras\s+push\b|/kaniko/executor\b(?![^\n]*--no-push)")),
    Pattern("push", "ko", run=_r(r"\bko\s+(?:build|publish|resolve|apply)\b")),
    Pattern("push", "jib", run=_r(r"\bjib:build\b|\bjib\s+build\b")),
    Pattern("push", "cloud-build", run=_r(r"\baz\s+acr\s+build\b|\bgcloud\s+builds\s+submit\b")),
    Pattern("push", "buildpacks", run=_r(r"\bpack\s+build\b[^\n]*--publish\b")),
    Pattern("push", "helm", run=_r(r"\bhelm\s+push\b")),
    Pattern("push", "package", run=_r(r"\bnpm\s+publish\b|\btwine\s+upload\b|\bpoetry\s+publish\b|\bmvnw?\b[^\n]*\bdeploy\b|\bgoreleaser\b|\bdotnet\s+nuget\s+push\b"),
            uses=_r(r"^goreleaser/goreleaser-action|^pypa/gh-action-pypi-publish|^task:(?:kaniko|buildah)$|kaniko-project/executor")),
    # tests
    Pattern("test", "tests", run=_r(r"\bpytest\b|\bpython3?\s+-m\s+(?:pytest|unittest)\b|\btox\b|\bnox\b|\b(?:npm|yarn|pnpm)\s+(?:run\s+)?test\b|\bgo\s+test\b|\bmvnw?\b[^\n]*\b(?:test|verify)\b|\bgradlew?\b[^\n]*\b(?:test|check)\b|\bdotnet\s+test\b|\bcargo\s+test\b|\bmake\s+(?:test|check)\b|\bjest\b|\bvitest\b|\brspec\b|\bphpunit\b")),
    # SBOM
    Pattern("sbom", "syft", run=_r(r"\bsyft\b|\bdocker\s+sbom\b|--sbom(?:=true)?\b|--attest\s+type=sbom|\bcyclonedx\b|\bcdxgen\b|\btrivy\b[^\n]*--format\s+(?:cyclonedx|spdx)|\bcosign\s+attest\b[^\n]*--type\s+(?:spdx|spdxjson|cyclonedx)"),
            uses=_r(r"^anchore/sbom-action|^CycloneDX/gh-|^task:syft")),
    # signing
    Pattern("sign", "cosign", run=_r(r"\bcosign\s+sign(?:-blob)?\b|\bnotation\s+sign\b|\bsigstore\s+sign\b|\bpython\s+-m\s+sigstore\s+sign\b"),
            uses=_r(r"^sigstore/gh-action-sigstore-python|^task:cosign")),
    # provenance
    Pattern("provenance", "in-toto", run=_r(r"\bcosign\s+attest\b[^\n]*--type\s+(?:slsaprovenance\d*|https://slsa\.dev/provenance\S*)|\bin-toto-run\b|\bwitness\s+run\b|--provenance(?:=(?:true|mode=max)|\s+(?:true|mode=max))\b|--attest\s+type=provenance"),
            uses=_r(r"^slsa-framework/slsa-github-generator|^actions/attest-build-provenance|^actions/attest@|^in-toto/|^task:(?:in-toto|witness)")),
    # static analysis
    Pattern("sast", "semgrep", run=_r(r"\bsemgrep\b"), uses=_r(r"semgrep")),
    Pattern("sast", "codeql", run=_r(r"\bcodeql\s+database\b"), uses=_r(r"^github/codeql-action/")),
    Pattern("sast", "sonarqube", run=_r(r"\bsonar-scanner\b|\bsonar:sonar\b|\bgradlew?\b[^\n]*\bsonar(?:qube)?\b|\bdotnet\s+sonarscanner\b"),
            uses=_r(r"^SonarSource/|^SonarQube(?:Prepare|Analyze)@|^SonarCloud(?:Prepare|Analyze)@|sonar-scanner-cli")),
    Pattern("sast", "snyk-code", run=_r(r"\bsnyk\s+code\s+test\b")),
    Pattern("sast", "checkmarx", run=_r(r"\bcx\s+scan\s+create\b"), uses=_r(r"^checkmarx")),
    Pattern("sast", "gitlab-sast", uses=_r(r"^template:(?:Jobs/|Security/)?SAST")),
    Pattern("sast", "bandit", run=_r(r"\bbandit\s+-r\b")),
    Pattern("sast", "gosec", run=_r(r"\bgosec\b")),
    # secret scanning
    Pattern("secret_scan", "trufflehog", run=_r(r"\btrufflehog\b"), uses=_r(r"trufflehog")),
    Pattern("secret_scan", "gitleaks", run=_r(r"\bgitleaks\b"), uses=_r(r"gitleaks")),
    Pattern("secret_scan", "gitguardian", run=_r(r"\bggshield\b"), uses=_r(r"^GitGuardian/")),
    Pattern("secret_scan", "gitlab-secret-detection", uses=_r(r"^template:(?:Jobs/|Security/)?Secret-Detection")),
    # autonomous merges
    Pattern("auto_merge", "gh pr merge", run=_r(r"\bgh\s+pr\s+merge\b")),
    Pattern("auto_merge", "glab mr merge", run=_r(r"\bglab\s+mr\s+merge\b|merge_when_pipeline_succeeds=true")),
    Pattern("auto_merge", "auto-merge action",
            uses=_r(r"^peter-evans/enable-pull-request-automerge|^pascalgn/automerge-action|^fastify/github-action-merge-dependabot|^ahmadnassri/action-dependabot-auto-merge|^reitermarkus/automerge")),
)

def fold_pattern(source: str) -> str:
    """A regex source lower-cased outside escapes and group names (`\\S` stays `\\S`, `(?P<g1>` stays)."""
    out, i, n = [], 0, len(source)
    while i < n:
        if source[i] == "\\":
            out.append(source[i: i + 2])
            i += 2
        elif source.startswith(("(?P<", "(?P="), i):
            j = source.index(">" if source[i + 3] == "<" else ")", i)
            out.append(source[i: j + 1])
            i = j + 1
        else:
            out.append(source[i].lower())
            i += 1
    return "".join(out)


class Folded:
    """An IGNORECASE regex with a case-sensitive twin run on lower-cased ASCII text.

    Python's engine has no fast scan for case-insensitive alternations; on lower-cased text the
    twin's literal prefixes and first-character sets apply (3-5x faster on step strings). On ASCII
    text the two match at the same offsets with the same groups; other text (where IGNORECASE also
    folds e.g. the Kelvin sign to `k`) goes to the original. `search` is all the callers use.
    """

    __slots__ = ("regex", "twin")

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex
        twin = re.compile(fold_pattern(regex.pattern), regex.flags & ~re.IGNORECASE)
        self.twin = twin if twin.groupindex == regex.groupindex and regex.flags & re.IGNORECASE else None

    @property
    def pattern(self) -> str:
        return self.regex.pattern

    def search(self, text: str) -> re.Match[str] | None:
        if self.twin is not None and text.isascii():
            return self.twin.search(text.lower())
        return self.regex.search(text)


# Prefilters: one pass that tells whether any pattern can match a step at all (most steps match none).
_ANY_RUN = Folded(re.compile("|".join(f"(?:{p.run.pattern})" for p in PATTERNS if p.run is not None), re.I | re.M))
_ANY_USES = Folded(re.compile("|".join(f"(?:{p.uses.pattern})" for p in PATTERNS if p.uses is not None), re.I | re.M))


@dataclass(frozen=True)
class _Matcher:
    """All patterns of one capability as one alternation; the matching group names the tool."""

    capability: str
    run: Folded | None
    uses: Folded | None
    tools: tuple[str, ...]  # group g<i> -> tools[i]


def _build_matchers() -> tuple[_Matcher, ...]:
    out = []
    for cap in dict.fromkeys(p.capability for p in PATTERNS):
        pats = [p for p in PATTERNS if p.capability == cap]
        run = "|".join(f"(?P<g{i}>{p.run.pattern})" for i, p in enumerate(pats) if p.run is not None)
        uses = "|".join(f"(?P<g{i}>{p.uses.pattern})" for i, p in enumerate(pats) if p.uses is not None)
        out.append(_Matcher(cap, Folded(re.compile(run, re.I | re.M)) if run else None,
                            Folded(re.compile(uses, re.I | re.M)) if uses else None, tuple(p.tool for p in pats)))
    return tuple(out)


MATCHERS = _build_matchers()
_SCAN_WORDS = Folded(re.compile(r"trivy|grype|snyk|osv-scanner|audit|scout|clair|anchore|aqua|scannercli|dependency-review|container-scanning|dependency-scanning", re.I))
_AUTH_WORDS = Folded(re.compile(r"gcloud|az\s+login|aws|azureServicePrincipal|withAWS|web-identity|federated-token|WEB_IDENTITY", re.I))
_UPLOAD_WORDS = Folded(re.compile(r"snyk|sonar|semgrep|cx\s+scan|checkmarx|veracode|pipeline-scan", re.I))

_NON_BLOCKING = re.compile(r"\|\|\s*(?:true|:|exit\s+0)\b")
_SEVERITY_WORDS = {"unknown": "low", "negligible": "low", "info": "info", "low": "low", "moderate": "medium",
                   "medium": "medium", "high": "high", "critical": "critical"}


def _lowest(levels: Iterable[str]) -> str | None:
    ranked = [_SEVERITY_WORDS.get(x.strip().lower()) for x in levels]
    ranked = [x for x in ranked if x]
    return min(ranked, key=SEVERITIES.index) if ranked else None


def _flag(text: str, *names: str) -> str | None:
    for name in names:
        m = re.search(rf"(?:^|\s){re.escape(name)}(?:=|\s+)[\"']?([^\s\"']+)", text)
        if m:
            return m.group(1)
    return None


@dataclass(frozen=True)
class Scan:
    tool: str
    line: int
    blocking: bool | None
    fail_at: str | None
    target: str  # image | fs | deps


def _scans(step: Step) -> list[Scan]:
    """Vulnerability scans in one step, with the threshold each one enforces."""
    out: list[Scan] = []
    if not _SCAN_WORDS.search(step.uses) and not _SCAN_WORDS.search(step.run):
        return out
    uses, params = step.uses, step.params
    lower_uses = uses.lower()
    # --- actions / tasks / templates
    if lower_uses.startswith("aquasecurity/trivy-action"):
        code = params.get("exit-code", "0").strip()
        kind = params.get("scan-type", "image").strip().lower()
        out.append(Scan("trivy", step.line, code not in ("", "0"), _lowest(params.get("severity", "UNKNOWN,LOW").split(",")),
                        "image" if kind == "image" else "fs"))
    elif lower_uses.startswith("anchore/scan-action"):
        fail = params.get("fail-build", "true").strip().lower() != "false"
        out.append(Scan("anchore", step.line, fail, _lowest([params.get("severity-cutoff", "medium")]),
                        "image" if "image" in params else "fs"))
    elif lower_uses.startswith("snyk/actions/"):
        command = params.get("command", "test")
        if "code" not in command and "monitor" not in command:
            thr = _flag(params.get("args", ""), "--severity-threshold") or "low"
            out.append(Scan("snyk-container" if "docker" in lower_uses else "snyk", step.line, True, _lowest([thr]),
                            "image" if "docker" in lower_uses else "deps"))
    elif lower_uses.startswith("actions/dependency-review-action"):
        out.append(Scan("dependency-review", step.line, True, _lowest([params.get("fail-on-severity", "low")]), "deps"))
    elif lower_uses.startswith("google/osv-scanner-action"):
        out.append(Scan("osv-scanner", step.line, True, "low", "deps"))
    elif lower_uses.startswith("quay/clair-action"):
        code = params.get("return-code", "0").strip()
        out.append(Scan("clair", step.line, code not in ("", "0"), "low", "image"))
    elif "aquasec.com/" in lower_uses or "scannercli" in lower_uses:  # `aquasec/trivy` is just Trivy's image
        out.append(Scan("aqua", step.line, None, None, "image"))
    elif re.match(r"template:(?:jobs/|security/)?container-scanning", lower_uses):
        out.append(Scan("gitlab-container-scanning", step.line, False, None, "image"))
    elif re.match(r"template:(?:jobs/|security/)?dependency-scanning", lower_uses):
        out.append(Scan("gitlab-dependency-scanning", step.line, False, None, "deps"))
    elif lower_uses.startswith("task:") and any(t in lower_uses for t in ("trivy", "grype", "clair")):
        tool = next(t for t in ("trivy", "grype", "clair") if t in lower_uses)
        args = " ".join(params.values())
        code = _flag(args, "--exit-code")
        out.append(Scan(tool, step.line, (code not in (None, "0")) if tool == "trivy" else None,
                        _lowest((_flag(args, "--severity") or "UNKNOWN").split(",")), "image"))
    # --- shell commands, line by line so `|| true` applies to its own command
    for offset, line in enumerate(step.run.splitlines()):
        at = (step.run_line or step.line) + offset if step.run_line else step.line
        soft = bool(_NON_BLOCKING.search(line))
        m = re.search(r"\btrivy\s+(image|fs|filesystem|repo|repository|rootfs|sbom|k8s)\b", line)
        if m:
            code = _flag(line, "--exit-code")
            sev = _flag(line, "--severity", "-s") or "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL"
            out.append(Scan("trivy", at, code not in (None, "0") and not soft, _lowest(sev.split(",")),
                            "image" if m.group(1) in ("image", "k8s") else ("deps" if m.group(1) == "sbom" else "fs")))
            continue
        m = re.search(r"\bgrype\s+(\S+)", line)
        if m and not line.strip().startswith("#"):
            fail = _flag(line, "--fail-on", "-f")
            target = m.group(1)
            out.append(Scan("anchore", at, fail is not None and not soft, _lowest([fail]) if fail else None,
                            "fs" if target.startswith(("dir:", ".", "/", "sbom:", "file:")) else "image"))
            continue
        m = re.search(r"\bsnyk\s+(container\s+test|test)\b", line)
        if m:
            thr = _flag(line, "--severity-threshold") or "low"
            image = m.group(1).startswith("container")
            out.append(Scan("snyk-container" if image else "snyk", at, not soft, _lowest([thr]), "image" if image else "deps"))
            continue
        if re.search(r"\bosv-scanner\b", line):
            out.append(Scan("osv-scanner", at, not soft, "low", "deps"))
            continue
        if re.search(r"\bnpm\s+audit\b", line):
            out.append(Scan("npm-audit", at, not soft, _lowest([_flag(line, "--audit-level") or "low"]), "deps"))
            continue
        if re.search(r"\bpip-audit\b", line):
            out.append(Scan("pip-audit", at, not soft, "low", "deps"))
            continue
        if re.search(r"\bdocker\s+scout\s+cves\b", line):
            code = re.search(r"--exit-code\b", line)
            sev = _flag(line, "--only-severity") or "low"
            out.append(Scan("docker-scout", at, bool(code) and not soft, _lowest(sev.split(",")), "image"))
            continue
        if re.search(r"\bclair-action\s+report\b", line):
            code = _flag(line, "--return-code")
            out.append(Scan("clair", at, code not in (None, "0") and not soft, "low", "image"))
            continue
        if re.search(r"\b(?:clairctl|clair-scanner)\b", line):
            out.append(Scan("clair", at, None, None, "image"))
            continue
        if re.search(r"\banchorectl\s+image\s+check\b", line):
            out.append(Scan("anchore", at, bool(re.search(r"--fail-based-on-results|\s-f\b", line)) and not soft, None, "image"))
    if step.continue_on_error:
        out = [Scan(s.tool, s.line, False, s.fail_at, s.target) for s in out]
    return out


# --------------------------------------------------------------------------- cloud auth and egress


@dataclass(frozen=True)
class Auth:
    provider: str
    method: str  # oidc | static | role
    line: int
    detail: str


_SECRET_REF = re.compile(r"\$\{\{\s*(?:secrets|vars)\.|\$\(|\$\{?[A-Za-z_]|credentials\(", re.I)
_STATIC_ENV = {
    "AWS_SECRET_ACCESS_KEY": "aws",
    "AWS_ACCESS_KEY_ID": "aws",
    "AZURE_CLIENT_SECRET": "azure",
    "ARM_CLIENT_SECRET": "azure",
    "GOOGLE_CREDENTIALS": "gcp",
    "GCP_SA_KEY": "gcp",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON": "gcp",
}


def _auth(step: Step, *, doc: CiDocument) -> list[Auth]:
    out: list[Auth] = []
    u, p = step.uses.lower(), step.params
    if u.startswith("aws-actions/configure-aws-credentials"):
        if "aws-secret-access-key" in p or "aws-access-key-id" in p:
            out.append(Auth("aws", "static", step.line, "aws-secret-access-key from a CI secret"))
        elif "role-to-assume" in p:
            out.append(Auth("aws", "oidc", step.line, "role-to-assume"))
    elif u.startswith("google-github-actions/auth"):
        if "credentials_json" in p:
            out.append(Auth("gcp", "static", step.line, "credentials_json service-account key"))
        elif "workload_identity_provider" in p:
            out.append(Auth("gcp", "oidc", step.line, "workload_identity_provider"))
    elif u.startswith("azure/login"):
        if "creds" in p or "client-secret" in p:
            out.append(Auth("azure", "static", step.line, "creds with a client secret"))
        elif "client-id" in p:
            out.append(Auth("azure", "oidc", step.line, "federated client-id"))
    for name, provider in _STATIC_ENV.items():
        value = step.env.get(name)
        if value and _SECRET_REF.search(value):
            out.append(Auth(provider, "static", step.line, f"{name} from a CI secret"))
    run = step.run
    if not run or not _AUTH_WORDS.search(run):
        return out
    if re.search(r"\bgcloud\s+auth\s+activate-service-account\b[^\n]*--key-file", run):
        out.append(Auth("gcp", "static", step.line, "gcloud --key-file"))
    if re.search(r"\baz\s+login\b[^\n]*--service-principal", run) and not re.search(r"--federated-token", run):
        out.append(Auth("azure", "static", step.line, "az login with a client secret"))
    if re.search(r"\baws\s+configure\s+set\s+aws_secret_access_key\b", run):
        out.append(Auth("aws", "static", step.line, "aws configure set aws_secret_access_key"))
    if re.search(r"AmazonWebServicesCredentialsBinding|\baws\s*\(\s*credentials", run):
        out.append(Auth("aws", "static", step.line, "Jenkins AWS credentials binding"))
    if re.search(r"\bazureServicePrincipal\s*\(", run):
        out.append(Auth("azure", "static", step.line, "Jenkins azureServicePrincipal"))
    if re.search(r"\bwithAWS\s*\([^)]*\brole\s*:", run):
        out.append(Auth("aws", "role", step.line, "withAWS(role:)"))
    if re.search(r"assume-role-with-web-identity|--federated-token|AWS_WEB_IDENTITY_TOKEN_FILE", run):
        out.append(Auth("aws" if "assume-role" in run or "AWS_" in run else "azure", "oidc", step.line, "web identity token"))
    return out


def _source_uploads(step: Step) -> list[tuple[str, int]]:
    """Steps that send source code (or code snippets) to a third-party service."""
    out: list[tuple[str, int]] = []
    if not _UPLOAD_WORDS.search(step.uses) and not _UPLOAD_WORDS.search(step.run) and not any(
        "sonarcloud" in v for v in (*step.env.values(), *step.params.values())
    ):
        return out
    u = step.uses.lower()
    run = step.run
    if re.search(r"\bsnyk\s+code\s+test\b", run) or (u.startswith("snyk/actions/") and "code" in step.params.get("command", "")):
        out.append(("snyk-code", step.line))
    if u.startswith("sonarsource/sonarcloud-github-action") or u.startswith("sonarcloud") or \
            "sonarcloud.io" in run or "sonarcloud.io" in " ".join(step.env.values()) or "sonarcloud.io" in " ".join(step.params.values()):
        out.append(("sonarqube", step.line))
    if re.search(r"\bsemgrep\s+ci\b", run) and ("SEMGREP_APP_TOKEN" in step.env or "SEMGREP_APP_TOKEN" in run):
        out.append(("semgrep", step.line))
    if re.search(r"\bcx\s+scan\s+create\b", run) or u.startswith("checkmarx"):
        out.append(("checkmarx", step.line))
    if u.startswith("veracode/") or "pipeline-scan.jar" in run or re.search(r"\bveracode\b", run, re.I):
        out.append(("veracode", step.line))
    return out


# --------------------------------------------------------------------------- the facts of one file


def _push_from_params(step: Step) -> bool:
    u = step.uses.lower()
    if u.startswith("docker/build-push-action"):
        push = step.params.get("push", "false").strip().lower()
        return push not in ("false", "", "0")
    if u.startswith("docker@"):
        return step.params.get("command", "buildAndPush").lower() in ("push", "buildandpush")
    return False


def _sbom_from_params(step: Step) -> bool:
    return step.uses.lower().startswith("docker/build-push-action") and step.params.get("sbom", "").lower() == "true"


def _provenance_from_params(step: Step) -> bool:
    return step.uses.lower().startswith("docker/build-push-action") and step.params.get("provenance", "").lower() in (
        "true", "mode=max")


def file_facts(doc: CiDocument) -> dict[str, Any]:
    """The compact facts of one pipeline file, evidence as `path:line`."""
    at = lambda line: f"{doc.path}:{line}"  # noqa: E731 - tiny local formatter
    caps: dict[str, list[str]] = {k: [] for k in ("builds", "pushes", "tests", "sbom", "signs", "provenance")}
    key_of = {"build": "builds", "push": "pushes", "test": "tests", "sbom": "sbom", "sign": "signs", "provenance": "provenance"}
    sast: list[dict[str, Any]] = []
    secret_scans: list[dict[str, Any]] = []
    auto_merge: list[dict[str, Any]] = []
    tools: set[str] = set()
    scans: list[Scan] = []
    auths: list[Auth] = []
    uploads: list[tuple[str, int]] = []
    for step in doc.steps:
        hit = bool(step.run and _ANY_RUN.search(step.run)) or bool(step.uses and _ANY_USES.search(step.uses))
        for matcher in MATCHERS if hit else ():
            found = _match(matcher, step)
            if found is None:
                continue
            line, tool = found
            cap = matcher.capability
            if cap in key_of:
                caps[key_of[cap]].append(at(line))
            elif cap == "sast":
                sast.append({"tool": tool, "at": at(line)})
            elif cap == "secret_scan":
                secret_scans.append({"tool": tool, "at": at(line)})
            elif cap == "auto_merge":
                auto_merge.append({"at": at(line), "how": tool})
            if cap in ("sast", "secret_scan", "sbom", "sign", "provenance"):
                tools.add(tool)
        if _push_from_params(step):
            caps["pushes"].append(at(step.line))
        if _sbom_from_params(step):
            caps["sbom"].append(at(step.line))
            tools.add("syft")
        if _provenance_from_params(step):
            caps["provenance"].append(at(step.line))
            tools.add("in-toto")
        scans += _scans(step)
        auths += _auth(step, doc=doc)
        uploads += _source_uploads(step)
    if doc.system == "gitlab-ci" and doc.oidc_declared:
        auths = [a if a.method != "role" else Auth(a.provider, "oidc", a.line, a.detail) for a in auths]
    tools.update(s.tool for s in scans)
    return {
        "path": doc.path,
        "system": doc.system,
        **{k: sorted(set(v), key=_line_key) for k, v in caps.items()},
        "sast": _dedupe(sast),
        "secret_scans": _dedupe(secret_scans),
        "vuln_scans": [
            {"tool": s.tool, "at": at(s.line), "blocking": s.blocking, "fail_at": s.fail_at,
             "fail_at_rank": SEVERITIES.index(s.fail_at) if s.fail_at else None, "target": s.target}
            for s in scans
        ],
        "cloud_auth": _dedupe([{"provider": a.provider, "method": a.method, "at": at(a.line), "detail": a.detail} for a in auths]),
        "id_token_write": doc.id_token_write or doc.oidc_declared,
        "permissions": [{"scope": p["scope"], "at": at(p["line"]), "value": p["value"]} for p in doc.permissions],
        "source_uploads": _dedupe([{"tool": t, "at": at(line)} for t, line in uploads]),
        "auto_merge": _dedupe(auto_merge),
        "tools": sorted(tools),
        "calls": list(doc.calls),
        "parse_error": doc.error,
    }


def _match(matcher: _Matcher, step: Step) -> tuple[int, str] | None:
    """(line, tool) of the first pattern of this capability that matches the step."""
    if matcher.uses is not None and step.uses:
        m = matcher.uses.search(step.uses)
        if m:
            return step.line, matcher.tools[int(str(m.lastgroup)[1:])]
    if matcher.run is not None and step.run:
        m = matcher.run.search(step.run)
        if m:
            line = step.run_line + step.run.count("\n", 0, m.start()) if step.run_line else step.line
            return line, matcher.tools[int(str(m.lastgroup)[1:])]
    return None


def _line_key(at: str) -> tuple[str, int]:
    path, _, line = at.rpartition(":")
    return (path, int(line) if line.isdigit() else 0)


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(tuple(sorted((k, str(v)) for k, v in item.items())), item)
    return list(seen.values())


def merge_calls(files: Mapping[str, dict[str, Any]]) -> None:
    """Give a pipeline the capabilities of the local reusable pipelines it calls (one level)."""
    extra: dict[str, dict[str, list]] = {}
    for path, f in files.items():
        for callee in f.get("calls", []):
            g = files.get(callee)
            if g is None or g is f:
                continue
            add = extra.setdefault(path, {})
            for key in ("builds", "pushes", "tests", "sbom", "signs", "provenance", "sast", "vuln_scans", "secret_scans"):
                add.setdefault(key, []).extend(g.get(key, []))
    for path, add in extra.items():
        for key, values in add.items():
            files[path][key] = files[path][key] + [v for v in values if v not in files[path][key]]
