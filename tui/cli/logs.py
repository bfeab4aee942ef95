"""``-v/--verbose`` and ``--log-format text|json``: operator logs on stderr.

Logs are for operators, never for control flow or results (STYLE 7): results
go to stdout as tables or documents, logs to stderr, so ``-o json | jq`` keeps
working with ``-v``. JSON lines carry RFC 3339 times, the level, the logger
and the message, one object a line, for log collectors.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys

_LEVELS = {0: logging.WARNING, 1: logging.INFO}


class JsonLines(logging.Formatter):
    """One JSON object a record: ``{"time", "level", "logger", "message"}``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        value = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            value["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(value)


def configure_logging(*, verbose: int, log_format: str) -> None:
    """Send gitwave's logs to stderr: warnings only, ``-v`` info, ``-vv`` debug."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("gitwave")
    for old in list(root.handlers):  # main() may run more than once in one process
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(verbose, logging.DEBUG))
    root.propagate = False
