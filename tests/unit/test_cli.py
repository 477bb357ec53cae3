"""The command line: usage, and `run` without RabbitMQ (no services needed)."""

import os
import socket
import subprocess
import sys


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def bridge(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_"))}
    return subprocess.run([sys.executable, "-m", "bridge", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_run_without_rabbitmq_says_how_to_start_it_in_one_line():
    done = bridge("run", AMQP_URL=f"amqp://guest:secretpw@127.0.0.1:{closed_port()}/%2F")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "RabbitMQ is not reachable" in lines[0]
    assert "docker compose up -d rabbitmq" in lines[0]
    assert "rabbitmq-server -detached" in lines[0]
    assert "secretpw" not in done.stderr + done.stdout


def test_usage_lists_every_command():
    done = bridge("--help")
    assert done.returncode == 0
    for command in ("web", "worker", "sim", "run", "topology", "dlq", "stats", "sign"):
        assert f"  {command} " in done.stdout


def test_unknown_command_is_a_usage_error():
    done = bridge("frobnicate")
    assert done.returncode == 2
    assert "unknown command 'frobnicate'" in done.stderr
