"""OpsComClient against the real simulator over HTTP: one test per outcome kind and more."""

from __future__ import annotations

import json
import logging
import select
import threading
import time

import pytest
import urllib3.connectionpool

from bridge.errors import SettingsError
from bridge.opscom import OpsComClient, Outcome, OutcomeKind
from bridge.secret import Secret
from bridge.settings import Settings
from bridge.sim.app import SimConfig
from bridge.sim.remote import SimControl
from bridge.sim.server import SimServer
from tests.plugins.sim import TOKEN

START, END = "2018-07-02T09:00:00", "2018-07-02T09:30:00"
PERMIT = {"plate": "PL8RDR", "startTime": START, "endTime": END, "zone": "Lot 4"}
#: Short enough to keep tests quick, long enough for a loaded CI machine.
READ_TIMEOUT = 1.0


@pytest.fixture
def outcomes() -> list[Outcome]:
    """Every outcome a test saw; none may show the token."""
    seen: list[Outcome] = []
    yield seen
    for outcome in seen:
        text = repr(outcome) + outcome.describe() + json.dumps(outcome.as_dict())
        assert TOKEN not in text


@pytest.fixture
def client(sim, outcomes):
    made = OpsComClient(sim.base_url, sim.client_code, Secret(sim.token),
                        connect_timeout=2.0, read_timeout=READ_TIMEOUT, retry_after_max=30.0)
    yield _Recording(made, outcomes)
    made.close()


class _Recording:
    """Wraps a client so every Outcome lands in the `outcomes` fixture."""

    def __init__(self, client: OpsComClient, seen: list[Outcome]) -> None:
        self.client, self.seen = client, seen

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name not in ("push", "update", "delete", "stats", "call"):
            return method

        def record(*args, **kwargs):
            outcome = method(*args, **kwargs)
            self.seen.append(outcome)
            return outcome

        return record


# -- SUCCESS -------------------------------------------------------------------------
def test_push_update_delete_succeed_with_the_reference(sim, client):
    pushed = client.push(PERMIT)
    assert (pushed.kind, pushed.http_status) == (OutcomeKind.SUCCESS, 200)
    assert list(sim.permits()) == [pushed.reference_id]
    updated = client.update({"referenceID": pushed.reference_id, "plate": "NEW1"})
    assert (updated.kind, updated.reference_id) == (OutcomeKind.SUCCESS, pushed.reference_id)
    assert sim.permits()[pushed.reference_id]["plate"] == "NEW1"
    deleted = client.delete({"referenceID": pushed.reference_id})
    assert deleted.ok and sim.permits() == {}
    assert pushed.elapsed > 0 and pushed.error_code is None


def test_stats_succeeds_with_data_for_all_or_some_zones(sim, client):
    sim.push(**PERMIT)
    sim.push(**{**PERMIT, "zone": "Lot 5"})
    everything = client.stats()
    assert everything.kind is OutcomeKind.SUCCESS and len(everything.data) == 2
    some = client.stats(["Lot 5", "Nowhere"])
    assert some.data == ({"type": "standard", "zone": "Lot 5", "total": "1"},)
    assert sim.ledger(op="stats")[-1]["body"] == {"zones": "Lot 5,Nowhere"}


def test_the_client_adds_the_token_in_the_body_only(sim, client):
    assert client.push({**PERMIT, "apiToken": "caller-must-not-choose"}).ok


# -- PERMANENT -----------------------------------------------------------------------
PERMANENT_CASES = [
    ("push", {"plate": "A", "startTime": START}, 9004),
    ("push", {**PERMIT, "endTime": "2018-07-02 09:30:00"}, 9005),
    ("push", {"startTime": START, "endTime": END}, 9006),
    ("push", {**PERMIT, "startTime": "2018-07-02T09:00:00Z"}, 9007),
    ("update", {"plate": "A"}, 9008),
    ("delete", {"referenceID": "00000000-0000-4000-8000-000000000000"}, 9009),
    ("push", {**PERMIT, "zone": "Z" * 201}, 9030),
    ("push", {"plate": "A", "endTime": END}, 9031),
    ("push", {**PERMIT, "amount": "14.5"}, 9033),
]


