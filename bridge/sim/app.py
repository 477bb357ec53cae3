"""The simulator's aiohttp application: the OPS-COM permit API plus `/_sim` controls.

One event loop serves every request; latency and held "timeouts" are `asyncio.sleep`s,
so slow answers cost no threads. Check order for an API request: client code missing
(9000), body not a JSON object (9003), token (9001, 9030/9033, 9002), client code of
another customer (9002, "token has no permission"), then the op's fields (validate.py),
then the permit store (9009 unknown reference id, 9022 duplicate when enabled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bridge.secret import redact
from bridge.sim.faults import DEFAULT_RETRY_AFTER, Faults, forced_code
from bridge.sim.state import SimState
from bridge.sim.validate import Rejected, canonical, check_client, check_token

API_PATHS = (
    r"/api/{client:[^/]*}/v1/permits/{op:push|update|delete|stats}",
    r"/api/v1/permits/{op:push|update|delete|stats}",
)


@dataclass(frozen=True)
class SimConfig:
    """How one simulator behaves; `faults` are the settings it starts (and resets) with."""

    token: str
    client_code: str = "OC-TOMA"
    #: HTTP status of ErrorCode answers (OPS-COM does not document it).
    error_status: int = 200
    reject_duplicates: bool = False
    state_file: str | None = None
    faults: Faults = field(default_factory=Faults)


class Simulator:
    """Mutable per-app state: config knobs, permits and ledger, current faults."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.error_status = config.error_status
        self.state = SimState(config.state_file, config.reject_duplicates)
        self.faults = config.faults
        self.stopping = asyncio.Event()

    def reset(self) -> None:
        """Forget permits and ledger; faults and knobs go back to how it started."""
        self.state.reset()
        self.faults = self.config.faults
        self.error_status = self.config.error_status
        self.state.reject_duplicates = self.config.reject_duplicates


SIM = web.AppKey("sim", Simulator)


def create_app(config: SimConfig) -> web.Application:
    """The aiohttp application for one simulator."""
    from bridge.sim.control import add_control_routes

    app = web.Application(client_max_size=1024 * 1024)
    app[SIM] = Simulator(config)
    for path in API_PATHS:
        app.router.add_post(path, handle_api)
    add_control_routes(app)
    app.on_shutdown.append(_on_shutdown)
    app.on_cleanup.append(_on_cleanup)
    return app


async def _on_shutdown(app: web.Application) -> None:
    """Release held "timeout" requests so shutdown is quick."""
    app[SIM].stopping.set()


async def _on_cleanup(app: web.Application) -> None:
    app[SIM].state.close()


async def handle_api(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    op = request.match_info["op"]
    client = request.match_info.get("client", "")
    raw = await request.read()
    body = _parse(raw)
    entry = sim.state.record(op, client, _for_ledger(body, raw, sim.config.token))
    sim.faults, fault = sim.faults.choose(op)
    entry["fault"] = fault
    delay = sim.faults.latency_s()
    if delay:
        await asyncio.sleep(delay)
    if fault is not None:
        return await _inject(request, sim, entry, fault, (op, client, body))
    status, answer = apply(sim, entry, op, client, body)
    return web.json_response(answer, status=status)


def apply(
    sim: Simulator, entry: dict[str, Any], op: str, client: str, body: Any
) -> tuple[int, dict[str, Any]]:
    """Run one OPS-COM operation; record the outcome in its ledger entry."""
    try:
        answer = _operate(sim, op, client, body)
    except Rejected as rejected:
        entry.update(status=sim.error_status, error_code=rejected.code)
        return sim.error_status, rejected.answer()
    entry.update(status=200, reference_id=answer.get("reference_id"))
    entry["applied"] = op != "stats"
    sim.state.touch()
    return 200, answer


def _operate(sim: Simulator, op: str, client: str, body: Any) -> dict[str, Any]:
    if not client:
        raise Rejected(9000)
    if not isinstance(body, dict):
        raise Rejected(9003)
    check_token(body, sim.config.token)
    check_client(client, sim.config.client_code)
    fields = canonical(op, body)
    if op == "stats":
        return {"data": sim.state.stats(fields.get("zones"))}
    ref = getattr(sim.state, op)(fields)
    return {"status": "success", "reference_id": ref, "InternalReferenceID": ref}


def _parse(raw: bytes) -> Any:
    """The JSON body, or None when it is not JSON (answered 9003 later)."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None


def _for_ledger(body: Any, raw: bytes, token: str) -> Any:
    """The body as received minus `apiToken`; unparsable bodies as redacted text."""
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k != "apiToken"}
    if body is not None:
        return body
    return redact(raw.decode("utf-8", "replace")[:2000], [token])


async def _inject(
    request: web.Request, sim: Simulator, entry: dict[str, Any], fault: str, call: tuple
) -> web.StreamResponse:
    """Answer with the injected fault instead of (or, drop_after, after) the real work."""
    code = forced_code(fault)
    if code is not None:
        entry.update(status=sim.error_status, error_code=code)
        return web.json_response(Rejected(code).answer(), status=sim.error_status)
    if fault == "drop_after":
        apply(sim, entry, *call)
        _hang_up(request)
    if fault == "drop_before":
        _hang_up(request)
    if fault == "timeout":
        await _hold(sim)
        _hang_up(request)
    status = int(fault)
    entry["status"] = status
    headers = _retry_after(sim.faults.retry_after, status)
    return web.json_response({"error": f"simulated {status}"}, status=status, headers=headers)


def _retry_after(seconds: float | None, status: int) -> dict[str, str]:
    """429 always carries Retry-After; 503 only when one is configured."""
    if status == 429:
        seconds = DEFAULT_RETRY_AFTER if seconds is None else seconds
    if status not in (429, 503) or seconds is None:
        return {}
    return {"Retry-After": str(int(seconds)) if float(seconds).is_integer() else str(seconds)}


async def _hold(sim: Simulator) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sim.stopping.wait(), sim.faults.timeout_hold_s)


def _hang_up(request: web.Request) -> None:
    """Close the connection without a byte of answer; ends the handler quietly."""
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError()
