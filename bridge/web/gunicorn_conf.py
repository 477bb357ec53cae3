"""Gunicorn configuration of `opscom-bridge web` (also usable with `gunicorn -c`).

Threads, not more processes, absorb waiting on RabbitMQ confirms: a request thread
waits at most BRIDGE_CONFIRM_TIMEOUT (2 s) before answering 503.
"""

bind = "0.0.0.0:8080"
#: Processes; each has its own RabbitMQ connection and database pool.
workers = 2
#: Request threads per process (gthread worker).
worker_class = "gthread"
threads = 8
#: A worker silent this long is restarted; well above the 2 s confirm wait.
timeout = 30
graceful_timeout = 20
keepalive = 5
#: Apps are built in each worker after fork: the publisher's I/O thread must not be forked.
preload_app = False
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
#: No control socket (gunicorn 25.1+): every web on a host would share one path,
#: ~/.gunicorn/gunicorn.ctl, each unlinking and taking over the others' socket.
control_socket_disable = True


def child_exit(server: object, worker: object) -> None:
    """A worker is gone: drop its live-gauge files from the multiprocess metrics directory.

    Its counters and histograms stay in the directory and keep counting in /metrics.
    """
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
