"""Logging, configured once by `hoinghi serve`: one line per record on stdout with the time (UTC, ISO
8601), level, logger and message; with HOINGHI_LOG_FORMAT=json one JSON object a line instead (`ts`,
`level`, `logger`, `message`, and `exc` for a traceback). INFO lines of the application appear, as do
uvicorn's. No personal data goes into a message: the application logs ids (session, hall, job,
device), never names, QR texts, tokens or passwords.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def configure(fmt: str = "text", level: int = logging.INFO) -> dict[str, object]:
    """Set up the root logger (stdout) and route uvicorn's loggers through it; returns the dictConfig
    uvicorn should use (`log_config`), so that it does not install its own handlers."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    return {"version": 1, "disable_existing_loggers": False}
