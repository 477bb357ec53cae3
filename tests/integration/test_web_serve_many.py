"""Several `python -m bridge web` on one host: each starts and serves, none takes a control
socket (gunicorn 25.1+ would otherwise put every one at ~/.gunicorn/gunicorn.ctl)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from tests.integration.pipeline import free_port

pytestmark = pytest.mark.integration


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


def test_two_webs_on_one_host_serve_at_the_same_time(tmp_path, sim, amqp_url):
    # Given: one home directory (where gunicorn would put its control socket) for both
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in clean_environ().items() if k != "XDG_RUNTIME_DIR"}
    env.update(HOME=str(home), OPSCOM_BASE_URL=sim.base_url, OPSCOM_API_TOKEN=sim.token,
               AMQP_URL=amqp_url)
    with ExitStack() as stack:
        # When: two webs start on different ports, the second while the first runs
        webs = []
        for name in ("a", "b"):
            db = f"sqlite:///{tmp_path / name}.db"
            webs.append(stack.enter_context(
                web_process({**env, "DATABASE_URL": db}, tmp_path / f"web-{name}.log", tmp_path)))
        # Then: both serve, both stay up, and neither made a control socket
        for _ in range(3):
            for web in webs:
                answer = requests.get(f"{web.base_url}/healthz", timeout=5)
                assert answer.status_code == 200 and answer.json() == {"status": "ok"}
                assert web.process.poll() is None, web.log()
        assert not (home / ".gunicorn").exists()
        for web in webs:
            assert "control socket" not in web.log().lower(), web.log()
    assert [web.process.returncode for web in webs] == [0, 0], [w.log() for w in webs]
