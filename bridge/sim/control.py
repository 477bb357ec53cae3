"""The `/_sim/...` JSON endpoints: look at the ledger and permits, set faults, reset.

They need no token: the simulator is a test double bound to localhost by default.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bridge.sim.app import SIM, Simulator
from bridge.sim.faults import FaultError, Faults

#: Longest a ledger request may wait for entries, in seconds.
MAX_WAIT_S = 60.0


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/ledger", ledger)
    app.router.add_get("/_sim/permits", permits)
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", set_faults)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_get("/_sim/config", get_config)
    app.router.add_post("/_sim/config", set_config)
    app.router.add_post("/_sim/reset", reset)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ledger(request: web.Request) -> web.Response:
    """Entries after `since` (seq), of `op` if given; `min_count` + `wait` long-poll."""
    sim = request.app[SIM]
    query = request.query
    since, op = int(query.get("since", 0)), query.get("op")
    wanted, wait = int(query.get("min_count", 0)), min(float(query.get("wait", 0)), MAX_WAIT_S)
    deadline = asyncio.get_running_loop().time() + wait
    found = _entries(sim, since, op)
    while len(found) < wanted and await _changed_before(sim, deadline):
        found = _entries(sim, since, op)
    return web.json_response({"requests": found, "count": len(found)})


def _entries(sim: Simulator, since: int, op: str | None) -> list[dict[str, Any]]:
    return [e for e in sim.state.ledger[since:] if op is None or e["op"] == op]


async def _changed_before(sim: Simulator, deadline: float) -> bool:
    """Wait for the next ledger change; False once the deadline passed."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        return False
    try:
        await asyncio.wait_for(sim.state.changed.wait(), remaining)
    except TimeoutError:
        return False
    return True


async def permits(request: web.Request) -> web.Response:
    return web.json_response({"permits": request.app[SIM].state.permits})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM].faults.as_json())


async def set_faults(request: web.Request) -> web.Response:
    """Merge the given settings into the current faults (see bridge.sim.faults)."""
    sim = request.app[SIM]
    try:
        sim.faults = sim.faults.merged(await _json_object(request))
    except FaultError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(sim.faults.as_json())


async def clear_faults(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.faults = Faults()
    return web.json_response(sim.faults.as_json())


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(_config(request.app[SIM]))


async def set_config(request: web.Request) -> web.Response:
    """Change `error_status` (100-599) or `reject_duplicates` (bool) while running."""
    sim = request.app[SIM]
    try:
        changes = await _json_object(request)
        _apply_config(sim, changes)
    except FaultError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(_config(sim))


def _apply_config(sim: Simulator, changes: dict[str, Any]) -> None:
    unknown = set(changes) - {"error_status", "reject_duplicates"}
    if unknown:
        raise FaultError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    status = changes.get("error_status", sim.error_status)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise FaultError("error_status must be an HTTP status (100-599)")
    sim.error_status = status
    duplicates = changes.get("reject_duplicates", sim.state.reject_duplicates)
    sim.state.reject_duplicates = bool(duplicates)


def _config(sim: Simulator) -> dict[str, Any]:
    return {
        "client_code": sim.config.client_code,
        "error_status": sim.error_status,
        "reject_duplicates": sim.state.reject_duplicates,
        "state_file": sim.config.state_file,
    }


async def reset(request: web.Request) -> web.Response:
    """Forget permits and ledger; faults and config go back to how the simulator started."""
    request.app[SIM].reset()
    return web.json_response({"status": "reset"})


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise FaultError("body must be a JSON object") from None
    if not isinstance(data, dict):
        raise FaultError("body must be a JSON object")
    return data
