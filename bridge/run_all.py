"""`opscom-bridge run`: the simulator, the web app and the worker in one go.

For a first look on one machine: SQLite, the local RabbitMQ and the built-in OPS-COM
simulator. Missing secrets get demo values, printed once so the curl examples work.
Each part is a child process; Ctrl-C (or SIGTERM) stops them all.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from bridge.settings import load_settings

#: Demo credentials used only when the environment gives none.
DEMO = {
    "OPSCOM_API_TOKEN": "demo-opscom-token",
    "BRIDGE_ADMIN_TOKEN": "demo-admin-token",
    "BRIDGE_VENDOR_STANDARD_SECRET": "whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ=",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="opscom-bridge run",
                                     description="simulator + web + worker, embedded defaults")
    parser.add_argument("--bind", default="127.0.0.1:8080", help="web address")
    parser.add_argument("--sim-bind", default="127.0.0.1:8090", help="simulator address")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    demo = {k: v for k, v in DEMO.items() if not env.get(k)}
    env.update(demo)
    env.setdefault("OPSCOM_BASE_URL", f"http://{args.sim_bind}")
    settings = load_settings(environ=env)
    problem = _broker_problem(settings.amqp_url.reveal())
    if problem:
        print(f"opscom-bridge run: RabbitMQ is not reachable at "
              f"{settings.amqp_url_for_display()} ({problem}); start it with "
              "`rabbitmq-server -detached` or `docker compose up -d rabbitmq`", file=sys.stderr)
        return 1
    for name, value in demo.items():
        print(f"demo {name}={value}")
    children = _start(env, args)
    return _supervise(children)


def _broker_problem(amqp_url: str) -> str | None:
    parts = urlsplit(amqp_url)
    host, port = parts.hostname or "localhost", parts.port or 5672
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _start(env: dict[str, str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    python = [sys.executable, "-m", "bridge"]
    children = [subprocess.Popen([*python, "sim", "--bind", args.sim_bind], env=env)]
    _wait_port(args.sim_bind)
    children.append(subprocess.Popen([*python, "worker"], env=env))
    children.append(subprocess.Popen([*python, "web", "--bind", args.bind], env=env))
    print(f"opscom-bridge running: web http://{args.bind}  simulator http://{args.sim_bind}"
          "  (Ctrl-C stops)", flush=True)
    return children


def _wait_port(bind: str, timeout: float = 15.0) -> None:
    host, port = bind.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)


def _supervise(children: list[subprocess.Popen[bytes]]) -> int:
    def stop(*_args: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = [c for c in children if c.returncode not in (None, 0)]
    finally:
        stop()
        for child in children:
            child.wait(timeout=30)
    # A part that stopped on its own is a failure; parts stopped by us (SIGTERM) are not.
    return 1 if failed else 0
