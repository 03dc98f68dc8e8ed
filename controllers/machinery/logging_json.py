"""The operator's log lines in the shape every cverag program writes (workloads/common/logs.py).

``{"time", "level", "logger", "message", "kind", "namespace", "resource"}``: kopf's own JSON
format names the fields differently (``timestamp``, ``severity``, an ``object`` map), so one
Fluent Bit parser could not read both.  :func:`install` swaps the formatter of the handler
``kopf.configure`` put on the root logger; kopf's per-object loggers keep attaching the custom
resource (``k8s_ref``), which becomes the top-level identifiers.  Controllers never import
workloads, so this is a second copy of the same dozen lines; tests/observability holds the two
to the same output.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

CVE_ID = re.compile(r"\bCVE-\d{4}-\d{4,}\b")


def timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class OperatorJsonFormatter(logging.Formatter):
    """A record, with kopf's object reference flattened into ``kind``/``namespace``/``resource``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        ref = getattr(record, "k8s_ref", None) or {}
        for key, source in (("kind", "kind"), ("namespace", "namespace"), ("resource", "name")):
            value = ref.get(source) or getattr(record, key, None)
            if value:
                out[key] = value
        if found := CVE_ID.search(message):
            out["cve_id"] = found.group(0)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def install() -> None:
    """Give every root handler (kopf's stream handler, after ``kopf.configure``) the shared shape."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(OperatorJsonFormatter())
