"""Webhook ingress: signed `standard` webhooks into `opscom-bridge web` until the 202.

Starts the real `python -m bridge web` (gunicorn, its default config: 2 processes x 8
threads) against a fresh RabbitMQ vhost (topology declared, no worker consuming) and a
fresh PostgreSQL database (or a SQLite file with --db sqlite), with an OPS-COM
simulator as OPSCOM_BASE_URL (the webhook path never calls it). Then, for each
concurrency level, an aiohttp client keeps that many requests in flight for --seconds,
each a create command with its own webhook-id (distinct event ids), signed with
Standard Webhooks. Reports accepted/s, latency to the answer (p50/p90/p99), answers by
status, where the CPU went, and checks that every 202 is a message in opscom.work.<n>
(passive queue_declare message counts).

    python -m bench webhook_ingress            # or: python -m bench.webhook_ingress --help
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp

from bench import common
from bridge.web.auth import StandardWebhooks

NAME = "webhook_ingress"
SECRET = "whsec_" + base64.b64encode(b"bench-secret-bench-secret-32byte").decode()
ADMIN_TOKEN = "bench-admin-token"
PARTITIONS = 8  # BRIDGE_PARTITIONS default


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_ingress",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="32,64",
                        help="comma-separated in-flight request counts (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per level")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    return parser.parse_args(argv)


class Load:
    """Signed create webhooks with distinct ids, and what came back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.signer = StandardWebhooks([SECRET])
        self.run_id = uuid.uuid4().hex[:8]
        self.sent = 0

    def request(self) -> tuple[bytes, dict[str, str]]:
        self.sent += 1
        n = self.sent
        msg_id = f"msg_{self.run_id}_{n}"
        body = json.dumps({
            "action": "create", "source": "bench", "source_id": f"{self.run_id}-{n}",
            "plate": f"B{n % 1000000:06d}", "zone": "Lot 1", "permitNo": f"BW{n}",
            "amount": "12.50", "currency": "CAD",
            "startTime": "2026-11-22T10:00:00Z", "endTime": "2026-11-22T12:00:00Z",
        }).encode()
        headers = {"Content-Type": "application/json", **self.signer.sign(body, msg_id)}
        return body, headers

    async def client(self, session: aiohttp.ClientSession, stop_at: float,
                     latencies: list[float], statuses: Counter[str]) -> None:
        while time.monotonic() < stop_at:
            body, headers = self.request()
            started = time.monotonic()
            try:
                async with session.post(self.url, data=body, headers=headers) as response:
                    await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = type(exc).__name__
            latencies.append(time.monotonic() - started)
            statuses[status] += 1

    async def level(self, concurrency: int, seconds: float) -> dict[str, Any]:
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            started = time.monotonic()
            stop_at = started + seconds
            await asyncio.gather(*(self.client(session, stop_at, latencies, statuses)
                                   for _ in range(concurrency)))
            elapsed = time.monotonic() - started
        accepted = statuses.get("202", 0)
        return {"concurrency": concurrency, "elapsed_s": round(elapsed, 2),
                "requests": len(latencies), "accepted": accepted,
                "accepted_per_s": round(accepted / elapsed, 1),
                "latency_ms": common.percentiles(latencies),
                "answers_by_status": dict(sorted(statuses.items())),
                "errors": sum(v for k, v in statuses.items() if k != "202")}


def publish_wait(base: str) -> dict[str, Any]:
    """Mean seconds a request waited for RabbitMQ's confirm (opscom_publish_seconds), as
    seen by whichever gunicorn process answers /metrics (cumulative since it started)."""
    import requests

    try:
        body = requests.get(f"{base}/metrics", timeout=5).text
    except requests.RequestException as exc:
        return {"error": type(exc).__name__}
    values = {}
    for line in body.splitlines():
        for key in ("opscom_publish_seconds_sum", "opscom_publish_seconds_count"):
            if line.startswith(key + " "):
                values[key] = float(line.split()[-1])
    count = values.get("opscom_publish_seconds_count", 0)
    mean = values.get("opscom_publish_seconds_sum", 0) / count if count else None
    return {"requests": int(count), "mean_confirm_wait_ms": round(mean * 1000, 1) if mean
            else None}


