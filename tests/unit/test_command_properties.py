"""Properties of the canonical command, over generated input (Hypothesis).

Whatever a sender writes (any spelling, numbers or strings, any offset), a command the
bridge accepts becomes a request OPS-COM's own schema accepts, and normalizing twice
changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.command import load_command
from schemas.opscom import ALIASES, REQUEST_SCHEMAS, build_request

SPELLING = {name: st.sampled_from(spellings) for name, spellings in ALIASES.items()}
PLATE = st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789 -", min_size=1, max_size=25)\
    .filter(lambda p: p.strip())
CENTS = st.integers(min_value=1, max_value=99_999_999)
OFFSET = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m)))
MOMENT = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30),
                      timezones=st.just(UTC))


def amount_forms(cents: int) -> st.SearchStrategy[object]:
    value = Decimal(cents) / 100
    forms: list[object] = [f"{value:.2f}", float(value), format(value.normalize(), "f")]
    if cents % 100 == 0:
        forms.append(cents // 100)
    return st.sampled_from(forms)


def time_text(moment: datetime, offset: timezone, style: int, micros: int) -> str:
    local = moment.astimezone(offset).replace(microsecond=micros)
    if style == 0:
        return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
            f".{micros:06d}" if micros else "") + "Z"
    return local.isoformat()


@st.composite
def create_commands(draw: st.DrawFn) -> tuple[dict[str, object], datetime, datetime, int]:
    start = draw(MOMENT)
    end = start + timedelta(seconds=draw(st.integers(min_value=0, max_value=86_400 * 30)))
    cents = draw(CENTS)
    raw: dict[str, object] = {
        "action": "create", "source": "prop", "source_id": str(draw(st.integers(1, 10**9))),
        draw(SPELLING["plate"]): draw(PLATE),
        draw(SPELLING["amount"]): draw(amount_forms(cents)),
        draw(SPELLING["currency"]): draw(st.sampled_from(["CAD", "usd", "Cad"])),
        draw(SPELLING["startTime"]): time_text(start, draw(OFFSET), draw(st.integers(0, 1)),
                                               draw(st.integers(0, 999_999))),
        draw(SPELLING["endTime"]): time_text(end, draw(OFFSET), draw(st.integers(0, 1)), 0),
    }
    return raw, start.replace(microsecond=0), end.replace(microsecond=0), cents


@settings(max_examples=300, deadline=None)
@given(create_commands())
def test_accepted_commands_become_requests_opscom_accepts(case):
    raw, start, end, cents = case
    command = load_command(raw)
    assert load_command(command) == command  # normalizing twice changes nothing
    assert command["startTime"] == start.strftime("%Y-%m-%dT%H:%M:%S")
    assert command["endTime"] == end.strftime("%Y-%m-%dT%H:%M:%S")
    assert command["amount"] == f"{Decimal(cents) / 100:.2f}"
    body = build_request("push", command, "test-token-123")
    assert REQUEST_SCHEMAS["push"]().load(body) == body
