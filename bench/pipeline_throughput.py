"""Pipeline throughput: AMQP ingress to OPS-COM, end to end, with 1 and then 2 workers.

For each worker count, a fresh RabbitMQ vhost (topology declared), a fresh PostgreSQL
database, and a simulator in its own process answering after --latency-ms (50 ms).
Workers are `python -m bridge worker` (BRIDGE_MAX_IN_FLIGHT default 32; a metrics port
of their own, scraped once at the end to see the work each did). N permits x (create,
update, delete) are published to `opscom.ingress` with pika and publisher confirms, in
"waves" order (every create, then every update, then every delete: the events of one
permit are N messages apart) or "adjacent" order (create, update, delete of a permit
back to back). Reports events/s from the first publish to the last ledger entry, the
per-event latency (publish time to the simulator's ledger arrival time, same clock),
the per-permit order check (applied ops exactly push, update, delete), dead letters,
RabbitMQ's single-active-consumer view, and where the CPU went.

    python -m bench pipeline_throughput      # or: python -m bench.pipeline_throughput --help
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import pika
import requests
from sqlalchemy import text

from bench import common
from bridge.db import connect
from bridge.sim.remote import SimControl

NAME = "pipeline_throughput"
READY = r"worker consuming"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_throughput",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--permits", type=int, default=500)
    parser.add_argument("--workers", default="1,2", help="worker counts, one run each")
    parser.add_argument("--order", default="waves", help="waves, adjacent, or both: waves,adjacent")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--timeout", type=float, default=90.0,
                        help="seconds to wait for the ledger per run")
    return parser.parse_args(argv)


def events(permits: int, order: str, source: str) -> list[tuple[str, dict[str, Any]]]:
    """(routing action, canonical command) in publishing order."""
    per_permit = []
    for i in range(permits):
        key = f"P{i:05d}"
        base = {"source": source, "source_id": key}
        per_permit.append([
            ("create", {**base, "action": "create", "event_id": f"{key}-c", "plate": f"PL{i:05d}",
                        "zone": "Lot 1", "permitNo": key, "amount": 5, "currency": "CAD",
                        "startTime": "2026-11-22T10:00:00Z", "endTime": "2026-11-22T11:00:00Z"}),
            ("update", {**base, "action": "update", "event_id": f"{key}-u", "amount": "7.50",
                        "endTime": "2026-11-22T12:00:00Z"}),
            ("delete", {**base, "action": "delete", "event_id": f"{key}-d"}),
        ])
    if order == "adjacent":
        return [e for trio in per_permit for e in trio]
    return [trio[step] for step in range(3) for trio in per_permit]


def publish(amqp_url: str, batch: list[tuple[str, dict[str, Any]]]) -> dict[str, float]:
    """Publish with confirms (one at a time, as a simple enterprise sender would);
    event_id -> wall-clock time just before its publish."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    sent: dict[str, float] = {}
    for action, command in batch:
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                     message_id=command["event_id"])
        sent[command["event_id"]] = time.time()
        channel.basic_publish("opscom.ingress", f"permit.{action}",
                              json.dumps(command).encode(), props, mandatory=True)
    connection.close()
    return sent


