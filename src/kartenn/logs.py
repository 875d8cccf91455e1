"""Log output: uvicorn's text lines by default, or one JSON object per line (``log_format = "json"``).

>>> import logging
>>> record = logging.LogRecord("kartenn.access", logging.INFO, "", 0, "GET /ows 200", None, None)
>>> record.status = 200
>>> JSONFormatter().format(record).split(",", 1)[1]
'"level":"INFO","logger":"kartenn.access","message":"GET /ows 200","status":200}'
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

ACCESS = logging.getLogger("kartenn.access")  # one record per answered request, in JSON mode
FIELDS = ("method", "path", "status", "duration", "client")  # a request's, when the record has them


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update({key: getattr(record, key) for key in FIELDS if hasattr(record, key)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's ``log_config`` for the format: None keeps uvicorn's own text lines."""
    if log_format != "json":
        return None
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JSONFormatter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["default"], "level": "INFO"},
        # uvicorn's access lines carry no duration: kartenn.access writes them instead (web/operations.py)
        "loggers": {"uvicorn": {"level": "INFO"}, "uvicorn.access": {"level": "WARNING"}},
    }
