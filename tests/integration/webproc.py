"""A real `python -m bridge web` for integration tests: start, wait healthy, stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.integration.pipeline import free_port


class WebProcess:
    """`python -m bridge web --bind 127.0.0.1:<port>`; its output goes to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "web", "--bind", f"127.0.0.1:{self.port}"],
                cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"web exited {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"web not healthy in {timeout}s:\n{self.log()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(10)


@contextmanager
def web_process(env: dict[str, str], log_path: Path, cwd: Path) -> Iterator[WebProcess]:
    """A healthy web process, stopped at the end."""
    web = WebProcess(env, log_path, cwd)
    try:
        web.wait_healthy()
        yield web
    finally:
        web.stop()


def clean_environ() -> dict[str, str]:
    """os.environ without any setting of the bridge (nor a shared metrics directory)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_"))
            and k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
