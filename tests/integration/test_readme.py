"""The README's copy-paste examples work as written (run by bash against real processes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pika
import pytest

from tests.integration.pipeline import free_port
from tests.integration.webproc import WebProcess, clean_environ, web_process

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def readme_block(starting_with: str) -> str:
    """The fenced sh block of the README whose first line starts with `starting_with`."""
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        if block.startswith(starting_with):
            return block
    raise AssertionError(f"no README block starts with {starting_with!r}")


def json_documents(text: str) -> list[dict]:
    """Every JSON object in `text` (curl prints answers without a newline between them)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def test_simulator_curl_examples_work_as_written(tmp_path):
    block = readme_block("OPSCOM_API_TOKEN=demo-token")
    port = free_port()
    first, rest = block.split("\n", 1)
    script = "\n".join([
        "set -u",
        first.replace("8090", str(port)).replace("&", f"> {tmp_path}/sim.log 2>&1 &"),
        "SIM=$!; trap 'kill $SIM' EXIT",
        f"for _ in $(seq 100); do curl -s localhost:{port}/_sim/health >/dev/null && break;"
        " sleep 0.1; done",
        "set -x",
        rest.replace("8090", str(port)),
    ])
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ})
    answers = json_documents(done.stdout)
    assert done.returncode == 0, done.stderr
    update, stats, delete, refused = answers
    assert update["status"] == "success"
    assert stats == {"data": [{"type": "standard", "zone": "Lot 4", "total": "1"}]}
    assert delete["status"] == "success" and delete["reference_id"] == update["reference_id"]
    assert refused == {"ErrorCode": 9004, "ErrorMessage": "End Time is a required field."}


