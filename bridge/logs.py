"""Logging set-up: one line per event, secrets scrubbed from every record."""

from __future__ import annotations

import logging
import sys

from bridge.secret import redact
from bridge.settings import Settings


class RedactSecrets(logging.Filter):
    """Removes every known secret (and URL passwords) from a record's final text."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.secrets = settings.secrets()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message, self.secrets)
        record.args = None
        return True


def setup(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(settings))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("pika", "amqp", "urllib3", "kombu"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
