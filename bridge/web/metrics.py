"""Prometheus metrics of the web tier, in a registry of the app's own.

Labels carry vendor names and HTTP statuses only: never a secret, never a payload
value. A vendor name not in the registry is counted as "unknown" (bounded labels).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "opscom_webhooks", "Webhook requests answered, by vendor and HTTP status",
            ["vendor", "status"], registry=self.registry)
        self.unknown_zones = Counter(
            "opscom_unknown_zones", "Vendor zones not in the vendor's zone map (passed through)",
            ["vendor"], registry=self.registry)
        self.publish_seconds = Histogram(
            "opscom_publish_seconds", "Seconds from publish to RabbitMQ's confirm, per request",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
