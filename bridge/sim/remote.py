"""`SimControl`: drive a running simulator over HTTP (its API and its `/_sim` endpoints).

Used by the test fixtures and anything else that needs to look at or steer a simulator,
in-process or in another process alike. Proxies from the environment are ignored: the
simulator is local.
"""

from __future__ import annotations

from typing import Any

import requests

#: Seconds any control call may take before the caller hears about it.
CONTROL_TIMEOUT = 10.0


class SimControl:
    """A client of one simulator at `base_url` (scheme, host and port, no /api)."""

    def __init__(self, base_url: str, token: str, client_code: str = "OC-TOMA") -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client_code = client_code
        self.http = requests.Session()
        self.http.trust_env = False

    def url(self, op: str, client: str | None = None) -> str:
        """The OPS-COM URL of `op` (push, update, delete, stats)."""
        code = self.client_code if client is None else client
        return f"{self.base_url}/api/{code}/v1/permits/{op}"

    def call(self, op: str, body: dict[str, Any], with_token: bool = True) -> requests.Response:
        """POST `body` to `op`, adding the accepted apiToken unless told not to."""
        payload = {"apiToken": self.token, **body} if with_token else body
        return self.http.post(self.url(op), json=payload, timeout=CONTROL_TIMEOUT)

    def push(self, **fields: Any) -> str:
        """Push a permit (defaults fill the required fields); return its reference id."""
        body = {
            "plate": "TEST123",
            "startTime": "2018-07-02T09:00:00",
            "endTime": "2018-07-02T09:30:00",
            **fields,
        }
        answer = self.call("push", body).json()
        if answer.get("status") != "success":
            raise AssertionError(f"simulator refused the push: {answer}")
        return str(answer["reference_id"])

    def ledger(self, op: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Every request so far (of `op`, after seq `since`), oldest first."""
        return self._ledger({"since": since, **({"op": op} if op else {})})

    def wait_ledger(
        self, count: int, op: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Block until the ledger holds `count` entries (of `op`); raise TimeoutError if not."""
        query: dict[str, Any] = {"min_count": count, "wait": timeout}
        if op:
            query["op"] = op
        found = self._ledger(query, timeout + CONTROL_TIMEOUT)
        if len(found) < count:
            raise TimeoutError(f"ledger has {len(found)} {op or ''} entries, wanted {count}")
        return found

    def permits(self) -> dict[str, dict[str, Any]]:
        """Live permits by reference id."""
        return dict(self._get("/_sim/permits")["permits"])

    def faults(self, **settings: Any) -> dict[str, Any]:
        """Merge fault settings (see bridge.sim.faults); return the current ones."""
        return self._send("POST", "/_sim/faults", settings)

    def clear_faults(self) -> dict[str, Any]:
        return self._send("DELETE", "/_sim/faults", None)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Set `error_status` and/or `reject_duplicates` while running."""
        return self._send("POST", "/_sim/config", settings)

    def reset(self) -> None:
        """Forget permits and ledger; faults and config back to their start values."""
        self._send("POST", "/_sim/reset", None)

    def healthy(self) -> bool:
        try:
            return self._get("/_sim/health").get("status") == "ok"
        except requests.RequestException:
            return False

    def _ledger(self, query: dict[str, Any], timeout: float = CONTROL_TIMEOUT) -> list:
        answer = self.http.get(f"{self.base_url}/_sim/ledger", params=query, timeout=timeout)
        answer.raise_for_status()
        return list(answer.json()["requests"])

    def _get(self, path: str) -> dict[str, Any]:
        answer = self.http.get(self.base_url + path, timeout=CONTROL_TIMEOUT)
        answer.raise_for_status()
        return dict(answer.json())

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        answer = self.http.request(method, self.base_url + path, json=body, timeout=CONTROL_TIMEOUT)
        if answer.status_code == 400:
            raise ValueError(answer.json().get("error", answer.text))
        answer.raise_for_status()
        return dict(answer.json())
