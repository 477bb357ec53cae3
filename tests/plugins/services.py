"""Real services, isolated per test: a fresh RabbitMQ vhost, a fresh database.

RabbitMQ vhosts are made through the management API (scripts/services.sh enables it),
else with `rabbitmqctl`; every vhost this run made is deleted at the end. PostgreSQL
gets one database per test run when BRIDGE_TEST_DB=postgresql (else a SQLite file per
test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

RUN_ID = uuid.uuid4().hex[:8]
AMQP_HOST = os.environ.get("BRIDGE_TEST_AMQP_HOST", "127.0.0.1:5672")
MANAGEMENT_URL = os.environ.get("BRIDGE_TEST_RABBITMQ_API", "http://127.0.0.1:15672")
PG_ADMIN_URL = os.environ.get("BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_made_vhosts: list[str] = []


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def _management(method: str, path: str, body: dict | None = None) -> bool:
    """Call RabbitMQ's management API; False when it is not there."""
    try:
        answer = requests.request(method, f"{MANAGEMENT_URL}{path}", json=body, timeout=10,
                                  auth=("guest", "guest"))
    except requests.ConnectionError:
        return False
    answer.raise_for_status()
    return True


def make_vhost() -> str:
    """Create a fresh vhost; return its AMQP URL (management API, else rabbitmqctl)."""
    name = f"opscom-test-{RUN_ID}-{len(_made_vhosts)}"
    quoted = quote(name, safe="")
    if _management("PUT", f"/api/vhosts/{quoted}"):
        _management("PUT", f"/api/permissions/{quoted}/guest",
                    {"configure": ".*", "write": ".*", "read": ".*"})
    else:
        if shutil.which("rabbitmqctl") is None:
            pytest.fail("neither RabbitMQ's management API nor rabbitmqctl is available: "
                        "integration tests need a vhost of their own")
        _rabbitmqctl("add_vhost", name)
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    _made_vhosts.append(name)
    return f"amqp://guest:guest@{AMQP_HOST}/{quoted}"


@pytest.fixture(scope="session", autouse=True)
def _delete_vhosts() -> Iterator[None]:
    yield
    for name in _made_vhosts:
        if not _management("DELETE", f"/api/vhosts/{quote(name, safe='')}"):
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)


@pytest.fixture
def amqp_url() -> str:
    """AMQP URL of a vhost no other test (or test run) sees."""
    return make_vhost()


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    import psycopg

    name = f"opscom_test_{RUN_ID}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database for this test: SQLite file, or (BRIDGE_TEST_DB=postgresql) a fresh schema."""
    if os.environ.get("BRIDGE_TEST_DB", "sqlite") != "postgresql":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    import psycopg

    url = request.getfixturevalue("_pg_database")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{url}?options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """Always PostgreSQL: a fresh schema in this run's database."""
    import psycopg

    url = request.getfixturevalue("_pg_database")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{url}?options=-csearch_path%3D{schema}"