@pytest.mark.parametrize(("op", "body", "code"), PERMANENT_CASES,
                         ids=[str(code) for _, _, code in PERMANENT_CASES])
def test_each_error_code_is_permanent(client, op, body, code):
    outcome = client.call(op, body)
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, code)
    assert outcome.error_message and not outcome.retryable


@pytest.mark.parametrize(("client_code", "token", "code"),
                         [("", TOKEN, 9000), ("OC-TOMA", "", 9001),
                          ("OC-TOMA", "wrong-token", 9002), ("OC_TOMA", TOKEN, 9002)])
def test_credential_errors_are_permanent(sim, outcomes, client_code, token, code):
    other = OpsComClient(sim.base_url, client_code, Secret(token), read_timeout=READ_TIMEOUT)
    outcome = other.push(PERMIT)
    outcomes.append(outcome)
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.PERMANENT, code)


def test_duplicate_9022_is_permanent(sim, client):
    sim.configure(reject_duplicates=True)
    assert client.push(PERMIT).ok
    assert client.push(PERMIT).error_code == 9022


@pytest.mark.parametrize("status", [400, 422, 500])
def test_error_code_wins_over_any_http_status(sim, client, status):
    sim.configure(error_status=status)
    outcome = client.push({})
    assert (outcome.kind, outcome.http_status, outcome.error_code) == (
        OutcomeKind.PERMANENT, status, 9006)


# -- NOT_SENT ------------------------------------------------------------------------
def test_connection_refused_is_not_sent(outcomes):
    with SimServer(SimConfig(token=TOKEN)) as server:
        url = server.base_url
    client = OpsComClient(url, "OC-TOMA", Secret(TOKEN), connect_timeout=2.0)
    outcome = client.push(PERMIT)
    outcomes.append(outcome)
    assert outcome.kind is OutcomeKind.NOT_SENT and outcome.retryable
    assert "ConnectionError" in outcome.exception and outcome.http_status is None


def test_stale_pooled_connection_closed_by_the_server_is_reconnected(outcomes):
    # Given a server that closes idle keep-alive connections after 0.2 s
    with SimServer(SimConfig(token=TOKEN), keepalive_timeout=0.2) as server:
        client = OpsComClient(server.base_url, "OC-TOMA", Secret(TOKEN))
        outcomes.append(client.push(PERMIT))
        # When the server has closed our pooled connection (its socket reads EOF)
        sock = _pooled_socket(client)
        assert select.select([sock], [], [], 10)[0], "server never closed the idle connection"
        # Then the next call opens a fresh one and succeeds: not UNKNOWN
        outcome = client.push(PERMIT)
        outcomes.append(outcome)
        assert outcome.kind is OutcomeKind.SUCCESS
        assert len(SimControl(server.base_url, TOKEN).permits()) == 2


def test_request_that_could_not_be_written_on_a_stale_connection_is_not_sent(
    sim, client, monkeypatch
):
    # Given a pooled connection whose sending side is already dead, in the race where
    # the pool's "was it dropped?" check still says no
    assert client.push(PERMIT).ok
    _pooled_socket(client.client).shutdown(2 - 1)  # SHUT_WR: every send now fails (EPIPE)
    monkeypatch.setattr(urllib3.connectionpool, "is_connection_dropped", lambda conn: False)
    # When a call is made on it
    outcome = client.push(PERMIT)
    # Then it is NOT_SENT (urllib3 alone would report "connection aborted" as if sent)
    assert outcome.kind is OutcomeKind.NOT_SENT, outcome.describe()
    assert [e["op"] for e in sim.ledger()] == ["push"]
    assert len(sim.permits()) == 1


# -- UNKNOWN -------------------------------------------------------------------------
def test_read_timeout_after_the_request_arrived_is_unknown(sim, client):
    sim.faults(fail_next=1, fail_kind="timeout")
    outcome = client.push(PERMIT)
    assert outcome.kind is OutcomeKind.UNKNOWN and "ReadTimeout" in outcome.exception
    assert outcome.elapsed >= READ_TIMEOUT
    assert sim.wait_ledger(1, op="push")[0]["fault"] == "timeout"  # it did arrive


