"""HTTP plumbing of the OPS-COM client: knowing whether a request left, and idle limits.

urllib3 swallows a broken pipe while sending (the server may have answered before
closing) and reports the read that follows, so a request that died on a stale pooled
connection looks like one whose answer was lost. The connection classes here note, per
thread, when the whole request was handed to the socket; pooled connections idle longer
than `max_idle` are closed before reuse.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

#: Connections kept per host: the worker runs up to 64 threads against one OPS-COM.
DEFAULT_POOL_SIZE = 64
#: Seconds a pooled connection may sit idle before we open a fresh one instead
#: (below Apache's default 5 s keep-alive, the shortest common server setting).
DEFAULT_MAX_IDLE = 4.0

# -- knowing whether the request left ------------------------------------------------
_sent = threading.local()


class _WrittenMixin:
    """Marks, for the calling thread, that the whole request was handed to the socket."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        _sent.written = True


class _TrackedHTTPConnection(_WrittenMixin, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_WrittenMixin, HTTPSConnection):
    pass


class _IdleLimitMixin:
    """Closes a pooled connection idle longer than `max_idle` before reusing it."""

    max_idle: float = DEFAULT_MAX_IDLE

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.idle_since = time.monotonic()
        super()._put_conn(conn)  # type: ignore[misc]

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        idle_since = getattr(conn, "idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since > self.max_idle:
            conn.close()  # reconnects on use
        return conn


class _Pool(_IdleLimitMixin, HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TLSPool(_IdleLimitMixin, HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class TrackedAdapter(HTTPAdapter):
    """HTTPAdapter whose pools use the tracked connections and the idle limit."""

    def __init__(self, pool_size: int, max_idle: float) -> None:
        attrs = {"max_idle": max_idle}
        self._pools = {
            "http": type("Pool", (_Pool,), attrs),
            "https": type("TLSPool", (_TLSPool,), attrs),
        }
        # total=0, read=False: never retry on our behalf, and report read errors as they
        # are (urllib3 would otherwise wrap them and hide whether the request was sent).
        super().__init__(
            pool_connections=4,
            pool_maxsize=pool_size,
            max_retries=Retry(total=0, read=False, redirect=False, raise_on_status=False),
        )

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools


def forget_written() -> None:
    """Start this thread's next request as not written."""
    _sent.written = False


def request_written() -> bool:
    """Whether this thread's last request was entirely handed to the socket.

    Before that point nothing complete reached OPS-COM (connect refused or timed out,
    DNS, TLS, a broken pipe on a stale pooled connection), so it cannot have been
    applied. After it, a read timeout or a reset means the server may have acted:
    urllib3's `_is_read_error` reasoning, "the server began processing it".
    """
    return bool(getattr(_sent, "written", False))
