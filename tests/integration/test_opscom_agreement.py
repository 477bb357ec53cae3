"""The shared case table (tests/opscom_cases.py) against the simulator, over HTTP.

The table and the simulator are independent readings of opscom-api.md; each case must
get the same answer from both: its ErrorCode, or a success.
"""

from __future__ import annotations

import pytest

from tests.opscom_cases import CASES, REF, TOKEN, Case, with_ref

#: Case id -> why the simulator and the table disagree (reported to the lead, not
#: edited here). Strict xfail: once the two agree again the entry must go.
DISAGREEMENTS: dict[str, str] = {}


def _params() -> list:
    return [
        pytest.param(case, id=case.id, marks=_known(case.id)) for case in CASES
    ]


def _known(case_id: str) -> tuple:
    if case_id not in DISAGREEMENTS:
        return ()
    return (pytest.mark.xfail(reason=DISAGREEMENTS[case_id], strict=True),)


def test_table_uses_the_fixture_token(sim):
    assert sim.token == TOKEN


@pytest.mark.parametrize("case", _params())
def test_simulator_answers_like_the_table(sim, case: Case):
    # Given a permit to refer to when the case needs one
    request = with_ref(case.body, sim.push()) if REF in case.body.values() else case.body
    # When the case's body is posted as is (apiToken included or not, as the case says)
    answer = sim.call(case.op, request, with_token=False).json()
    # Then OPS-COM's documented answer comes back
    if case.error_code is None:
        assert "ErrorCode" not in answer, answer
        assert answer.get("status") == "success" or "data" in answer, answer
    else:
        assert answer.get("ErrorCode") == case.error_code, answer