def wait_ready(url: str, proc: common.Proc, timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"web exited {proc.process.returncode}:\n{proc.text()[-2000:]}")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"web not ready in {timeout}s:\n{proc.text()[-2000:]}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    sim, sim_url = common.start_sim(0, label="webhook_sim")
    try:
        with common.fresh_vhost("web") as (amqp_url, _vhost):
            if args.db == "postgresql":
                with common.fresh_postgres("web") as db_url:
                    return _measure(args, levels, sim_url, amqp_url, db_url)
            db_path = common.LOGS / f"webhook_ingress-{uuid.uuid4().hex[:6]}.db"
            common.LOGS.mkdir(parents=True, exist_ok=True)
            try:
                return _measure(args, levels, sim_url, amqp_url, f"sqlite:///{db_path}")
            finally:
                for suffix in ("", "-wal", "-shm"):
                    with_suffix = db_path.with_name(db_path.name + suffix)
                    if with_suffix.exists():
                        with_suffix.unlink()
    finally:
        sim.stop()


def _measure(args: argparse.Namespace, levels: list[int], sim_url: str, amqp_url: str,
             db_url: str) -> dict[str, Any]:
    env = common.bridge_env(sim_url, amqp_url, db_url, BRIDGE_ADMIN_TOKEN=ADMIN_TOKEN,
                            BRIDGE_VENDOR_STANDARD_SECRET=SECRET)
    common.declare_topology(env)
    port = common.free_port()
    web = common.Proc([sys.executable, "-m", "bridge", "web", "--bind", f"127.0.0.1:{port}"],
                      "webhook_web.log", env=env)
    base = f"http://127.0.0.1:{port}"
    queues = [f"opscom.work.{n}" for n in range(PARTITIONS)]
    try:
        wait_ready(base, web)
        load = Load(f"{base}/webhooks/standard")
        common.log(f"web ready on {base}; warm-up {args.warmup} requests")
        warm = asyncio.run(_warmup(load, args.warmup))
        meter = common.CpuMeter({
            "web (gunicorn, all processes)": common.process_tree(web.pid),
            "load client (this process)": [os.getpid()],
            "rabbitmq": common.pids_named(("beam.smp",)),
            "postgresql": common.pids_named(("postgres",)),
        })
        accepted_total = warm.get("202", 0)
        results = []
        for concurrency in levels:
            common.log(f"concurrency {concurrency} for {args.seconds:g} s")
            meter.start()
            result = asyncio.run(load.level(concurrency, args.seconds))
            result["cpu"] = meter.stop()
            accepted_total += result["accepted"]
            counts = common.queue_messages(amqp_url, queues)
            in_queues = sum(counts.values())
            result["work_queue_check"] = {
                "accepted_so_far": accepted_total, "messages_in_work_queues": in_queues,
                "every_202_is_a_message": in_queues == accepted_total,
                "by_queue": counts}
            common.log(f"  {result['accepted_per_s']} accepted/s, latency "
                       f"{result['latency_ms']}, answers {result['answers_by_status']}, "
                       f"queues {in_queues}/{accepted_total}")
            result["publish_wait_one_process"] = publish_wait(base)
            results.append(result)
    finally:
        web.stop()
    return {
        "conditions": {
            "server": "python -m bridge web (gunicorn gthread, default config: "
                      "2 workers x 8 threads, access log on)",
            "database": "postgresql (fresh database)" if db_url.startswith("postgresql")
            else "sqlite (fresh file)",
            "broker": "RabbitMQ 127.0.0.1, fresh vhost, classic queues, 8 partitions, "
                      "no consumer",
            "request": "POST /webhooks/standard, one create command (~300 B), Standard "
                       "Webhooks signature, distinct webhook-id per request",
            "client": "aiohttp in the runner process, on the same machine",
            "seconds_per_level": args.seconds, "warmup_requests": args.warmup,
            "warmup_answers": dict(warm),
        },
        "levels": results,
    }


async def _warmup(load: Load, count: int) -> Counter[str]:
    statuses: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            body, headers = load.request()
            async with session.post(load.url, data=body, headers=headers) as response:
                await response.read()
                statuses[str(response.status)] += 1
    return statuses


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(sys.argv[1:] if argv is None else argv)
    result = run(args)
    result["params"] = vars(args)
    path = common.write_result(NAME, result)
    common.log(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
