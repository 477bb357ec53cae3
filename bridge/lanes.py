"""Lanes: different permits run concurrently, one permit's jobs strictly one at a time."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class Lanes:
    """A thread pool where jobs with the same key run in submission order, never in parallel."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lane")
        self._lock = threading.Lock()
        self._lanes: dict[str, deque[Callable[[], None]]] = {}
        self._idle = threading.Condition(self._lock)

    def submit(self, key: str, job: Callable[[], None]) -> None:
        with self._lock:
            lane = self._lanes.get(key)
            if lane is not None:
                lane.append(job)
                return
            self._lanes[key] = deque([job])
        self._pool.submit(self._run, key)

    def busy(self) -> int:
        with self._lock:
            return len(self._lanes)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: not self._lanes, timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, key: str) -> None:
        while True:
            with self._lock:
                lane = self._lanes[key]
                job = lane[0]
            try:
                job()
            except Exception:  # a job handles its own errors; this is the last guard
                log.exception("lane job failed for a permit")
            with self._lock:
                lane.popleft()
                if not lane:
                    del self._lanes[key]
                    self._idle.notify_all()
                    return
