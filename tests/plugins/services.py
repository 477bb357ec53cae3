"""Real services, isolated per test: a fresh RabbitMQ vhost, a fresh database.

RabbitMQ vhosts are made with `rabbitmqctl` (the machine's broker has no management
plugin); every vhost this run made is deleted at the end. PostgreSQL gets one database
per test run when BRIDGE_TEST_DB=postgresql (else a SQLite file per test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

RUN_ID = uuid.uuid4().hex[:8]
AMQP_HOST = os.environ.get("BRIDGE_TEST_AMQP_HOST", "127.0.0.1:5672")
PG_ADMIN_URL = os.environ.get("BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_made_vhosts: list[str] = []


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def make_vhost() -> str:
    """Create a fresh vhost; return its AMQP URL."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is not on PATH: integration tests need their own vhost")
    name = f"opscom-test-{RUN_ID}-{len(_made_vhosts)}"
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    _made_vhosts.append(name)
    return f"amqp://guest:guest@{AMQP_HOST}/{quote(name, safe='')}"


@pytest.fixture(scope="session", autouse=True)
def _delete_vhosts() -> Iterator[None]:
    yield
    for name in _made_vhosts:
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
