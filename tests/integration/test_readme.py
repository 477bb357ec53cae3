"""The README's copy-paste examples work as written (run by bash against real processes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.pipeline import free_port

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
