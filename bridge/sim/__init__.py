"""The OPS-COM Permits API simulator (`opscom-bridge sim`).

Follows opscom-api.md: `POST /api/{client}/v1/permits/{push|update|delete|stats}`,
every accepted spelling, every limit, the published ErrorCode/ErrorMessage answers
(HTTP status 200 unless `--error-status` says otherwise). It accepts one token and one
client code, keeps permits in memory (or `--state-file`), records every request in a
ledger, and injects faults on demand.

Control endpoints (JSON, no token; meant for tests and demos, so bind to localhost):

- `GET /_sim/health`: `{"status": "ok"}`.
- `GET /_sim/ledger`: `{"requests": [...], "count": n}`, every API request in arrival
  order: `seq`, `time`, `op`, `client`, `body` (without `apiToken`), `status` (HTTP;
  null when the connection was dropped or held), `error_code`, `reference_id`, `fault`,
  `applied`. Query: `since=SEQ`, `op=push`, and `min_count=N&wait=S` to wait up to
  S seconds for N entries.
- `GET /_sim/permits`: `{"permits": {reference_id: {canonical fields, "type",
  "reference_id"}}}`.
- `GET /_sim/faults`: the current fault settings.
- `POST /_sim/faults`: merge settings into the current ones (400 `{"error": ...}` if
  one is wrong).
- `DELETE /_sim/faults`: no faults at all.
- `GET /_sim/config`, `POST /_sim/config`: `error_status` (HTTP status of ErrorCode
  answers), `reject_duplicates`.
- `POST /_sim/reset`: forget permits and ledger; faults and config back to how it started.

Fault settings (`POST /_sim/faults` body; CLI flags set the starting ones):
`latency_ms` (50, or [20, 80] for a uniform range), `error_rate` (0..1) + `error_kind`,
`fail_next` (N) + `fail_kind`, `outage` (a kind, true for "503", false to end it),
`retry_after` (seconds; always sent with 429, default 1; with 503 only when set),
`timeout_hold_s` (default 120), `ops` (which operations faults hit; default all).
Kinds: `500`, `502`, `503`, `429`, `timeout` (hold the request, then close without an
answer; not applied), `drop_before` or `drop` (close without an answer; not applied),
`drop_after` (apply, then close without an answer: the client cannot know it worked),
`error:NNNN` (answer that published ErrorCode, e.g. `error:9033`, whatever the body).
Outage wins over fail_next, which wins over error_rate; latency applies to all requests.

Example::

    curl -X POST localhost:8090/_sim/faults \\
         -d '{"fail_next": 2, "fail_kind": "429", "retry_after": 3}'
"""

from bridge.sim.app import SimConfig, create_app
from bridge.sim.faults import Faults

# SimServer and main live in bridge.sim.server, imported on use so that
# `python -m bridge.sim.server` runs it once.
__all__ = ["Faults", "SimConfig", "create_app"]
