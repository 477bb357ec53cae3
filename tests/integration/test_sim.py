"""The OPS-COM simulator over real HTTP: operations, error codes, ledger, faults, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from bridge.sim.app import SimConfig
from bridge.sim.faults import Faults
from bridge.sim.remote import SimControl
from bridge.sim.server import SimServer
from tests.plugins.sim import TOKEN, start_sim_process

START, END = "2018-07-02T09:00:00", "2018-07-02T09:30:00"
PERMIT = {"plate": "PL8RDR", "startTime": START, "endTime": END, "zone": "Lot 4"}
#: The published messages, copied from opscom-api.md (not from the code under test).
MESSAGES = {
    9000: "Client Code is missing from the request.",
    9001: "API Token is missing from the request.",
    9002: "The supplied API token does not have permission to perform that request.",
    9003: "Could not parse the request.",
    9004: "End Time is a required field.",
    9005: "The end time value is invalid.",
    9006: "Plate is a required field.",
    9007: "The start time value is invalid.",
    9008: "Reference ID is required. On a new permit push, a reference id is returned. "
    "This is required for updates and deletes.",
    9009: "Record not found.",
    9022: "A record already exists with the supplied details.",
    9030: "The field's maximum number of characters was exceeded.",
    9031: "The field is required.",
    9033: "The field's value is invalid.",
}


def post(sim, path: str, body, raw: bool = False) -> requests.Response:
    data = body if raw else json.dumps(body)
    return sim.http.post(sim.base_url + path, data=data, timeout=10,
                         headers={"Content-Type": "application/json"})


def hang_up(call) -> None:
    """Assert the simulator closed the connection without answering."""
    with pytest.raises(requests.ConnectionError):
        call()


# -- operations ----------------------------------------------------------------------
def test_push_returns_a_new_uuid_reference_and_stores_canonical_fields(sim):
    # When the push example from the OPS-COM page is sent (mixed spellings)
    answer = sim.call("push", {"Amount": "14.50", "CurrencyID": "CAD", "LicencePlate": "PL8RDR",
                               "zone": "Lot 4", "permitNo": "L4-1138",
                               "StartDateUtc": START, "endTime": END}).json()
    # Then the answer has the documented shape and a fresh uuid4
    ref = answer["reference_id"]
    assert answer == {"status": "success", "reference_id": ref, "InternalReferenceID": ref}
    assert uuid.UUID(ref).version == 4
    assert sim.permits()[ref] == {"amount": "14.50", "currency": "CAD", "plate": "PL8RDR",
                                  "zone": "Lot 4", "permitNo": "L4-1138", "startTime": START,
                                  "endTime": END, "type": "standard", "reference_id": ref}
    assert sim.push(**PERMIT) != ref


def test_update_changes_documented_fields_and_echoes_the_reference(sim):
    ref = sim.push(**PERMIT)
    answer = sim.call("update", {"reference_id": ref, "LicencePlate": "NEW1", "amount": "2.00",
                                 "currency": "USD", "EndDateUtc": "2018-07-02T10:00:00",
                                 "zone": "ignored"}).json()
    assert answer == {"status": "success", "reference_id": ref, "InternalReferenceID": ref}
    permit = sim.permits()[ref]
    assert (permit["plate"], permit["amount"], permit["currency"], permit["endTime"],
            permit["zone"]) == ("NEW1", "2.00", "USD", "2018-07-02T10:00:00", "Lot 4")


def test_delete_removes_the_permit_and_then_it_is_not_found(sim):
    ref = sim.push(**PERMIT)
    assert sim.call("delete", {"referenceid": ref}).json()["reference_id"] == ref
    assert ref not in sim.permits()
    assert sim.call("delete", {"referenceID": ref}).json()["ErrorCode"] == 9009
    assert sim.call("update", {"referenceID": ref, "plate": "X"}).json()["ErrorCode"] == 9009


def test_stats_counts_live_permits_per_zone_as_strings_and_filters_zones(sim):
    for zone in ("Lot 01", "Lot 01", "Lot 02", "Red Lot"):
        sim.push(**{**PERMIT, "zone": zone})
    gone = sim.push(**{**PERMIT, "zone": "Red Lot"})
    sim.call("delete", {"referenceID": gone})
    assert sim.call("stats", {}).json() == {"data": [
        {"type": "standard", "zone": "Lot 01", "total": "2"},
        {"type": "standard", "zone": "Lot 02", "total": "1"},
        {"type": "standard", "zone": "Red Lot", "total": "1"},
    ]}
    assert sim.call("stats", {"zones": "Lot 02,Red Lot"}).json()["data"] == [
        {"type": "standard", "zone": "Lot 02", "total": "1"},
        {"type": "standard", "zone": "Red Lot", "total": "1"},
    ]
    assert sim.call("stats", {"zones": "Nowhere"}).json() == {"data": []}


def test_duplicates_are_accepted_by_default_and_refused_when_configured(sim):
    first = sim.push(**PERMIT)
    assert sim.push(**PERMIT) != first  # OPS-COM has no idempotency of its own
    sim.configure(reject_duplicates=True)
    assert sim.call("push", PERMIT).json()["ErrorCode"] == 9022
    assert sim.push(**{**PERMIT, "zone": "Lot 5"})  # other details: fine


# -- error codes ---------------------------------------------------------------------
ERROR_CASES = [
    ("/api//v1/permits/push", {"apiToken": TOKEN, **PERMIT}, 9000),
    ("/api/v1/permits/push", {"apiToken": TOKEN, **PERMIT}, 9000),
    ("/api/OC-TOMA/v1/permits/push", PERMIT, 9001),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": "not-the-token", **PERMIT}, 9002),
    ("/api/OC_TOMA/v1/permits/push", {"apiToken": TOKEN, **PERMIT}, 9002),
    ("/api/OC-TOMA/v1/permits/push", "{not json", 9003),
    ("/api/OC-TOMA/v1/permits/push", "[1, 2]", 9003),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": TOKEN, "plate": "A", "startTime": START}, 9004),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": TOKEN, **PERMIT, "endTime": "2018-13-01"},
     9005),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": TOKEN, "startTime": START, "endTime": END},
     9006),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": TOKEN, **PERMIT, "startTime": "2018-02-30T1"},
     9007),
    ("/api/OC-TOMA/v1/permits/update", {"apiToken": TOKEN, "plate": "A"}, 9008),
    ("/api/OC-TOMA/v1/permits/delete", {"apiToken": TOKEN, "referenceID": "no-such-ref"}, 9009),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": TOKEN, **PERMIT, "plate": "P" * 26}, 9030),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": TOKEN, "plate": "A", "endTime": END}, 9031),
    ("/api/OC-TOMA/v1/permits/push", {"apiToken": TOKEN, **PERMIT, "currency": "EUR"}, 9033),
]


@pytest.mark.parametrize(("path", "body", "code"), ERROR_CASES,
                         ids=[f"{c}-{i}" for i, (_, _, c) in enumerate(ERROR_CASES)])
def test_every_error_code_is_reachable_with_its_published_message(sim, path, body, code):
    answer = post(sim, path, body, raw=isinstance(body, str))
    assert answer.status_code == 200
    assert answer.json() == {"ErrorCode": code, "ErrorMessage": MESSAGES[code]}
    assert sim.permits() == {}


def test_duplicate_code_9022_has_its_message(sim):
    sim.configure(reject_duplicates=True)
    sim.push(**PERMIT)
    assert sim.call("push", PERMIT).json() == {"ErrorCode": 9022, "ErrorMessage": MESSAGES[9022]}


def test_error_status_is_configurable_and_success_stays_200(sim):
    sim.configure(error_status=400)
    assert sim.call("push", {}).status_code == 400
    assert sim.call("push", PERMIT).status_code == 200
    with pytest.raises(ValueError, match="error_status"):
        sim.configure(error_status=42)


# -- ledger --------------------------------------------------------------------------
def test_ledger_holds_every_request_in_order_without_the_token(sim):
    ref = sim.push(**PERMIT)
    sim.call("update", {"referenceID": ref, "plate": "B"})
    sim.call("push", {"plate": "X"})
    post(sim, "/api/OC-TOMA/v1/permits/push", '{"apiToken": "' + TOKEN + '", broken', raw=True)
    entries = sim.ledger()
    assert [(e["seq"], e["op"], e["error_code"]) for e in entries] == [
        (1, "push", None), (2, "update", None), (3, "push", 9004), (4, "push", 9003)]
    assert entries[0]["reference_id"] == ref and entries[0]["applied"] is True
    assert entries[0]["body"] == PERMIT and entries[0]["client"] == "OC-TOMA"
    assert entries[2]["status"] == 200 and entries[2]["applied"] is False
    assert TOKEN not in json.dumps(entries)
    assert [e["seq"] for e in sim.ledger(since=2)] == [3, 4]
    assert [e["seq"] for e in sim.ledger(op="update")] == [2]


def test_wait_ledger_returns_once_requests_arrive_and_times_out_otherwise(sim):
    seen: list = []
    waiter = threading.Thread(target=lambda: seen.extend(sim.wait_ledger(2, op="push")))
    waiter.start()
    sim.push(**PERMIT)
    sim.push(**PERMIT)
    waiter.join(15)
    assert [e["op"] for e in seen] == ["push", "push"]
    with pytest.raises(TimeoutError):
        sim.wait_ledger(3, op="push", timeout=0.2)


# -- faults --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_error_faults_answer_the_status_and_apply_nothing(sim, kind):
    sim.faults(fail_next=1, fail_kind=kind)
    answer = sim.call("push", PERMIT)
    assert answer.status_code == int(kind) and "Retry-After" not in answer.headers
    entry = sim.ledger()[-1]
    assert (entry["fault"], entry["status"], entry["applied"]) == (kind, int(kind), False)
    assert sim.permits() == {}


def test_429_carries_retry_after_and_503_only_when_configured(sim):
    sim.faults(fail_next=1, fail_kind="429")
    assert sim.call("stats", {}).headers["Retry-After"] == "1"
    sim.faults(fail_next=2, fail_kind=429, retry_after=7)
    assert sim.call("stats", {}).headers["Retry-After"] == "7"
    sim.faults(fail_kind="503")
    assert sim.call("stats", {}).headers["Retry-After"] == "7"


def test_timeout_holds_the_request_then_closes_without_applying(sim):
    sim.faults(fail_next=1, fail_kind="timeout")
    with pytest.raises(requests.ReadTimeout):
        sim.http.post(sim.url("push"), json={"apiToken": TOKEN, **PERMIT}, timeout=(2, 0.3))
    entry = sim.wait_ledger(1)[0]
    assert (entry["fault"], entry["status"], entry["applied"]) == ("timeout", None, False)
    sim.faults(fail_next=1, fail_kind="timeout", timeout_hold_s=0.2)
    hang_up(lambda: sim.call("push", PERMIT))  # held, then closed
    assert sim.permits() == {}


@pytest.mark.parametrize("kind", ["drop_before", "drop"])
def test_drop_before_closes_without_answer_and_without_applying(sim, kind):
    sim.faults(fail_next=1, fail_kind=kind)
    hang_up(lambda: sim.call("push", PERMIT))
    entry = sim.ledger()[-1]
    assert (entry["fault"], entry["applied"], entry["reference_id"]) == ("drop_before", False,
                                                                         None)
    assert sim.permits() == {}


def test_drop_after_applies_then_closes_without_answer(sim):
    sim.faults(fail_next=1, fail_kind="drop_after")
    hang_up(lambda: sim.call("push", PERMIT))
    entry = sim.ledger()[-1]
    assert (entry["fault"], entry["applied"]) == ("drop_after", True)
    assert list(sim.permits()) == [entry["reference_id"]]


def test_forced_error_code_fault_answers_that_code_whatever_the_body(sim):
    sim.configure(error_status=409)
    sim.faults(fail_next=1, fail_kind="error:9033")
    answer = sim.call("push", PERMIT)
    assert answer.status_code == 409
    assert answer.json() == {"ErrorCode": 9033, "ErrorMessage": MESSAGES[9033]}
    entry = sim.ledger()[-1]
    assert (entry["fault"], entry["error_code"], entry["applied"]) == ("error:9033", 9033, False)
    assert sim.permits() == {}
    with pytest.raises(ValueError):
        sim.faults(fail_kind="error:1234")


def test_latency_fixed_and_range(sim):
    sim.faults(latency_ms=200)
    started = time.monotonic()
    sim.call("stats", {})
    assert time.monotonic() - started >= 0.2
    sim.faults(latency_ms=[100, 150])
    started = time.monotonic()
    sim.call("stats", {})
    assert 0.1 <= time.monotonic() - started < 2.0


def test_latency_is_served_concurrently(sim):
    # Given 300 ms on every request, 40 requests at once take about 300 ms, not 12 s
    sim.faults(latency_ms=300)
    threads = [threading.Thread(target=sim.push) for _ in range(40)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert time.monotonic() - started < 4.0
    assert len(sim.permits()) == 40


def test_error_rate_fails_about_that_fraction(sim):
    sim.faults(error_rate=1.0, error_kind="502")
    assert sim.call("stats", {}).status_code == 502
    sim.faults(error_rate=0.5)
    statuses = [sim.call("stats", {}).status_code for _ in range(200)]
    assert 50 < statuses.count(502) < 150
    assert set(statuses) == {200, 502}


def test_fail_next_counts_down(sim):
    sim.faults(fail_next=2, fail_kind="500")
    assert [sim.call("stats", {}).status_code for _ in range(3)] == [500, 500, 200]
    assert sim.faults()["fail_next"] == 0


def test_outage_fails_everything_until_switched_off_and_wins_over_fail_next(sim):
    sim.faults(outage=True, fail_next=1, fail_kind="500")
    assert [sim.call("stats", {}).status_code for _ in range(3)] == [503, 503, 503]
    sim.faults(outage="429")
    assert sim.call("stats", {}).status_code == 429
    sim.faults(outage=False)
    assert [sim.call("stats", {}).status_code for _ in range(2)] == [500, 200]


def test_faults_can_target_some_operations(sim):
    sim.faults(outage="503", ops=["push"])
    assert sim.call("push", PERMIT).status_code == 503
    assert sim.call("stats", {}).status_code == 200


def test_bad_fault_settings_are_refused_and_change_nothing(sim):
    for bad in ({"fail_kind": "418"}, {"error_rate": 2}, {"nonsense": 1}, {"latency_ms": "x"}):
        with pytest.raises(ValueError):
            sim.faults(**bad)
    assert sim.faults() == Faults().as_json()


def test_clear_faults_and_reset(sim):
    sim.faults(outage=True)
    assert sim.clear_faults()["outage"] is None
    sim.push(**PERMIT)
    sim.faults(latency_ms=10)
    sim.configure(error_status=500)
    sim.reset()
    assert (sim.ledger(), sim.permits(), sim.faults()) == ([], {}, Faults().as_json())
    assert sim.call("push", {}).status_code == 200
    assert sim.ledger()[0]["seq"] == 1


def test_reset_restores_the_faults_it_started_with():
    config = SimConfig(token=TOKEN, faults=Faults(latency_ms=(5.0, 5.0)))
    with SimServer(config) as server:
        control = SimControl(server.base_url, TOKEN)
        control.clear_faults()
        control.reset()
        assert control.faults()["latency_ms"] == [5.0, 5.0]


# -- persistence and the command -----------------------------------------------------
def test_state_file_survives_a_restart(tmp_path):
    path = str(tmp_path / "sim.json")
    with SimServer(SimConfig(token=TOKEN, state_file=path)) as server:
        ref = SimControl(server.base_url, TOKEN).push(**PERMIT)
    saved = json.loads(Path(path).read_text())
    assert ref in saved["permits"] and saved["ledger"][0]["reference_id"] == ref
    with SimServer(SimConfig(token=TOKEN, state_file=path)) as server:
        control = SimControl(server.base_url, TOKEN)
        assert control.call("update", {"referenceID": ref, "plate": "NEW"}).json()["status"] \
            == "success"
        assert [e["seq"] for e in control.ledger()] == [1, 2]


def test_subprocess_serves_with_flags_and_saves_on_sigterm(tmp_path):
    path = str(tmp_path / "state.json")
    proc = start_sim_process("--error-status", "422", "--reject-duplicates", "--state-file", path)
    try:
        ref = proc.push(**PERMIT)
        assert proc.call("push", PERMIT).status_code == 422  # 9022 with the chosen status
        assert proc.call("push", PERMIT).json()["ErrorCode"] == 9022
    finally:
        assert proc.stop() == 0
    assert ref in json.loads(Path(path).read_text())["permits"]


def test_sim_process_fixture(sim_process):
    assert sim_process.healthy()
    ref = sim_process.push()
    assert list(sim_process.permits()) == [ref]


@pytest.mark.parametrize("args", [[], ["--token", "x", "--bind", "nowhere"],
                                  ["--token", "x", "--error-kind", "418"]])
def test_command_refuses_bad_settings_in_one_line(args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCOM_")}
    done = subprocess.run([sys.executable, "-m", "bridge.sim.server", *args], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("opscom-bridge sim: ")
