"""Simulator throughput: how many pushes per second it answers with injected latency.

Starts `python -m bridge.sim.server` as its own process (so client and server do not
share one interpreter), then keeps `--concurrency` pushes in flight from an aiohttp
client for `--seconds`, and writes bench/results/sim_throughput.json.

    .venv/bin/python bench/sim_throughput.py [--latency-ms 50] [--concurrency 200] [--seconds 5]

The goal (DESIGN: the simulator stands in for OPS-COM under load): at least 1,000
requests/s with 50 ms of latency on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

TOKEN = "bench-token-1"
RESULTS = Path(__file__).parent / "results" / "sim_throughput.json"
BODY = {"apiToken": TOKEN, "plate": "BENCH1", "zone": "Lot 1",
        "startTime": "2018-07-02T09:00:00", "endTime": "2018-07-02T09:30:00"}
GOAL_RPS = 1000


def start_simulator(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    """The simulator subprocess and its base URL (read from its first line)."""
    command = [sys.executable, "-m", "bridge.sim.server", "--bind", "127.0.0.1:0",
               "--token", TOKEN, "--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parent.parent)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"on (http://\S+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return process, match.group(1)


async def worker(session: aiohttp.ClientSession, url: str, stop_at: float,
                 latencies: list[float], errors: list[str]) -> None:
    """Send pushes one after another until `stop_at`, timing each."""
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            async with session.post(url, json=BODY) as response:
                answer = await response.json()
            if answer.get("status") != "success":
                errors.append(str(answer)[:200])
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        latencies.append(time.monotonic() - started)


async def run(url: str, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await session.post(url, json=BODY)  # warm up: one connection, one import path
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(*(worker(session, url, stop_at, latencies, errors)
                               for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return summarise(latencies, errors, elapsed)


def summarise(latencies: list[float], errors: list[str], elapsed: float) -> dict:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {
        "requests": len(ordered),
        "errors": len(errors),
        "error_samples": errors[:5],
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(len(ordered) / elapsed, 1),
        "latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
                       "max": round(ordered[-1] * 1000, 1)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    process, base_url = start_simulator(args.latency_ms)
    try:
        url = f"{base_url}/api/OC-TOMA/v1/permits/push"
        result = asyncio.run(run(url, args.concurrency, args.seconds))
    finally:
        process.terminate()
        process.wait(10)
    report = {
        "benchmark": "sim_throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "params": {"latency_ms": args.latency_ms, "concurrency": args.concurrency,
                   "seconds": args.seconds, "op": "push"},
        "goal_requests_per_s": GOAL_RPS,
        "meets_goal": result["requests_per_s"] >= GOAL_RPS and result["errors"] == 0,
        **result,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if report["meets_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