def test_first_look_with_opscom_bridge_run(tmp_path, amqp_url):
    # Given: `opscom-bridge run` (simulator + web + worker) as the README starts it
    web, sim = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPSCOM_", "BRIDGE_", "AMQP_", "DATABASE_"))}
    env.update(AMQP_URL=amqp_url, DATABASE_URL=f"sqlite:///{tmp_path}/bridge.db")
    run = subprocess.Popen([f"{ROOT}/.venv/bin/opscom-bridge", "run", "--bind",
                            f"127.0.0.1:{web}", "--sim-bind", f"127.0.0.1:{sim}"],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready = (f"for _ in $(seq 200); do curl -sf localhost:{web}/readyz >/dev/null"
                      " && break; sleep 0.1; done")
        block = (readme_block("cat > body.json <<'JSON'\n{\"action\": \"create\", \"source\":"
                              " \"acme-pos\", \"source_id\": \"r-77\"")
                 .replace("8080", str(web)).replace("8090", str(sim))
                 .replace(".venv/bin/", f"{ROOT}/.venv/bin/")
                 .replace("examples/", f"{ROOT}/examples/"))
        # When: the README's first-look commands run as written
        done = subprocess.run(["bash", "-c", f"set -u\n{wait_ready}\n{block}"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        answers = json_documents(done.stdout)
        # Then: accepted, applied at OPS-COM as the README says, and the permit is known
        assert answers[0]["status"] == "accepted"
        push = answers[1]["requests"][0]["body"]
        assert push["plate"] == "AB12" and push["amount"] == "14.50"
        assert push["endTime"] == "2026-07-02T15:00:00"
        assert answers[2]["state"] == "active" and answers[2]["reference_id"]
        assert "published update acme-pos/r-77" in done.stdout
        ledger = subprocess.run(["curl", "-s", f"localhost:{sim}/_sim/ledger?op=update&"
                                 "min_count=1&wait=20"], capture_output=True, text=True)
        update = json.loads(ledger.stdout)["requests"][0]
        assert update["applied"] and update["body"]["endTime"] == "2026-07-02T16:00:00"
    finally:
        run.terminate()
        out, _ = run.communicate(timeout=30)
    assert "demo BRIDGE_ADMIN_TOKEN=demo-admin-token" in out
    assert run.returncode == 0, out


#: The built-in vendors the README's Webhooks section shows a copy-paste example for.
README_VENDORS = ("standard", "easypark", "passport", "paybyx")
#: Work-queue partitions by default (BRIDGE_PARTITIONS), opscom.work.0 .. opscom.work.7.
PARTITIONS = 8


def webhooks_blocks() -> list[str]:
    """The fenced sh blocks of the README's "Webhooks" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n### Webhooks\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def vendor_block(vendor: str) -> str:
    """The one Webhooks block posting to `vendor` (by `sign VENDOR` or `/webhooks/VENDOR`)."""
    found = [b for b in webhooks_blocks()
             if re.search(rf"(sign {vendor} |/webhooks/{vendor}\b)", b)]
    assert len(found) == 1, f"{len(found)} README Webhooks blocks post to {vendor}"
    return found[0]


def exported(block: str) -> dict[str, str]:
    """What the block's `export` lines set, as bash reads them."""
    exports = "\n".join(line for line in block.splitlines() if line.startswith("export "))
    assert exports, "the block exports nothing"
    script = f"set -eu\nenv -0\nprintf '\\1'\n{exports}\nenv -0\ntrue"  # true: no exec, same SHLVL
    done = subprocess.run(["bash", "-c", script], capture_output=True,
                          env={"PATH": os.environ["PATH"]}, check=True, timeout=10)
    before, after = (dict(item.decode().split("=", 1) for item in part.split(b"\0") if item)
                     for part in done.stdout.split(b"\1"))
    return {k: v for k, v in after.items() if before.get(k) != v and k != "_"}


def work_queue_messages(amqp_url: str) -> int:
    """Messages waiting in all work queues (passive declares: nothing is created)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        return sum(channel.queue_declare(f"opscom.work.{n}", passive=True).method.message_count
                   for n in range(PARTITIONS))
    finally:
        connection.close()


def logged(web: WebProcess, line: str, timeout: float = 5.0) -> bool:
    """Whether the web logs `line` within `timeout` (its access log follows the answer)."""
    deadline = time.monotonic() + timeout
    while line not in web.log():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_every_webhooks_example_is_tested():
    # Every sh block of the Webhooks section is one of the vendors tested below.
    assert sorted(map(vendor_block, README_VENDORS)) == sorted(webhooks_blocks())


@pytest.mark.parametrize("vendor", README_VENDORS)
def test_webhooks_example_works_as_written(vendor, tmp_path, sim, amqp_url):
    # Given: the README's block for this vendor, and a web started with what it exports
    block = vendor_block(vendor)
    settings = exported(block)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the block's examples/… paths
    shell = {**clean_environ(), "PATH": f"{ROOT}/.venv/bin:{os.environ['PATH']}"}
    env = {**shell, "OPSCOM_BASE_URL": sim.base_url, "OPSCOM_API_TOKEN": sim.token,
           "AMQP_URL": amqp_url, "DATABASE_URL": f"sqlite:///{tmp_path}/bridge.db"}
    topology = subprocess.run(["opscom-bridge", "topology"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert topology.returncode == 0, topology.stderr
    assert work_queue_messages(amqp_url) == 0
    with web_process({**env, **settings}, tmp_path / "web.log", tmp_path) as web:
        # When: the block runs as written, in a shell with none of the web's settings
        done = subprocess.run(["bash", "-c", f"set -eu\n{block.replace('8080', str(web.port))}"],
                              cwd=tmp_path, env=shell, capture_output=True, text=True, timeout=60)
        # Then: 202 accepted, and the permit command waits in a work queue
        assert done.returncode == 0, done.stderr
        answers = json_documents(done.stdout)
        assert len(answers) == 1, done.stdout
        assert answers[0].get("status") == "accepted" and answers[0]["event_id"], answers
        assert logged(web, f'"POST /webhooks/{vendor} HTTP/1.1" 202'), web.log()
        assert work_queue_messages(amqp_url) == 1
