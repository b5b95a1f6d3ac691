"""Security scanner detector: image scanning, SAST/SCA and secret scanning.

Scanners show up as CI steps (actions, container images, CLI invocations, Azure tasks, Jenkins steps,
pre-commit hooks, GitLab security templates) and as their own config files (`sonar-project.properties`,
`.snyk`, `.gitleaks.toml`, `.semgrep.yml`, `trivy.yaml`, ...). Each clue is one line of a rule table.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Iterator

from bot.discovery.base import (
    Collector,
    Context,
    Detector,
    NameRule,
    Rule,
    first_content_line,
    rule,
    scan,
    scan_names,
)
from bot.models import Finding

_PIPE = ("pipeline",)
_BUILD = ("java-manifest", "node-manifest")

RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- image scanning
    rule("image_scanning", "trivy", r"aquasecurity/trivy-action", kinds=_PIPE, confidence=0.95),
    rule("image_scanning", "trivy", r"\btrivy\s+(?:image|fs|config|repo|k8s|sbom|rootfs)\b", kinds=_PIPE, keyword="trivy"),
    rule("image_scanning", "trivy", r"\baquasec/trivy\b", kinds=_PIPE, keyword="trivy"),
    rule("image_scanning", "trivy", r"Jobs/Container-Scanning\.gitlab-ci\.yml", kinds=("gitlab-ci",),
         keyword="container-scanning", confidence=0.7),
    rule("image_scanning", "clair", r"\bclairctl\b|quay/clair-action|clair-scanner", kinds=_PIPE, keyword="clair"),
    rule("image_scanning", "snyk-container", r"snyk/actions/docker|\bsnyk\s+container\s+(?:test|monitor)\b",
         kinds=_PIPE, keyword="snyk", confidence=0.95),
    rule("image_scanning", "anchore", r"anchore/scan-action|anchore/grype|\bgrype[ \t]+[\w.:/${}-]", kinds=_PIPE, keyword=("anchore", "grype"),
         confidence=0.9),
    rule("image_scanning", "aqua", r"aquasec/scanner|\bscannercli\s+scan\b|aquasecScanner@\d|aquasecurity/aqua-scanner",
         kinds=_PIPE, keyword=("aquasec", "scannercli", "aqua-scanner"), confidence=0.9),
    # ---------------------------------------------------------------- SAST / SCA
    rule("sast_sca", "sonarqube",
         r"sonarsource/sonar(?:qube-scan|cloud-github|qube-quality-gate)-action|sonarsource/sonar-scanner-cli"
         r"|\bsonar-scanner\b|\bsonar:sonar\b|Sonar(?:Qube|Cloud)(?:Prepare|Analyze|Publish)@\d|withSonarQubeEnv",
         kinds=_PIPE, keyword="sonar", confidence=0.95),
    rule("sast_sca", "sonarqube", r"""org\.sonarqube|sonar-maven-plugin""", kinds=_BUILD, keyword="sonar",
         confidence=0.85),
    rule("sast_sca", "snyk-code",
         r"snyk/actions/(?!docker)[a-z-]+|\bsnyk\s+(?!container)(?:code\s+)?(?:test|monitor)\b|SnykSecurityScan@\d",
         kinds=_PIPE, keyword="snyk", confidence=0.9),
    rule("sast_sca", "snyk-code", r"^\s*\"snyk\"\s*:", kinds=("node-manifest",), keyword="snyk", confidence=0.7),
    rule("sast_sca", "checkmarx",
         r"checkmarx/ast-github-action|checkmarx-ts/checkmarx-cxflow-github-action|checkmarx/kics-github-action"
         r"|\bcx\s+scan\s+create\b|CxScanBuilder|Checkmarx AST@\d|CxScan@\d",
         kinds=_PIPE, keyword=("checkmarx", "cx", "kics"), confidence=0.9),
    rule("sast_sca", "semgrep", r"(?:returntocorp|semgrep)/semgrep|\bsemgrep\s+(?:ci|scan|--config)\b",
         kinds=_PIPE, keyword="semgrep", confidence=0.95),
    rule("sast_sca", "codeql", r"github/codeql-action/|\bcodeql\s+database\s+create\b", kinds=_PIPE,
         keyword="codeql", confidence=0.95),
    # ---------------------------------------------------------------- secret scanning
    rule("secret_scanning", "trufflehog", r"trufflesecurity/trufflehog|\btrufflehog\s+(?:git|filesystem|github)\b",
         kinds=_PIPE, keyword="trufflehog", confidence=0.95),
    rule("secret_scanning", "gitguardian", r"gitguardian/ggshield|\bggshield\s+secret\s+scan\b", kinds=_PIPE,
         keyword="ggshield", confidence=0.95),
    rule("secret_scanning", "gitleaks",
         r"gitleaks/gitleaks-action|zricethezav/gitleaks|github\.com/gitleaks/gitleaks|\bgitleaks\s+(?:detect|protect|git|dir)\b",
         kinds=_PIPE, keyword="gitleaks", confidence=0.95),
    rule("secret_scanning", "gitleaks", r"Security/Secret-Detection\.gitlab-ci\.yml", kinds=("gitlab-ci",),
         keyword="secret-detection", confidence=0.7),
)

NAMES = MappingProxyType(
    {
        "trivy.yaml": NameRule("image_scanning", "trivy", 0.9, "yaml"),
        "trivy.yml": NameRule("image_scanning", "trivy", 0.9, "yaml"),
        ".trivy.yaml": NameRule("image_scanning", "trivy", 0.9, "yaml"),
        ".trivy.yml": NameRule("image_scanning", "trivy", 0.9, "yaml"),
        ".trivyignore": NameRule("image_scanning", "trivy", 0.85),
        "trivy-secret.yaml": NameRule("image_scanning", "trivy", 0.85, "yaml"),
        ".grype.yaml": NameRule("image_scanning", "anchore", 0.9, "yaml"),
        ".grype.yml": NameRule("image_scanning", "anchore", 0.9, "yaml"),
        ".anchore.yaml": NameRule("image_scanning", "anchore", 0.85, "yaml"),
        "clair.yaml": NameRule("image_scanning", "clair", 0.85, "yaml"),
        "clair-config.yaml": NameRule("image_scanning", "clair", 0.85, "yaml"),
        "sonar-project.properties": NameRule("sast_sca", "sonarqube", 0.95),
        ".snyk": NameRule("sast_sca", "snyk-code", 0.9, "yaml"),
        ".semgrep.yml": NameRule("sast_sca", "semgrep", 0.95, "yaml"),
        ".semgrep.yaml": NameRule("sast_sca", "semgrep", 0.95, "yaml"),
        "semgrep.yml": NameRule("sast_sca", "semgrep", 0.9, "yaml"),
        "semgrep.yaml": NameRule("sast_sca", "semgrep", 0.9, "yaml"),
        ".semgrepignore": NameRule("sast_sca", "semgrep", 0.85),
        ".checkmarx.yml": NameRule("sast_sca", "checkmarx", 0.9, "yaml"),
        "checkmarx.yml": NameRule("sast_sca", "checkmarx", 0.9, "yaml"),
        "cx.config": NameRule("sast_sca", "checkmarx", 0.85),
        "codeql-config.yml": NameRule("sast_sca", "codeql", 0.9, "yaml"),
        "codeql-config.yaml": NameRule("sast_sca", "codeql", 0.9, "yaml"),
        ".gitleaks.toml": NameRule("secret_scanning", "gitleaks", 0.95, "toml"),
        "gitleaks.toml": NameRule("secret_scanning", "gitleaks", 0.9, "toml"),
        ".gitleaksignore": NameRule("secret_scanning", "gitleaks", 0.85),
        ".gitguardian.yaml": NameRule("secret_scanning", "gitguardian", 0.95, "yaml"),
        ".gitguardian.yml": NameRule("secret_scanning", "gitguardian", 0.95, "yaml"),
    }
)

_SONAR_PROP = re.compile(r"^\s*sonar\.(host\.url|projectKey|organization)\s*[=:]\s*(\S+)\s*$", re.MULTILINE)
_SONAR_SETTING = {"host.url": "url", "projectKey": "project_key", "organization": "organization"}


def detect(ctx: Context) -> Iterator[Finding]:
    """Scanner steps in pipelines and scanner config files."""
    c = Collector("scanners")
    scan(ctx, RULES, c)
    scan_names(ctx, NAMES, c, kinds=("tool-config",))
    for path in ctx.files("yaml"):
        if path == ".github/secret_scanning.yml" or path == ".github/secret_scanning.yaml":
            src = ctx.source(path)
            if src is not None:
                ctx.yaml(path)
                c.add("secret_scanning", "github-secret-scanning", src.evidence(1), 0.9)
        elif path.startswith(".semgrep/") or "/.semgrep/" in path:
            src = ctx.source(path)
            if src is not None:
                c.add("sast_sca", "semgrep", src.find_evidence("rules:"), 0.9)
    for src in ctx.sources("tool-config"):
        if src.path.rsplit("/", 1)[-1].lower() == "sonar-project.properties":
            details = {_SONAR_SETTING[m.group(1)]: m.group(2) for m in _SONAR_PROP.finditer(src.text)}
            if details:
                c.add("sast_sca", "sonarqube", src.evidence(first_content_line(src)), 0.95, details=details)
    yield from c.findings()


DETECTOR = Detector(
    name="scanners",
    kinds=frozenset({"pipeline", "gitlab-ci", "tool-config", "yaml", *_BUILD}),
    detect=detect,
    categories=("image_scanning", "sast_sca", "secret_scanning"),
)
