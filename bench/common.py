"""What every benchmark shares: machine facts, result files, fresh services, processes.

Benchmarks are measurements, not tests: they never assert on timings, they write
`bench/results/<name>.json` with the machine facts and the exact command.
Fresh isolation per run, as the integration tests do it: a RabbitMQ vhost made with
`rabbitmqctl` (the broker has no management plugin) and a PostgreSQL database made
with psycopg; both are removed afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pika

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"  # not committed: each run's process logs, for a look afterwards
AMQP_HOST = os.environ.get("BENCH_AMQP_HOST", "127.0.0.1:5672")
PG_ADMIN_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SIM_TOKEN = "bench-token-1"
CLIENT_CODE = "OC-TOMA"
_BOUND = re.compile(r"on (http://\S+)")

#: The exact command that started this benchmark run (set by the runner).
COMMAND: list[str] = [sys.executable, *sys.argv]


# -- facts and results ------------------------------------------------------------
def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    # Results and this README change with every run; only code makes a run unrepeatable.
    dirty = git("status", "--porcelain", "--", "bridge", "schemas", "bench",
                ":(exclude)bench/results", ":(exclude)bench/README.md")
    return {"commit": git("rev-parse", "HEAD"), "code_dirty": bool(dirty)}


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def command_line() -> str:
    """The command as typed: `.venv/bin/python -m bench ...` (argv[0] is the file with -m)."""
    exe, script, *rest = [*COMMAND, ""][:max(2, len(COMMAND))]
    exe = os.path.relpath(exe, ROOT) if exe.startswith(str(ROOT)) else exe
    path = Path(script)
    if path.parent.name == "bench" and path.suffix == ".py":
        module = "bench" if path.stem == "__main__" else f"bench.{path.stem}"
        return shlex.join([exe, "-m", module, *rest])
    return shlex.join([x for x in (exe, script, *rest) if x])


def write_result(name: str, result: dict[str, Any]) -> Path:
    report = {"benchmark": name,
              "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "command": command_line(),
              "git": git_commit(),
              "machine": machine(),
              **result}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def percentiles(values: list[float], scale: float = 1000.0) -> dict[str, float] | None:
    """p50/p90/p99/max of seconds, in milliseconds (nearest rank)."""
    if not values:
        return None
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * scale, 1)

    return {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
            "max": round(ordered[-1] * scale, 1)}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- services ---------------------------------------------------------------------
def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                          text=True, timeout=60)
    return done.stdout


@contextmanager
def fresh_vhost(label: str) -> Iterator[tuple[str, str]]:
    """(AMQP URL, vhost name) of a vhost made for this run; deleted afterwards."""
    name = f"opscom-bench-{label}-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://guest:guest@{AMQP_HOST}/{quote(name, safe='')}", name
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)


def list_consumers(vhost: str) -> list[dict[str, str]]:
    """Consumers of the vhost's queues with their single-active-consumer state."""
    out = _rabbitmqctl("list_consumers", "-p", vhost, "queue_name", "channel_pid", "active",
                       "activity_status")
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] != "queue_name":
            rows.append(dict(zip(("queue", "channel_pid", "active", "activity_status"), parts,
                                 strict=True)))
    return rows


@contextmanager
def fresh_postgres(label: str) -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL database made for this run; dropped afterwards."""
    import psycopg

    name = f"opscom_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def queue_messages(amqp_url: str, names: list[str]) -> dict[str, int]:
    """Ready messages per queue, by passive queue_declare (creates nothing)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        return {n: channel.queue_declare(n, passive=True).method.message_count for n in names}
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bridge_env(sim_url: str, amqp_url: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a bridge process: defaults except what a run must name."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_", "LOG_"))}
    return {**clean, "OPSCOM_BASE_URL": sim_url, "OPSCOM_API_TOKEN": SIM_TOKEN,
            "OPSCOM_CLIENT_CODE": CLIENT_CODE, "AMQP_URL": amqp_url,
            "DATABASE_URL": database_url, **extra}


def declare_topology(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "bridge", "topology"], env=env, cwd=ROOT,
                   check=True, capture_output=True, timeout=60)


# -- processes --------------------------------------------------------------------
class Proc:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args: list[str], log_name: str, env: dict[str, str] | None = None):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / log_name
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.args = args
        self.process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log,
                                        stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            match = regex.search(self.text())
            if match:
                return match
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.args} exited {self.process.returncode}:\n"
                                   f"{self.text()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.args}: no {pattern!r} within {timeout}s:\n{self.text()[-2000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def start_sim(latency_ms: float = 0.0, label: str = "sim") -> tuple[Proc, str]:
    """`python -m bridge sim` in its own process; (process, base URL from its first line)."""
    proc = Proc([sys.executable, "-m", "bridge", "sim", "--bind", "127.0.0.1:0",
                 "--token", SIM_TOKEN, "--client-code", CLIENT_CODE,
                 "--latency-ms", f"{latency_ms:g}"], f"{label}.log",
                env={k: v for k, v in os.environ.items()
                     if not k.startswith(("OPSCOM_", "BRIDGE_"))})
    match = proc.wait_for_line(_BOUND.pattern, timeout=20)
    return proc, match.group(1)


# -- CPU accounting (from /proc: where the machine's two cores went) ---------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def process_tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(_children(p))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / _TICK


def pids_named(names: tuple[str, ...]) -> list[int]:
    """PIDs whose command name is one of `names` (RabbitMQ's beam.smp, postgres)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            found.append(int(entry.name))
    return found


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (every process, all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / _TICK


class CpuMeter:
    """CPU seconds used by named groups of processes between start() and stop()."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self._start: dict[str, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._start = {k: cpu_seconds(v) for k, v in self.groups.items()}
        self._machine = machine_cpu_seconds()

    def stop(self) -> dict[str, Any]:
        wall = time.monotonic() - self._t0
        used = {k: round(cpu_seconds(v) - self._start[k], 2) for k, v in self.groups.items()}
        machine_busy = machine_cpu_seconds() - self._machine
        used["everything else on the machine (other users' processes)"] = round(
            max(0.0, machine_busy - sum(used.values())), 2)
        return {"wall_s": round(wall, 2), "cpu_s": used,
                "cores_busy": {k: round(v / wall, 2) for k, v in used.items()} if wall else {},
                "machine_cores_busy": round(machine_busy / wall, 2) if wall else None,
                "machine_cores": os.cpu_count(), "loadavg_1m_after": os.getloadavg()[0]}
