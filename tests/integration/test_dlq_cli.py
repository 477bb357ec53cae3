"""`opscom-bridge dlq` and `stats` as a user runs them: a subprocess on real services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pika
import pytest
from kombu import Connection

from bridge import db
from bridge.deadletters import DeadLetters
from bridge.topology import WORK_QUEUE_PREFIX, declare
from tests.integration.test_admin_api import (
    PARTITIONS,
    create_command,
    make_settings,
    seed,
    work_message_for,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    """Runs `python -m bridge ...` with this test's database and vhost."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=ROOT,
                              env={**self.env, **env}, capture_output=True, text=True,
                              timeout=120)


@pytest.fixture
def env(amqp_url: str, database_url: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_"))}
    return {**keep, "AMQP_URL": amqp_url, "DATABASE_URL": database_url,
            "BRIDGE_PARTITIONS": str(PARTITIONS)}


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    return Cli(env)


@pytest.fixture
def dead(amqp_url: str, database_url: str) -> DeadLetters:
    with Connection(amqp_url) as conn:
        declare(conn, make_settings(amqp_url, database_url))
    return DeadLetters(db.connect(database_url))


def queued(amqp_url: str) -> int:
    """Messages waiting in all work queues (passive declare: nothing is created)."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = conn.channel()
        return sum(channel.queue_declare(f"{WORK_QUEUE_PREFIX}{n}", passive=True)
                   .method.message_count for n in range(PARTITIONS))
    finally:
        conn.close()


def test_list_json_and_filters(cli: Cli, dead: DeadLetters) -> None:
    first = seed(dead, "p-1", "e-1")
    seed(dead, "p-2", "e-2", vendor="easypark", error_code=None, reason="timed out")
    done = cli("dlq", "list", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["total"] == 2 and shown["items"][0] == first
    for args, expected in [(("--vendor", "easypark"), ["p-2"]), (("--error-code", "9033"),
                           ["p-1"]), (("--permit", "p-2"), ["p-2"]),
                           (("--since", "2000-01-01T00:00:00Z"), ["p-1", "p-2"]),
                           (("--since", "2999-01-01"), [])]:
        found = json.loads(cli("dlq", "list", "--json", *args).stdout)
        assert [i["source_id"] for i in found["items"]] == expected, args
    table = cli("dlq", "list")
    assert first["id"] in table.stdout and "acme/p-1" in table.stdout


def test_show(cli: Cli, dead: DeadLetters) -> None:
    record = seed(dead)
    assert json.loads(cli("dlq", "show", record["id"], "--json").stdout) == record
    missing = cli("dlq", "show", "nope")
    assert missing.returncode == 1 and "no dead letter nope" in missing.stderr


def test_replay_ids(cli: Cli, dead: DeadLetters, amqp_url: str) -> None:
    one, two = seed(dead, "p-1", "e-1"), seed(dead, "p-2", "e-2")
    done = cli("dlq", "replay", one["id"], two["id"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "replayed 2, adopted 0, failed 0"
    assert work_message_for(amqp_url, one["command"])["command"]["source_id"] == "p-1"
    assert dead.list()[1] == 0


def test_replay_unknown_id_fails(cli: Cli, dead: DeadLetters, amqp_url: str) -> None:
    record = seed(dead)
    done = cli("dlq", "replay", record["id"], "nope")
    assert done.returncode == 1 and "nope: no such dead letter" in done.stderr
    assert queued(amqp_url) == 1


def test_replay_edited(cli: Cli, dead: DeadLetters, amqp_url: str, tmp_path: Path) -> None:
    record = seed(dead)
    edit = tmp_path / "command.json"
    edit.write_text(json.dumps({**record["command"], "plate": "FIXED1"}))
    done = cli("dlq", "replay", record["id"], "--edit", str(edit), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["replayed"] == [record["id"]]
    assert work_message_for(amqp_url, record["command"])["command"]["plate"] == "FIXED1"


def test_replay_invalid_edit_keeps_the_dead_letter(cli: Cli, dead: DeadLetters,
                                                   amqp_url: str, tmp_path: Path) -> None:
    record = seed(dead)
    edit = tmp_path / "command.json"
    edit.write_text(json.dumps({"action": "create", "source_id": "p-1", "plate": ""}))
    done = cli("dlq", "replay", record["id"], "--edit", str(edit))
    assert done.returncode == 1 and "invalid command" in done.stderr
    assert dead.get(record["id"]) is not None and queued(amqp_url) == 0


def test_replay_all_prints_progress(cli: Cli, dead: DeadLetters, amqp_url: str) -> None:
    for n in range(250):
        seed(dead, f"p-{n}", f"e-{n}")
    done = cli("dlq", "replay", "--all")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["... 100 of 250", "... 200 of 250"]
    assert done.stdout.strip() == "replayed 250, adopted 0, failed 0"
    assert queued(amqp_url) == 250 and dead.list()[1] == 0


def test_replay_by_permit_keeps_order(cli: Cli, dead: DeadLetters, amqp_url: str) -> None:
    seed(dead, "p-7", "e-create")
    seed(dead, "p-7", "e-update", command={"action": "update", "source": "acme",
                                          "source_id": "p-7", "event_id": "e-update",
                                          "plate": "NEW1"})
    other = seed(dead, "p-8", "e-other")
    done = cli("dlq", "replay", "--permit", "p-7")
    assert done.returncode == 0, done.stderr
    command = create_command("p-7", "e-create")
    actions = [work_message_for(amqp_url, command)["command"]["action"] for _ in range(2)]
    assert actions == ["create", "update"]
    assert [i["id"] for i in dead.list()[0]] == [other["id"]]


def test_replay_fails_when_rabbitmq_cannot_confirm(cli: Cli, dead: DeadLetters) -> None:
    record = seed(dead)
    done = cli("dlq", "replay", record["id"], AMQP_URL="amqp://guest:secretpw@127.0.0.1:1/%2F",
               BRIDGE_CONFIRM_TIMEOUT="0.5")
    assert done.returncode == 1 and "stopped after 0 of 1" in done.stderr
    assert "secretpw" not in done.stderr + done.stdout
    assert dead.get(record["id"]) is not None


def test_purge(cli: Cli, dead: DeadLetters) -> None:
    seed(dead, "p-1", "e-1")
    seed(dead, "p-2", "e-2", vendor="easypark")
    refused = cli("dlq", "purge")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert dead.list()[1] == 2
    done = cli("dlq", "purge", "--yes")
    assert done.returncode == 0 and done.stdout.strip() == "purged 2 dead letters"
    assert dead.list()[1] == 0


def test_bad_setting_is_one_line_and_exit_2(cli: Cli) -> None:
    done = cli("dlq", "list", AMQP_URL="http://not-amqp")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "AMQP_URL" in done.stderr


def test_stats(cli: Cli, sim: Any) -> None:
    for zone in ("Lot 01", "Lot 01", "Lot 02", "Lot 03"):
        sim.push(zone=zone)
    env = {"OPSCOM_BASE_URL": sim.base_url, "OPSCOM_API_TOKEN": sim.token,
           "OPSCOM_CLIENT_CODE": sim.client_code}
    table = cli("stats", **env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "ZONE", "TOTAL"] and len(lines) == 4
    assert any("Lot 01" in line and line.endswith("2") for line in lines)
    rows = json.loads(cli("stats", "--zones", "Lot 01,Lot 02", "--json", **env).stdout)
    assert {r["zone"]: r["total"] for r in rows} == {"Lot 01": "2", "Lot 02": "1"}


def test_stats_failures(cli: Cli, sim: Any) -> None:
    wrong = cli("stats", OPSCOM_BASE_URL=sim.base_url, OPSCOM_API_TOKEN="wrong-token-77",
                OPSCOM_CLIENT_CODE=sim.client_code)
    assert wrong.returncode == 1 and "9002" in wrong.stderr
    assert "wrong-token-77" not in wrong.stderr + wrong.stdout
    unset = cli("stats")
    assert unset.returncode == 2 and "OPSCOM_BASE_URL" in unset.stderr
