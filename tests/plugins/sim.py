"""Fixtures `sim` and `sim_process`: the OPS-COM simulator on a free port.

`sim` runs it in this process (its own event loop on a background thread); `sim_process`
runs `python -m bridge.sim.server` as a real subprocess, for tests that kill or restart
it. Both yield a `SimControl` (bridge.sim.remote) with, stable for every test:

    .base_url  .token ("test-token-123")  .client_code ("OC-TOMA")  .url(op)
    .call(op, body)  .push(**fields) -> reference id
    .ledger(op=None, since=0)  .wait_ledger(count, op=None, timeout=10)  .permits()
    .faults(**settings)  .clear_faults()  .configure(error_status=..., reject_duplicates=...)
    .reset()

`start_sim_process(*flags)` starts one with extra CLI flags (e.g. "--state-file", path).
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bridge.sim.app import SimConfig
from bridge.sim.remote import SimControl
from bridge.sim.server import SimServer

TOKEN = "test-token-123"
CLIENT_CODE = "OC-TOMA"
#: Seconds a simulator subprocess gets to print the URL it listens on.
START_TIMEOUT = 20.0
_BOUND = re.compile(r"on (http://\S+)")


class SimHandle(SimControl):
    """SimControl of an in-process simulator, with its server for stop/restart."""

    def __init__(self, server: SimServer) -> None:
        super().__init__(server.start(), server.config.token, server.config.client_code)
        self.server = server

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    """A fresh in-process simulator accepting TOKEN and CLIENT_CODE."""
    handle = SimHandle(SimServer(SimConfig(token=TOKEN, client_code=CLIENT_CODE)))
    try:
        yield handle
    finally:
        handle.stop()


class SimProcess(SimControl):
    """SimControl of a simulator running as a subprocess (`.process`)."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        super().__init__(base_url, TOKEN, CLIENT_CODE)
        self.process = process

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it lingers; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def start_sim_process(*flags: str, bind: str = "127.0.0.1:0") -> SimProcess:
    """Start `python -m bridge.sim.server` and wait for the line naming its URL."""
    command = [sys.executable, "-m", "bridge.sim.server", "--bind", bind, "--token", TOKEN,
               "--client-code", CLIENT_CODE, *flags]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSCOM_", "BRIDGE_"))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        return SimProcess(process, _read_url(process))
    except BaseException:
        process.kill()
        raise


def _read_url(process: subprocess.Popen[str]) -> str:
    """The URL from the simulator's first line, within START_TIMEOUT."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if selector.select(left):
                line = process.stdout.readline()
                match = _BOUND.search(line)
                if match:
                    return match.group(1)
                if not line:
                    break
    stderr = process.stderr.read() if process.stderr and process.poll() is not None else ""
    raise RuntimeError(f"simulator subprocess did not start: {stderr.strip()[-500:]}")


@pytest.fixture
def sim_process() -> Iterator[SimProcess]:
    """A simulator in its own process (for tests that kill or restart it)."""
    handle = start_sim_process()
    try:
        yield handle
    finally:
        handle.stop()