def _ledger_time(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()


def analyse(ledger: list[dict[str, Any]], sent: dict[str, float], permits: int,
            first_publish: float, last_publish: float) -> dict[str, Any]:
    """Order check, throughput and per-event latency from the simulator's ledger."""
    by_ref: dict[str, str] = {}
    applied: dict[str, list[str]] = {}
    arrival: dict[str, float] = {}
    op_event = {"push": "c", "update": "u", "delete": "d"}
    for entry in ledger:
        if not entry.get("applied"):
            continue
        body = entry.get("body") or {}
        if entry["op"] == "push":
            permit = body.get("permitNo")
            by_ref[entry["reference_id"]] = permit
        else:
            permit = by_ref.get(entry.get("reference_id") or body.get("referenceID"), "?")
        applied.setdefault(permit, []).append(entry["op"])
        arrival.setdefault(f"{permit}-{op_event[entry['op']]}", _ledger_time(entry))
    in_order = sum(1 for ops in applied.values() if ops == ["push", "update", "delete"])
    latencies = [arrival[e] - t for e, t in sent.items() if e in arrival]
    last = max((_ledger_time(e) for e in ledger), default=first_publish)
    span = last - first_publish
    applied_count = sum(len(v) for v in applied.values())
    return {
        "events_published": len(sent),
        "ledger_entries": len(ledger),
        "ledger_applied": applied_count,
        "ledger_not_applied": len(ledger) - applied_count,
        "permits_in_order": in_order,
        "permits_total": permits,
        "order_check": f"{in_order}/{permits} permits applied exactly push, update, delete",
        "publish_s": round(last_publish - first_publish, 2),
        "end_to_end_s": round(span, 2),
        "events_per_s": round(applied_count / span, 1) if span > 0 else None,
        "event_latency_ms": common.percentiles(latencies),
        "event_latency_note": "publish (wall clock, this process) to the simulator's ledger "
                              "arrival time of that event's request (same machine clock); the "
                              "simulator answers latency-ms later",
    }


def scrape(port: int) -> dict[str, float]:
    """Worker counters worth reporting, from its Prometheus endpoint."""
    wanted = ("opscom_bridge_opscom_calls_total", "opscom_bridge_events_total",
              "opscom_bridge_ingress_messages_total")
    found: dict[str, float] = {}
    try:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.RequestException as exc:
        return {"error": type(exc).__name__}  # type: ignore[dict-item]
    for line in body.splitlines():
        if line.startswith(wanted) and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            if "_created" not in name:
                found[name] = float(value)
    return found


def one_run(args: argparse.Namespace, workers: int, order: str) -> dict[str, Any]:
    label = f"pipe{workers}{order[0]}"
    sim, sim_url = common.start_sim(args.latency_ms, label=f"pipeline_sim_{workers}_{order}")
    control = SimControl(sim_url, common.SIM_TOKEN, common.CLIENT_CODE)
    procs: list[common.Proc] = []
    try:
        with common.fresh_vhost(label) as (amqp_url, vhost), \
                common.fresh_postgres(label) as db_url:
            env = common.bridge_env(sim_url, amqp_url, db_url)
            common.declare_topology(env)
            ports = [common.free_port() for _ in range(workers)]
            for n, port in enumerate(ports):
                procs.append(common.Proc(
                    [sys.executable, "-m", "bridge", "worker", "--metrics-port", str(port)],
                    f"pipeline_worker_{workers}_{order}_{n}.log", env=env))
            for proc in procs:
                proc.wait_for_line(READY, timeout=60)
                proc.wait_for_line(r"ingress consumer on", timeout=30)
            time.sleep(1.0)  # let every consumer register (single active consumer)
            consumers = common.list_consumers(vhost)
            batch = events(args.permits, order, f"bench-{uuid.uuid4().hex[:6]}")
            meter = common.CpuMeter({
                **{f"worker {n}": common.process_tree(p.pid) for n, p in enumerate(procs)},
                "simulator": common.process_tree(sim.pid),
                "publisher (this process)": [os.getpid()],
                "rabbitmq": common.pids_named(("beam.smp",)),
                "postgresql": common.pids_named(("postgres",)),
            })
            common.log(f"{workers} worker(s) (pids {' '.join(str(p.pid) for p in procs)}), "
                       f"{order}: publishing {len(batch)} events")
            meter.start()
            first = time.time()
            sent = publish(amqp_url, batch)
            last_publish = time.time()
            try:
                control.wait_ledger(len(batch), timeout=args.timeout)
            except TimeoutError as exc:
                common.log(f"  {exc}")
            cpu = meter.stop()
            time.sleep(0.5)  # late retries or stragglers show up in the ledger too
            ledger = control.ledger()
            result = analyse(ledger, sent, args.permits, first, last_publish)
            result["cpu"] = cpu
            result["dead_letters"] = _dead_letters(db_url)
            result["per_worker"] = [
                {"worker": n, "metrics": scrape(port),
                 "log_warnings": sum(1 for line in proc.text().splitlines()
                                     if " WARNING " in line or " ERROR " in line)}
                for n, (proc, port) in enumerate(zip(procs, ports, strict=True))]
            result["consumers_before_publish"] = _sac_summary(consumers, workers)
            common.log(f"  {result['events_per_s']} events/s, latency "
                       f"{result['event_latency_ms']}, {result['order_check']}, "
                       f"dead letters {result['dead_letters']}")
            for proc in procs:
                proc.stop()
            return {"workers": workers, "order": order, **result}
    finally:
        for proc in procs:
            proc.stop()
        sim.stop()


def _dead_letters(db_url: str) -> int | str:
    try:
        engine = connect(db_url, create=False)
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM opscom_dead_letters")).scalar_one()
        engine.dispose()
        return int(count)
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def _sac_summary(rows: list[dict[str, str]], workers: int) -> dict[str, Any]:
    """Which worker connection is the active consumer of each queue (by channel pid)."""
    channels = sorted({r["channel_pid"] for r in rows})
    active: dict[str, list[str]] = {}
    for row in rows:
        if row["active"] == "true":
            active.setdefault(row["channel_pid"], []).append(row["queue"])
    return {"consumer_channels": len(channels),
            "active_queues_by_channel": {ch: sorted(q) for ch, q in active.items()},
            "channels_active_on_nothing": len([c for c in channels if c not in active]),
            "note": "from rabbitmqctl list_consumers; each worker has one channel for the "
                    "work queues and one for opscom.ingress"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for order in [o.strip() for o in args.order.split(",") if o.strip()]:
        for workers in [int(w) for w in args.workers.split(",") if w.strip()]:
            runs.append(one_run(args, workers, order))
    return {
        "conditions": {
            "simulator": f"python -m bridge sim in its own process, {args.latency_ms:g} ms "
                         "latency on every request",
            "workers": "python -m bridge worker, default settings (BRIDGE_MAX_IN_FLIGHT 32, "
                       "8 partitions, classic queues, default retry schedule)",
            "database": "postgresql (fresh database per run)",
            "broker": "RabbitMQ 127.0.0.1, fresh vhost per run",
            "publisher": "pika BlockingConnection, publisher confirms, one message at a time, "
                         "persistent, routing key permit.<action>",
            "events": f"{args.permits} permits x (create, update, delete)",
        },
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(sys.argv[1:] if argv is None else argv)
    result = run(args)
    result["params"] = vars(args)
    path = common.write_result(NAME, result)
    common.log(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
