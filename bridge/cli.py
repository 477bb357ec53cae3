"""The `opscom-bridge` command (also `python -m bridge`).

Each subcommand owns its own options; this module only dispatches and turns a
SettingsError into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import TextIO

from bridge.errors import SettingsError

#: Settings the long-running OPS-COM-facing processes cannot start without.
SERVICE_REQUIRES = ("OPSCOM_BASE_URL", "OPSCOM_API_TOKEN")

COMMANDS = {
    "web": "serve the HTTP app under gunicorn (--bind, default 0.0.0.0:8080)",
    "worker": "run the ingress consumer and the forwarding worker",
    "sim": "run the OPS-COM simulator (--bind, default 127.0.0.1:8090)",
    "run": "simulator + web + worker in one go, embedded defaults",
    "topology": "declare exchanges and queues (idempotent) and print them",
    "dlq": "dead letters: list / show ID / replay ID... / replay --all / purge",
    "stats": "OPS-COM permit stats as a table (--zones, --json)",
    "sign": "print signed headers (and a curl line) for a webhook body",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        _usage(sys.stdout)
        return 0
    if argv[0] == "--version":
        from bridge import __version__

        print(f"opscom-bridge {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"opscom-bridge: unknown command {name!r}", file=sys.stderr)
        _usage(sys.stderr)
        return 2
    try:
        return _dispatch(name)(rest)
    except SettingsError as exc:
        print(f"opscom-bridge {name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(name: str) -> Callable[[list[str]], int]:
    if name == "web":
        from bridge.web.serve import main as web_main

        return web_main
    if name == "sim":
        from bridge.sim.server import main as sim_main

        return sim_main
    if name == "run":
        from bridge.run_all import main as run_main

        return run_main
    if name in ("dlq", "stats"):
        from bridge import ops_cli

        return ops_cli.dlq_main if name == "dlq" else ops_cli.stats_main
    if name == "sign":
        from bridge.sign import main as sign_main

        return sign_main
    return {"worker": _worker, "topology": _topology}[name]


def _worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="opscom-bridge worker", description=COMMANDS["worker"])
    parser.add_argument("--metrics-port", type=int, default=9100,
                        help="serve Prometheus metrics on this port (0: off; default 9100)")
    args = parser.parse_args(argv)
    from bridge.settings import load_settings

    settings = load_settings(require=SERVICE_REQUIRES)
    from bridge.logs import setup
    from bridge.worker import run_worker

    setup(settings)
    if args.metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(args.metrics_port)
        except OSError as exc:
            logging.getLogger("bridge.worker").warning(
                "metrics not served: port %d: %s", args.metrics_port, exc.strerror)
    return run_worker(settings)


def _topology(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="opscom-bridge topology",
                                     description=COMMANDS["topology"])
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    from kombu import Connection

    from bridge.settings import load_settings
    from bridge.topology import declare, describe

    settings = load_settings()
    try:
        with Connection(settings.amqp_url.reveal(), connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
            rows = describe(declare(conn, settings))
    except Exception as exc:
        print(f"opscom-bridge topology: cannot declare on {settings.amqp_url_for_display()}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        if row["kind"] == "exchange":
            print(f"exchange {row['name']:<28} {row['type']}")
        else:
            arguments = ", ".join(f"{k}={v}" for k, v in row["arguments"].items())
            print(f"queue    {row['name']:<28} <- {row['bound_to']} [{row['routing_key']}]"
                  f" {arguments}")
    return 0


def _usage(stream: TextIO) -> None:
    print("usage: opscom-bridge COMMAND [options]   (opscom-bridge COMMAND --help)\n",
          file=stream)
    for name, text in COMMANDS.items():
        print(f"  {name:<9} {text}", file=stream)
