"""One log shape for every program: a JSON object per line on stderr.

``{"time": "2026-12-02T06:50:00.123Z", "level": "info", "logger": "workloads.store",
"message": "...", "cve_id": "CVE-2024-3400", ...}`` — ``time`` is RFC 3339 UTC with
milliseconds (what bundles/logging's Fluent Bit parser reads), ``level`` is lower case, and
identifiers are top-level keys: ``cve_id`` (given as ``extra`` or found in the message), and
for the operator's lines ``kind``/``namespace``/``resource`` (the name) of the custom resource
(controllers/machinery/logging_json.py writes the same shape; a test holds them equal).

The programs' progress lines predate logging and are ``print(..., file=sys.stderr)``; rather
than touch every hot path, :func:`configure` puts a line-buffered stream in front of stderr
that turns each such line into a record of the program's logger.  Lines that already are JSON
objects pass through untouched.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import time
from typing import Any, TextIO

CVE_ID = re.compile(r"\bCVE-\d{4}-\d{4,}\b")
# Record attributes copied as top-level keys when a caller passes them in ``extra``.
IDENTIFIERS = ("cve_id", "kind", "namespace", "resource", "release", "topic", "partition")


def timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-12-02T06:50:00.123Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """A record as one JSON line in the shared shape."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        for key in IDENTIFIERS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if "cve_id" not in out and (found := CVE_ID.search(message)):
            out["cve_id"] = found.group(0)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class LoggingStream(io.TextIOBase):
    """A text stream whose complete lines become log records (JSON lines pass through as is)."""

    def __init__(self, logger: logging.Logger, target: TextIO) -> None:
        self._logger = logger
        self._target = target
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def _emit(self, line: str) -> None:
        if not line.strip():
            return
        if line.startswith("{") and line.rstrip().endswith("}"):
            self._target.write(line + "\n")
            return
        self._logger.info(line)


def configure(program: str, level: int = logging.INFO) -> None:
    """JSON lines on stderr for the root logger, and for ``print`` to stderr as ``program``'s records.

    Called once by each program's ``main``; calling it again changes nothing."""
    original = sys.__stderr__ if isinstance(sys.stderr, LoggingStream) else sys.stderr
    assert original is not None
    handler = logging.StreamHandler(original)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request is noise
    sys.stderr = LoggingStream(logging.getLogger(program), original)
    sys.excepthook = lambda kind, value, tb: logging.getLogger(program).critical(
        "uncaught %s", kind.__name__, exc_info=(kind, value, tb)
    )


def configured() -> bool:
    """Whether :func:`configure` has run in this process (uvicorn then leaves logging alone)."""
    return isinstance(sys.stderr, LoggingStream)
