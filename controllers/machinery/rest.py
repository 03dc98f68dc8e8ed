"""The operator's HTTP transport to the Kubernetes API: httpx, logged in the way kopf is.

Why not the official client: the operator sends plain JSON to REST paths and never uses its
generated model classes, yet importing them costs about 34 MB of resident memory, a fifth of
the operator's footprint (``bench.operator``).  kopf needs no client library either: when
neither ``kubernetes`` nor ``pykube`` can be imported it uses its own aiohttp connection.  So
``python -m controllers`` blocks both imports, and kopf's watch connection and these calls
share one :func:`connection`: the in-cluster service account, else the kubeconfig.

In the cluster the token file is re-read when the kubelet rotates it (bound service-account
tokens expire within hours), so a long-running operator never sends a stale token.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import httpx
import kopf

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TIMEOUT_SECONDS = 30.0


class ApiError(Exception):
    """A non-2xx answer: ``status`` tells 404 from 409 from 403; ``reason`` is the API's message."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"({status}) {reason}")
        self.status = status
        self.reason = reason

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            message = str(response.json().get("message") or response.reason_phrase)
        except (ValueError, AttributeError):
            message = response.reason_phrase or response.text[:200]
        return cls(response.status_code, message)


def in_cluster(account: Path = SERVICE_ACCOUNT) -> kopf.ConnectionInfo | None:
    """The pod's service account, addressed like client-go's InClusterConfig: by the
    ``KUBERNETES_SERVICE_HOST``/``_PORT`` environment, not ``kubernetes.default.svc``, so it
    works in clusters without DNS (the local kind cluster runs no CoreDNS)."""
    host, token = os.environ.get("KUBERNETES_SERVICE_HOST"), account / "token"
    if not host or not token.is_file():
        return None
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    namespace = account / "namespace"
    return kopf.ConnectionInfo(
        server=f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}",
        ca_path=str(account / "ca.crt"),
        token=token.read_text().strip(),
        default_namespace=namespace.read_text().strip() if namespace.is_file() else None,
    )


def connection() -> kopf.ConnectionInfo:
    """Where and as whom to talk to the API server: the service account, else the kubeconfig
    (``KUBECONFIG`` or ``~/.kube/config``; tokens and client certificates, no exec plugins)."""
    found = in_cluster() or kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    if found is None:
        raise kopf.LoginError("no service account and no kubeconfig (set KUBECONFIG)")
    return found


class _TokenFile(httpx.Auth):
    """A bearer token read from a file, again whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path, self._stamp, self._token = path, 0, ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        stamp = self.path.stat().st_mtime_ns
        if stamp != self._stamp:
            self._token, self._stamp = self.path.read_text().strip(), stamp
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class Rest:
    """JSON over the API server's REST paths with one connection pool, safe across threads."""

    def __init__(self, info: kopf.ConnectionInfo, token_file: Path | None = None) -> None:
        headers = {} if token_file else info.as_http_headers()
        self._http = httpx.Client(
            base_url=info.server,
            verify=info.as_ssl_context(),
            headers={"Accept": "application/json", **headers},
            auth=_TokenFile(token_file) if token_file else None,
            proxy=info.proxy_url,
            trust_env=False,
            timeout=TIMEOUT_SECONDS,
        )

    @classmethod
    def from_environment(cls) -> Rest:
        info = connection()
        rotating = SERVICE_ACCOUNT / "token" if in_cluster() is not None else None
        return cls(info, token_file=rotating)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One call; the parsed JSON answer.  Non-2xx answers raise :class:`ApiError`."""
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else {}
        response = self._http.request(method, path, params=query, content=content, headers=headers)
        if not response.is_success:
            raise ApiError.from_response(response)
        return response.json() if response.content else {}

    def close(self) -> None:
        self._http.close()


@functools.cache
def default() -> Rest:
    """The process's one client, made on first use from :func:`connection`."""
    return Rest.from_environment()
