"""`opscom-bridge web`: the app under gunicorn, run from Python (gunicorn's BaseApplication)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from bridge.errors import SettingsError
from bridge.settings import Settings, load_settings
from bridge.web import gunicorn_conf
from bridge.web.vendors import build_registry

#: Settings `web` refuses to start without (DESIGN.md).
REQUIRED = ("OPSCOM_BASE_URL",)


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
    WebApplication(settings, options_from(args)).run()
    return 0
