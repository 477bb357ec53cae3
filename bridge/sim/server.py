"""Running the simulator: `opscom-bridge sim` (`main`) and in-process (`SimServer`).

`main(argv)` serves until SIGINT/SIGTERM and prints one line with the bound URL
(`--bind 127.0.0.1:0` picks a free port; the line tells which). `SimServer` runs the
same app on its own event loop in a daemon thread, for tests and `opscom-bridge run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

from aiohttp import web

from bridge.errors import SettingsError
from bridge.settings import DEFAULT_CLIENT_CODE, load_settings
from bridge.sim.app import SimConfig, create_app
from bridge.sim.faults import FaultError, Faults

DEFAULT_BIND = "127.0.0.1:8090"
#: Seconds the server waits for in-flight requests when stopping.
SHUTDOWN_TIMEOUT = 5.0
#: aiohttp's own default for idle keep-alive connections, in seconds.
KEEPALIVE_TIMEOUT = 75.0


async def serve(
    config: SimConfig,
    host: str,
    port: int,
    until: Callable[[], Awaitable[object]],
    on_ready: Callable[[int], None],
    keepalive_timeout: float = KEEPALIVE_TIMEOUT,
    access_log: bool = False,
) -> None:
    """Serve `config` on host:port until `until()` returns; tell `on_ready` the port."""
    runner = web.AppRunner(
        create_app(config),
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        keepalive_timeout=keepalive_timeout,
        access_log=web.access_logger if access_log else None,
        handle_signals=False,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
        await site.start()
        on_ready(runner.addresses[0][1])
        await until()
    finally:
        await runner.cleanup()


class SimServer:
    """A simulator on a background thread: `start()` returns its base URL, `stop()` ends it."""

    def __init__(
        self,
        config: SimConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
    ) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.keepalive_timeout = keepalive_timeout
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=self._run, name="opscom-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"simulator did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None or self._stop is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() through _error
            self._error = exc
        finally:
            self._ready.set()
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        await serve(
            self.config,
            self.host,
            self.port,
            self._stop.wait,
            self._bound,
            self.keepalive_timeout,
        )

    def _bound(self, port: int) -> None:
        self.port = port
        self._ready.set()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opscom-bridge sim",
        description="Run the OPS-COM Permits API simulator (see bridge/sim/__init__.py).",
    )
    add = parser.add_argument
    add("--bind", default=DEFAULT_BIND, help=f"HOST:PORT (default {DEFAULT_BIND}; port 0: any)")
    add("--token", help="the one accepted apiToken (default: OPSCOM_API_TOKEN)")
    add("--client-code", help=f"the accepted client code (default: OPSCOM_CLIENT_CODE or "
        f"{DEFAULT_CLIENT_CODE})")
    add("--error-status", type=int, default=200, help="HTTP status of ErrorCode answers")
    add("--latency-ms", default="0", help="added latency: MS or LOW-HIGH (uniform)")
    add("--error-rate", type=float, default=0.0, help="fraction of requests failed (0..1)")
    add("--error-kind", default="503", help="500, 502, 503, 429, timeout, drop_before, drop_after")
    add("--retry-after", type=float, help="Retry-After seconds for 429 (and 503 when given)")
    add("--reject-duplicates", action="store_true", help="answer 9022 for a twin push")
    add("--state-file", help="keep permits and ledger in this JSON file")
    add("--keepalive-timeout", type=float, default=KEEPALIVE_TIMEOUT, help="idle seconds")
    add("--access-log", action="store_true", help="log every request (slower)")
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """SimConfig from parsed flags, falling back to the bridge settings for token/client."""
    settings = load_settings()
    token = args.token or (
        settings.opscom_api_token.reveal() if settings.opscom_api_token else None
    )
    if not token:
        raise SettingsError("OPSCOM_API_TOKEN", "is required (or give --token)")
    faults = Faults().merged(
        {
            "latency_ms": _latency(args.latency_ms),
            "error_rate": args.error_rate,
            "error_kind": args.error_kind,
            "retry_after": args.retry_after,
        }
    )
    return SimConfig(
        token=token,
        client_code=args.client_code or settings.opscom_client_code,
        error_status=args.error_status,
        reject_duplicates=args.reject_duplicates,
        state_file=args.state_file,
        faults=faults,
    )


def _latency(text: str) -> list[float]:
    low, _, high = text.partition("-")
    return [float(low), float(high or low)]


def _split_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise SettingsError("--bind", f"must be HOST:PORT, got {bind!r}")
    return host or "127.0.0.1", int(port)


def main(argv: list[str]) -> int:
    """`opscom-bridge sim ARGS`: serve until interrupted; 2 on a bad setting."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        host, port = _split_bind(args.bind)
    except (SettingsError, FaultError, ValueError) as exc:
        print(f"opscom-bridge sim: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve_until_signalled(config, host, port, args))
    return 0


async def _serve_until_signalled(
    config: SimConfig, host: str, port: int, args: argparse.Namespace
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def ready(bound: int) -> None:
        print(f"OPS-COM simulator on http://{host}:{bound} (client {config.client_code})",
              flush=True)

    await serve(config, host, port, stop.wait, ready, args.keepalive_timeout, args.access_log)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
