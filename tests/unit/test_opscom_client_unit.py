"""Classification of OPS-COM answers the simulator never gives (odd bodies, redirects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from bridge.opscom import Outcome, OutcomeKind, classify, retry_after

CAP = 3600.0


def answer(status: int, body: bytes | str, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else body
    response.headers.update(headers)
    return response


def kind(op: str, status: int, body: bytes | str, **headers: str) -> OutcomeKind:
    return classify(op, answer(status, body, **headers), 0.1, CAP).kind


@pytest.mark.parametrize(("op", "status", "body", "expected"), [
    ("push", 200, '{"status": "success", "reference_id": "r1"}', OutcomeKind.SUCCESS),
    ("update", 200, '{"status": "success"}', OutcomeKind.SUCCESS),
    ("push", 200, '{"status": "success"}', OutcomeKind.PERMANENT),  # no reference to keep
    ("push", 200, '{"status": "failed"}', OutcomeKind.PERMANENT),
    ("push", 200, "<html>maintenance</html>", OutcomeKind.PERMANENT),
    ("push", 200, b"\xff\xfe", OutcomeKind.PERMANENT),
    ("push", 200, "[]", OutcomeKind.PERMANENT),
    ("stats", 200, '{"data": []}', OutcomeKind.SUCCESS),
    ("stats", 200, '{"status": "success"}', OutcomeKind.PERMANENT),
    ("push", 302, "", OutcomeKind.PERMANENT),
    ("push", 404, "not found", OutcomeKind.PERMANENT),
    ("push", 401, "", OutcomeKind.PERMANENT),
    ("push", 408, "", OutcomeKind.TRANSIENT),
    ("push", 504, "<html>gateway</html>", OutcomeKind.TRANSIENT),
    ("push", 500, '{"ErrorCode": 9006, "ErrorMessage": "Plate is a required field."}',
     OutcomeKind.PERMANENT),
    ("push", 429, '{"ErrorCode": 9006}', OutcomeKind.THROTTLED),
])
def test_answers_are_classified(op, status, body, expected):
    assert kind(op, status, body) is expected


def test_error_code_as_text_is_read_as_a_number():
    outcome = classify("push", answer(200, '{"ErrorCode": "9006", "ErrorMessage": "m"}'), 0, CAP)
    assert (outcome.error_code, outcome.error_message) == (9006, "m")


def test_429_without_retry_after_is_throttled_without_a_wait():
    outcome = classify("push", answer(429, ""), 0, CAP)
    assert (outcome.kind, outcome.retry_after) == (OutcomeKind.THROTTLED, None)


@pytest.mark.parametrize(("value", "expected"), [
    ("7", 7.0), ("0", 0.0), ("-5", 0.0), ("1.5", 1.5), ("99999", CAP), ("soon", None),
    ("nan", None), ("inf", None), (None, None),
])
def test_retry_after_values(value, expected):
    assert retry_after(value, CAP) == expected


def test_retry_after_as_http_date():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < retry_after(when, CAP) <= 120
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=120), usegmt=True)
    assert retry_after(past, CAP) == 0.0


def test_outcome_describes_itself_and_serialises():
    outcome = Outcome(OutcomeKind.PERMANENT, "push", http_status=200, error_code=9006,
                      error_message="Plate is a required field.")
    assert outcome.describe() == "permanent: push HTTP 200; ErrorCode 9006; " \
                                 "Plate is a required field."
    assert outcome.as_dict()["kind"] == "permanent" and not outcome.retryable
