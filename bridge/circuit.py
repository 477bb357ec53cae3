"""Circuit breaker: stop calling OPS-COM while it is down, probe, resume by itself.

Without it every message would burn its retry budget against an outage. After
`threshold` consecutive transient failures the circuit opens: lanes wait instead of
calling; a probe (a side-effect-free stats call) runs every `interval` seconds and
closes the circuit when OPS-COM answers again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Circuit:
    def __init__(self, threshold: int, interval: float, probe: Callable[[], bool],
                 on_change: Callable[[bool], None] | None = None) -> None:
        self.threshold = threshold
        self.interval = interval
        self._probe = probe
        self._on_change = on_change
        self._failures = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._closed.set()
        self._stopping = threading.Event()

    @property
    def is_open(self) -> bool:
        return not self._closed.is_set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block while the circuit is open; True once it is closed."""
        return self._closed.wait(timeout)

    def success(self) -> None:
        with self._lock:
            self._failures = 0

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures < self.threshold or self.is_open:
                return
            self._closed.clear()
        log.warning("OPS-COM circuit open after %d consecutive failures; probing every %.1fs",
                    self.threshold, self.interval)
        self._notify(True)
        threading.Thread(target=self._probe_loop, name="circuit-probe", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self._closed.set()

    def _probe_loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                ok = self._probe()
            except Exception:  # a probe must never kill the loop
                log.exception("circuit probe failed")
                ok = False
            if ok:
                with self._lock:
                    self._failures = 0
                    self._closed.set()
                log.info("OPS-COM answers again; circuit closed")
                self._notify(False)
                return

    def _notify(self, is_open: bool) -> None:
        if self._on_change is not None:
            self._on_change(is_open)
