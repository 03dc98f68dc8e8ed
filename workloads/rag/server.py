"""How the API is served: the uvicorn configuration ``python -m workloads.rag`` runs, in one place.

Forwarding headers: uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by default, so any
process beside the API (a sidecar, a port-forward, another pod's hostNetwork) could name
itself any client: a new rate-limit bucket per request and forged access-log lines.  Here
they are honoured only from ``trusted_proxies`` (CIDRs, none by default); without any, the
TCP peer is the client.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from workloads.rag.settings import RagSettings


def config(
    app: Any, settings: RagSettings, host: str = "0.0.0.0", port: int | None = None, **extra: Any
) -> uvicorn.Config:
    """The uvicorn config for ``app`` under ``settings`` (``extra``: e.g. ``log_level``)."""
    trusted = [str(network) for network in settings.trusted_proxies]
    return uvicorn.Config(
        app,
        host=host,
        port=settings.port if port is None else port,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        **{"log_level": "info", **extra},
    )
