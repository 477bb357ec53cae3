"""Prometheus metrics of the ingress consumer and the worker (never a secret in a label)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("opscom_bridge_events_total",
                 "Work events by action and what became of them",
                 ["action", "result"])  # applied | held | retried | deadlettered | duplicate
OPSCOM_CALLS = Counter("opscom_bridge_opscom_calls_total",
                       "Calls to OPS-COM by operation and outcome kind", ["op", "outcome"])
OPSCOM_LATENCY = Histogram("opscom_bridge_opscom_seconds", "OPS-COM call duration", ["op"],
                           buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
UNKNOWN_OUTCOMES = Counter("opscom_bridge_unknown_outcome_total",
                           "Calls sent to OPS-COM whose answer never came back", ["action"])
CIRCUIT_OPEN = Gauge("opscom_bridge_circuit_open", "1 while OPS-COM calls are paused")
INGRESS = Counter("opscom_bridge_ingress_messages_total",
                  "Messages consumed from opscom.ingress by result", ["result"])
IN_FLIGHT = Gauge("opscom_bridge_worker_lanes_busy", "Permits being worked on right now")
PARTITIONS_ACTIVE = Gauge("opscom_bridge_worker_partitions_active",
                          "Partitions this worker received messages from in the last 10 s")
