"""Several `python -m bridge web` on one host: each starts and serves, none takes a control
socket (gunicorn 25.1+ would otherwise put every one at ~/.gunicorn/gunicorn.ctl)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import requests

from tests.integration.webproc import clean_environ, web_process

pytestmark = pytest.mark.integration


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
