"""kopf entry points of the cverag operator.

This module only wires events to handlers: every decorated function delegates to the
handler module of its kind, which parses the body into the kind's model, acts, and returns
a typed result.  ``python -m controllers`` (or ``kopf run -m controllers.main``) loads it.
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from prometheus_client import start_http_server

from controllers.machinery import settings as operator_settings

METRICS_PORT = int(os.environ.get("CVERAG_METRICS_PORT", "9090"))


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    operator_settings.configure(settings)
    if METRICS_PORT:
        start_http_server(METRICS_PORT)
