"""`opscom-bridge web`: the app under gunicorn, run from Python (gunicorn's BaseApplication).

Gunicorn runs several worker processes, so /metrics must add up all of them: the
workers share a PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode), one
given in the environment or else a fresh temporary directory removed at exit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from bridge.errors import SettingsError
from bridge.settings import Settings, load_settings
from bridge.web import gunicorn_conf
from bridge.web.vendors import build_registry

#: Settings `web` refuses to start without (DESIGN.md).
REQUIRED = ("OPSCOM_BASE_URL",)
#: Where prometheus-client's multiprocess mode keeps every process's values.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class WebApplication(BaseApplication):
    """Gunicorn with our config module and options; the app is built per worker."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from bridge.web import create_app

        return create_app(self.settings)


def options_from(args: argparse.Namespace) -> dict[str, Any]:
    """The gunicorn_conf values, with the command line's on top."""
    options = {k: v for k, v in vars(gunicorn_conf).items() if not k.startswith("_")}
    given = {"bind": args.bind, "workers": args.workers, "threads": args.threads}
    options.update({k: v for k, v in given.items() if v is not None})
    return options


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="opscom-bridge web", description=__doc__)
    parser.add_argument("--bind", default=gunicorn_conf.bind, help="host:port to listen on")
    parser.add_argument("--workers", type=int, help=f"processes (default {gunicorn_conf.workers})")
    parser.add_argument("--threads", type=int,
                        help=f"threads per process (default {gunicorn_conf.threads})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(require=REQUIRED)
        build_registry(settings)  # a broken vendor definition stops the start here
    except SettingsError as exc:
        print(f"opscom-bridge web: {exc}", file=sys.stderr)
        return 2
    declare_topology(settings)
    with metrics_dir():
        WebApplication(settings, options_from(args)).run()
    return 0


def declare_topology(settings: Settings) -> None:
    """Declare the queues before serving, so the first webhook is routable.

    RabbitMQ being down does not stop the start: webhooks are answered 503 until it is
    back, and the next start (or `opscom-bridge topology`, or a worker) declares them.
    """
    from kombu import Connection

    from bridge.topology import declare

    try:
        with Connection(settings.amqp_url.reveal(), connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
            declare(conn, settings)
    except Exception as exc:
        print(f"opscom-bridge web: cannot declare the topology on "
              f"{settings.amqp_url_for_display()} now ({type(exc).__name__}); "
              "webhooks are answered 503 until RabbitMQ is back", file=sys.stderr)


@contextmanager
def metrics_dir(environ: MutableMapping[str, str] = os.environ) -> Iterator[Path]:
    """A PROMETHEUS_MULTIPROC_DIR for gunicorn's workers, set up before they start.

    One given in the environment is used (its old value files deleted: counters start
    from zero with the server); otherwise a temporary directory is made and removed at
    exit. Only the process that set it up cleans up: gunicorn's forked workers leave
    through this block too when they exit.
    """
    given = environ.get(MULTIPROC_DIR) or environ.get(MULTIPROC_DIR.lower())
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="opscom-bridge-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    before = environ.get(MULTIPROC_DIR)
    environ[MULTIPROC_DIR] = str(path)
    restore = _value_class_from_environment()
    owner = os.getpid()
    try:
        yield path
    finally:
        if os.getpid() == owner:
            restore()
            if before is None:
                environ.pop(MULTIPROC_DIR, None)
            if not given:
                shutil.rmtree(path, ignore_errors=True)


def _value_class_from_environment() -> Any:
    """Make metrics created from now on follow PROMETHEUS_MULTIPROC_DIR; return an undo.

    prometheus-client picks its value store when first imported, and `bridge.web`
    (imported before this module runs) already imported it. Metrics are only created
    in create_app, in each gunicorn worker after the fork, so choosing again here,
    before the workers start, puts every web metric in the shared directory.
    """
    from prometheus_client import values

    previous = values.ValueClass
    values.ValueClass = values.get_value_class()

    def restore() -> None:
        values.ValueClass = previous

    return restore
