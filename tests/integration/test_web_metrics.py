"""/metrics of the real `opscom-bridge web` (gunicorn, 2 worker processes) counts every
webhook, whichever worker answered it and whichever worker answers the scrape."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_webhooks import PARTITIONS, declare_topology, settings_for
from tests.integration.webproc import WebProcess, web_process
from tests.unit.test_vendors_compiler import EXAMPLE
from tests.unit.test_web import STANDARD, WHSEC, signed

pytestmark = pytest.mark.integration

WEBHOOKS = 40
SCRAPES = 12
ADMIN_TOKEN = "admin-token-never-in-metrics"
OPSCOM_TOKEN = "opscom-token-never-in-metrics"


def web_env(amqp_url: str, database_url: str, tmpdir: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_"))
             and k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    return {**clean, "OPSCOM_BASE_URL": "http://127.0.0.1:9", "OPSCOM_API_TOKEN": OPSCOM_TOKEN,
            "AMQP_URL": amqp_url, "DATABASE_URL": database_url,
            "BRIDGE_PARTITIONS": str(PARTITIONS), "BRIDGE_CONFIG": str(EXAMPLE),
            "BRIDGE_VENDOR_STANDARD_SECRET": WHSEC, "BRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
            "TMPDIR": str(tmpdir)}


@pytest.fixture
def web(tmp_path, amqp_url, database_url) -> Iterator[WebProcess]:
    declare_topology(settings_for(tmp_path, amqp_url, database_url))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with web_process(web_env(amqp_url, database_url, tmpdir), tmp_path / "web.log",
                     tmp_path) as found:
        found.tmpdir = tmpdir  # type: ignore[attr-defined]
        yield found


def _post(web: WebProcess, n: int) -> int:
    body, headers = signed("standard", {**STANDARD, "source_id": f"r-{n}"}, f"msg_metrics_{n}")
    # A new connection per request, so both gunicorn workers take their share.
    headers["Connection"] = "close"
    return requests.post(f"{web.base_url}/webhooks/standard", data=body, headers=headers,
                         timeout=10).status_code


def _samples(text: str, name: str, **labels: str) -> float:
    return sum(sample.value
               for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == name
               and all(sample.labels.get(k) == v for k, v in labels.items()))


def test_every_scrape_counts_every_workers_webhooks(web):
    # Given the web command with two worker processes
    # When vendors post N signed webhooks, several at a time
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda n: _post(web, n), range(WEBHOOKS)))
    assert statuses == [202] * WEBHOOKS, web.log()
    # Then every scrape, whichever worker answers it, shows all N of them
    seen = []
    for _ in range(SCRAPES):
        answer = requests.get(f"{web.base_url}/metrics", headers={"Connection": "close"},
                              timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.text
        seen.append((_samples(text, "opscom_webhooks_total", vendor="standard", status="202"),
                     _samples(text, "opscom_webhooks_total"),
                     _samples(text, "opscom_publish_seconds_count")))
        # and never a secret
        for secret in (WHSEC, ADMIN_TOKEN, OPSCOM_TOKEN):
            assert secret not in text
    assert seen == [(WEBHOOKS, WEBHOOKS, WEBHOOKS)] * SCRAPES


def test_metrics_directory_is_made_for_the_run_and_removed_at_exit(web):
    # While it runs, the workers share one metrics directory under TMPDIR
    made = list(web.tmpdir.glob("opscom-bridge-metrics-*"))
    assert len(made) == 1
    assert _post(web, 0) == 202
    assert list(made[0].glob("counter_*.db"))
    # When it stops, the directory goes with it
    web.process.terminate()
    assert web.process.wait(30) == 0
    assert list(web.tmpdir.iterdir()) == []


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds gunicorn's workers in /proc")
def test_a_dead_workers_webhooks_still_count(web):
    # Given webhooks answered by both workers
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(lambda n: _post(web, n), range(10))) == {202}
    workers = _children(web.process.pid)
    assert len(workers) == 2
    # When one worker dies and gunicorn starts another
    os.kill(workers[0], 9)
    deadline = time.monotonic() + 30
    while (now := _children(web.process.pid)) and (workers[0] in now or len(now) < 2):
        assert time.monotonic() < deadline, web.log()
        time.sleep(0.1)
    web.wait_healthy()
    # Then its webhooks are still counted, on every scrape
    for _ in range(6):
        text = requests.get(f"{web.base_url}/metrics", headers={"Connection": "close"},
                            timeout=10).text
        assert _samples(text, "opscom_webhooks_total", vendor="standard", status="202") == 10
