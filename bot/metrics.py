"""Prometheus metrics for the service, each `Metrics` object with its own CollectorRegistry.

No global registry: two apps in one process (tests, benchmarks) never share counters. The web app,
the worker pool and the components the dispatcher drives (policy, forges) record into the same
`Metrics` object; `/metrics` renders `render()`.
"""

from __future__ import annotations

from typing import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
JOB_STATES = ("queued", "leased", "done", "failed", "dead")

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class Metrics:
    """All service metrics. Label values for forge events are the forge's own event names."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.deliveries = Counter(
            "trustacks_webhook_deliveries",
            "Webhook deliveries by forge, event and outcome (accepted, duplicate, or a rejection reason).",
            ["forge", "event", "outcome"],
            registry=r,
        )
        self.ingress_seconds = Histogram(
            "trustacks_webhook_response_seconds",
            "Time to answer a webhook delivery (verification and persistence included).",
            ["forge", "outcome"],
            buckets=_FAST,
            registry=r,
        )
        self.queue_jobs = Gauge(
            "trustacks_queue_jobs", "Jobs in the queue by state (sampled on scrape).", ["state"], registry=r
        )
        self.queue_depth = Gauge(
            "trustacks_queue_depth", "Jobs not finished yet (queued, leased or waiting to retry).", registry=r
        )
        self.jobs = Counter(
            "trustacks_jobs",
            "Job attempts finished by this process, by event and outcome (done, retry, dead, released, lease_lost).",
            ["event", "outcome"],
            registry=r,
        )
        self.job_run_seconds = Histogram(
            "trustacks_job_run_seconds", "Time the handler ran for one attempt.", ["event"], buckets=_SLOW, registry=r
        )
        self.job_latency_seconds = Histogram(
            "trustacks_job_latency_seconds",
            "Time from receipt of a delivery to its job being done.",
            ["event"],
            buckets=_SLOW,
            registry=r,
        )
        self.jobs_running = Gauge("trustacks_jobs_running", "Jobs running in this process.", registry=r)
        self.policy_decisions = Counter(
            "trustacks_policy_decisions", "Policy decisions by verdict (allow, warn, deny).", ["verdict"], registry=r
        )
        self.forge_calls = Counter(
            "trustacks_forge_api_calls", "Forge API calls by forge, operation and status.",
            ["forge", "operation", "status"], registry=r,
        )
        self.forge_rate_limit_wait_seconds = Counter(
            "trustacks_forge_rate_limit_wait_seconds", "Seconds spent waiting for forge rate limits.",
            ["forge"], registry=r,
        )
        self.store_errors = Counter(
            "trustacks_store_errors", "Queue store operations that raised, by operation.", ["operation"], registry=r
        )

    def set_queue(self, counts: Mapping[str, int]) -> None:
        """Record a snapshot of job counts by state."""
        for state in JOB_STATES:
            self.queue_jobs.labels(state).set(counts.get(state, 0))
        self.queue_depth.set(sum(counts.get(s, 0) for s in ("queued", "leased", "failed")))

    def render(self) -> bytes:
        return generate_latest(self.registry)
