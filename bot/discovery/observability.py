"""Observability detector: Datadog, Prometheus, Grafana, New Relic, Splunk, Dynatrace.

Clues: instrumentation libraries in dependency manifests (`ddtrace`, `prometheus_client`,
`micrometer-registry-prometheus`, `newrelic`), agent config files (`newrelic.ini`, `datadog.yaml`,
`prometheus.yml`), operator objects (`ServiceMonitor`, `GrafanaDashboard`, `DynaKube`), scrape and
autodiscovery annotations, agent environment variables, and Grafana dashboard JSON.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterator

from bot.discovery.base import Collector, Context, Detector, NameRule, Rule, k8s_documents, rule, scan, scan_names
from bot.models import Finding

_MANIFESTS = ("python-manifest", "node-manifest", "java-manifest", "go-manifest", "dotnet-manifest")
_CONFIG = ("yaml", "pipeline", "dockerfile", "app-config")
_O = "observability"

RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- libraries
    rule(_O, "datadog", r"^\s*['\"]?(?:ddtrace|dd-trace|datadog-api-client|datadog)\b|dd-java-agent|Datadog\.Trace|"
         r"gopkg\.in/DataDog/dd-trace-go|github\.com/DataDog/dd-trace-go", kinds=_MANIFESTS, keyword=("datadog", "ddtrace", "dd-trace"), confidence=0.85),
    rule(_O, "prometheus",
         r"^\s*['\"]?(?:prometheus[_-]client|prometheus-fastapi-instrumentator|starlette-exporter|django-prometheus"
         r"|prometheus-flask-exporter|prom-client|express-prom-bundle|@willsoto/nestjs-prometheus)\b"
         r"|micrometer-registry-prometheus|quarkus-micrometer-registry-prometheus|quarkus-smallrye-metrics"
         r"|prometheus-net|github\.com/prometheus/client_golang",
         kinds=_MANIFESTS, keyword=("prom", "starlette-exporter", "micrometer", "smallrye-metrics"), confidence=0.85),
    rule(_O, "new-relic", r"^\s*['\"]?newrelic\b|newrelic-java-agent|com\.newrelic\.agent|NewRelic\.Agent",
         kinds=_MANIFESTS, keyword="newrelic", confidence=0.85),
    rule(_O, "splunk", r"splunk-otel|splunk-logging|splunk-library-javalogging|splunk-sdk", kinds=_MANIFESTS,
         keyword="splunk", confidence=0.8),
    rule(_O, "dynatrace", r"dynatrace|OneAgent", kinds=_MANIFESTS, keyword=("dynatrace", "oneagent"), confidence=0.75),
    # ---------------------------------------------------------------- config, manifests, pipelines
    rule(_O, "datadog", r"\bDD_(?:AGENT_HOST|SERVICE|ENV|API_KEY|SITE|TRACE_AGENT_URL)\b|ad\.datadoghq\.com/"
         r"|\bdatadog/agent\b|datadog/datadog-ci|DataDog/datadog-ci", kinds=_CONFIG, keyword=("dd_", "datadog"), confidence=0.85),
    rule(_O, "prometheus", r"prometheus\.io/scrape", kinds=_CONFIG, keyword="prometheus.io", confidence=0.85),
    rule(_O, "grafana", r"grafana_dashboard\s*:|grafana\.com/|grafana/grafana(?:-image-renderer)?:", kinds=_CONFIG,
         keyword="grafana", confidence=0.8),
    rule(_O, "new-relic", r"\bNEW_RELIC_(?:LICENSE_KEY|APP_NAME|ACCOUNT_ID)\b|newrelic\.jar|newrelic/infrastructure",
         kinds=_CONFIG, keyword=("new_relic", "newrelic"), confidence=0.85),
    rule(_O, "splunk", r"\bSPLUNK_(?:HEC_URL|HEC_TOKEN|ACCESS_TOKEN|REALM)\b|splunkcloud\.com|splunk-otel-collector"
         r"|driver:\s*['\"]?splunk\b|splunk-connect-for-kubernetes", kinds=_CONFIG, keyword="splunk", confidence=0.85),
    rule(_O, "dynatrace", r"\bDT_(?:TENANT|API_TOKEN|CONNECTION_POINT)\b|live\.dynatrace\.com|dynatrace/oneagent"
         r"|dynatrace/dynatrace-operator", kinds=_CONFIG, keyword=("dt_", "dynatrace"), confidence=0.85),
)

NAMES = MappingProxyType(
    {
        "newrelic.ini": NameRule(_O, "new-relic", 0.9),
        "newrelic.js": NameRule(_O, "new-relic", 0.9),
        "newrelic.cjs": NameRule(_O, "new-relic", 0.9),
        "newrelic.yml": NameRule(_O, "new-relic", 0.9, "yaml"),
        "newrelic.config": NameRule(_O, "new-relic", 0.85),
        "datadog.yaml": NameRule(_O, "datadog", 0.9, "yaml"),
        "prometheus.yml": NameRule(_O, "prometheus", 0.9, "yaml"),
        "prometheus.yaml": NameRule(_O, "prometheus", 0.9, "yaml"),
    }
)

_KINDS = (
    ("monitoring.coreos.com/", frozenset({"ServiceMonitor", "PodMonitor", "PrometheusRule", "Prometheus"}), "prometheus"),
    ("grafana.integreatly.org/", frozenset({"GrafanaDashboard", "Grafana", "GrafanaDatasource"}), "grafana"),
    ("dynatrace.com/", frozenset({"DynaKube"}), "dynatrace"),
    ("datadoghq.com/", frozenset({"DatadogAgent", "DatadogMonitor"}), "datadog"),
)


def detect(ctx: Context) -> Iterator[Finding]:
    c = Collector("observability")
    scan(ctx, RULES, c)
    scan_names(ctx, NAMES, c, kinds=("tool-config",))
    for src in ctx.sources("yaml"):
        text = src.text
        if "coreos.com" not in text and "grafana" not in text and "dynatrace.com" not in text and "datadoghq" not in text:
            continue
        for doc in k8s_documents(src):
            for group, kinds, tool in _KINDS:
                if group in doc.api_version and doc.kind in kinds:
                    c.add(_O, tool, src.evidence(doc.line), 0.95)
    for src in ctx.sources("dashboard"):
        if '"panels"' in src.text:
            data = ctx.json(src.path)
            if isinstance(data, dict) and ("panels" in data or "dashboard" in data):
                c.add(_O, "grafana", src.find_evidence('"panels"'), 0.85)
    yield from c.findings()


DETECTOR = Detector(
    name="observability",
    kinds=frozenset({*_MANIFESTS, *_CONFIG, "tool-config", "dashboard"}),
    detect=detect,
    categories=(_O,),
)
