"""Secrets management detector: HashiCorp Vault, External Secrets Operator, Sealed Secrets, AWS Secrets Manager.

Clues: client libraries in dependency manifests (`hvac`, `spring-cloud-starter-vault-config`), Vault agent
annotations and `VAULT_ADDR`, CI steps (`hashicorp/vault-action`, `aws-actions/aws-secretsmanager-get-secrets`),
operator objects (`ExternalSecret`, `SealedSecret`, `VaultStaticSecret`), SecretStore providers, and
Terraform resources. The Vault address, when written down, becomes a setting.
"""

from __future__ import annotations

import re
from typing import Iterator

from bot.discovery.base import Collector, Context, Detector, Rule, k8s_documents, rule, scan
from bot.models import Finding

_MANIFESTS = ("python-manifest", "node-manifest", "java-manifest", "go-manifest", "dotnet-manifest")
_CONFIG = ("yaml", "pipeline", "dockerfile", "app-config", "terraform")


def _vault_addr(m: re.Match[str]) -> dict[str, str]:
    return {"address": m.group("addr")} if m.groupdict().get("addr") else {}


RULES: tuple[Rule, ...] = (
    rule("secrets_management", "vault",
         r"^\s*['\"]?(?:hvac|node-vault|hashi-vault-js)\b|spring-cloud-(?:starter-)?vault|quarkus-vault"
         r"|github\.com/hashicorp/vault/api|VaultSharp",
         kinds=_MANIFESTS, keyword=("hvac", "vault"), confidence=0.85),
    rule("secrets_management", "vault",
         r"VAULT_ADDR\s*[:=]\s*['\"]?(?P<addr>https?://[^\s'\"]+)", kinds=(*_CONFIG, "tool-config"), keyword="vault_addr",
         confidence=0.85, details=_vault_addr),
    rule("secrets_management", "vault",
         r"vault\.hashicorp\.com/agent-inject|hashicorp/vault-action|\bvault\s+(?:kv|read|login|agent)\b",
         kinds=_CONFIG, keyword="vault", confidence=0.9),
    rule("secrets_management", "vault", r"^\s*(?:vault|auto_auth|template)\s*\{", kinds=("tool-config",),
         keyword=("vault", "auto_auth"), confidence=0.85),
    rule("secrets_management", "sealed-secrets", r"\bkubeseal\b", kinds=("pipeline",), keyword="kubeseal", confidence=0.85),
    rule("secrets_management", "aws-secrets-manager",
         r"aws-actions/aws-secretsmanager-get-secrets|arn:aws:secretsmanager:|\baws\s+secretsmanager\s+"
         r"|resource\s+\"aws_secretsmanager_secret\"|^\s*service:\s*SecretsManager\b",
         kinds=_CONFIG, keyword="secretsmanager", confidence=0.85),
    rule("secrets_management", "aws-secrets-manager",
         r"aws-secretsmanager-caching|AWSSDK\.SecretsManager|awssdk:secretsmanager|@aws-sdk/client-secrets-manager",
         kinds=_MANIFESTS, keyword="secrets", confidence=0.75),
)

_VAULT_PROVIDER = re.compile(r"^\s+vault:\s*$", re.MULTILINE)
_STORE_KINDS = frozenset({"SecretStore", "ClusterSecretStore"})


def detect(ctx: Context) -> Iterator[Finding]:
    c = Collector("secrets")
    scan(ctx, RULES, c)
    for src in ctx.sources("yaml"):
        text = src.text
        if "external-secrets.io" not in text and "bitnami.com" not in text and "secrets.hashicorp.com" not in text:
            continue
        for doc in k8s_documents(src):
            api = doc.api_version
            if api.startswith("external-secrets.io/"):
                c.add("secrets_management", "external-secrets", src.evidence(doc.line), 0.95)
                if doc.kind in _STORE_KINDS:
                    m = _VAULT_PROVIDER.search(doc.text)
                    if m:
                        line = doc.first_line + doc.text.count("\n", 0, m.start())
                        c.add("secrets_management", "vault", src.evidence(line), 0.85)
            elif api.startswith("bitnami.com/") and doc.kind == "SealedSecret":
                c.add("secrets_management", "sealed-secrets", src.evidence(doc.line), 0.95)
            elif api.startswith("secrets.hashicorp.com/"):
                c.add("secrets_management", "vault", src.evidence(doc.line), 0.95)
    yield from c.findings()


DETECTOR = Detector(
    name="secrets",
    kinds=frozenset({*_MANIFESTS, *_CONFIG, "tool-config"}),
    detect=detect,
    categories=("secrets_management",),
)