def test_slow_answer_applied_after_the_client_gave_up_is_unknown(sim, client):
    # Given every answer takes longer than the client waits
    sim.faults(latency_ms=READ_TIMEOUT * 1000 + 500)
    # When a push times out on the client side
    assert client.push(PERMIT).kind is OutcomeKind.UNKNOWN
    # Then it was applied anyway: a stats call sent later, delayed as long, sees it
    assert sim.call("stats", {}).json()["data"][0]["total"] == "1"


def test_drop_after_is_unknown_and_was_applied(sim, client):
    sim.faults(fail_next=1, fail_kind="drop_after")
    outcome = client.push(PERMIT)
    assert outcome.kind is OutcomeKind.UNKNOWN and outcome.http_status is None
    assert len(sim.permits()) == 1


def test_drop_before_is_also_unknown_to_the_client(sim, client):
    sim.faults(fail_next=1, fail_kind="drop_before")
    assert client.push(PERMIT).kind is OutcomeKind.UNKNOWN
    assert sim.permits() == {}


# -- THROTTLED and TRANSIENT ---------------------------------------------------------
def test_429_is_throttled_with_retry_after(sim, client):
    sim.faults(fail_next=1, fail_kind="429", retry_after=7)
    outcome = client.push(PERMIT)
    assert (outcome.kind, outcome.http_status, outcome.retry_after) == (
        OutcomeKind.THROTTLED, 429, 7.0)


def test_retry_after_is_capped(sim, client):
    sim.faults(fail_next=1, fail_kind="429", retry_after=100000)
    assert client.push(PERMIT).retry_after == 30.0


def test_503_with_retry_after_is_throttled_and_without_is_transient(sim, client):
    sim.faults(fail_next=1, fail_kind="503")
    assert client.push(PERMIT).kind is OutcomeKind.TRANSIENT
    sim.faults(fail_next=1, fail_kind="503", retry_after=3)
    outcome = client.push(PERMIT)
    assert (outcome.kind, outcome.retry_after) == (OutcomeKind.THROTTLED, 3.0)


@pytest.mark.parametrize("kind", ["500", "502"])
def test_server_errors_are_transient(sim, client, kind):
    sim.faults(fail_next=1, fail_kind=kind)
    outcome = client.push(PERMIT)
    assert (outcome.kind, outcome.http_status) == (OutcomeKind.TRANSIENT, int(kind))
    assert sim.permits() == {}


# -- threads, logs, settings ---------------------------------------------------------
def test_64_threads_share_the_pool_concurrently(sim, client, caplog):
    caplog.set_level(logging.DEBUG)
    sim.faults(latency_ms=300)
    results: list[Outcome] = []
    threads = [threading.Thread(target=lambda: results.append(client.push(PERMIT)))
               for _ in range(64)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert time.monotonic() - started < 5.0
    assert [o.kind for o in results] == [OutcomeKind.SUCCESS] * 64
    assert "pool is full" not in caplog.text.lower()
    assert TOKEN not in caplog.text


def test_from_settings(sim):
    settings = Settings(opscom_base_url=sim.base_url, opscom_api_token=Secret(TOKEN))
    assert OpsComClient.from_settings(settings).stats().ok
    with pytest.raises(SettingsError, match="OPSCOM_BASE_URL"):
        OpsComClient.from_settings(Settings(opscom_api_token=Secret(TOKEN)))
    with pytest.raises(SettingsError, match="OPSCOM_API_TOKEN"):
        OpsComClient.from_settings(Settings(opscom_base_url=sim.base_url))


def _pooled_socket(client: OpsComClient):
    """The socket of the one idle keep-alive connection in the client's pool."""
    pools = client.session.get_adapter(client.base_url).poolmanager.pools
    keys = pools.keys()  # RecentlyUsedContainer cannot be iterated itself
    conns = [c for key in keys for c in list(pools[key].pool.queue) if c is not None]
    socks = [conn.sock for conn in conns if conn.sock is not None]
    assert len(socks) == 1, socks
    return socks[0]
