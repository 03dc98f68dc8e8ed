"""The operator's REST transport against the real API server: what an error says, logging in
as a pod's service account, a rotated token, and an operator that loads no client library."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes import client

from controllers.machinery import rest
from controllers.machinery.rest import ApiError, Rest

ROOT = Path(__file__).resolve().parents[2]


def test_the_operator_process_loads_no_client_library() -> None:
    """kopf imports kubernetes and pykube whenever it can; the operator's entry point stops it,
    and registers its own login so kopf never looks for them."""
    probe = (
        "import sys, controllers.__main__\n"
        "from kopf._core.intents import registries\n"
        "loaded = [m for m in ('kubernetes', 'pykube') if sys.modules.get(m) is not None]\n"
        "logins = [h.id for h in registries.get_default_registry()._activities.get_all_handlers()\n"
        "          if h.activity.value == 'authentication']\n"
        "print(loaded, logins)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['login']"


def test_an_error_carries_the_status_and_the_api_s_message(operator_api: Rest) -> None:
    with pytest.raises(ApiError) as missing:
        operator_api.request("GET", "/api/v1/namespaces/default/secrets/no-such-secret")
    assert missing.value.status == 404
    assert missing.value.reason == 'secrets "no-such-secret" not found'


def test_in_cluster_addresses_the_service_host_like_client_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("t0ken\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    info = rest.in_cluster(tmp_path)
    assert info is not None and info.server == "https://[fd00::1]:6443" and info.token == "t0ken"
    assert info.default_namespace is None
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert rest.in_cluster(tmp_path) is None


def test_a_rotated_service_account_token_is_read_again(
    kube: client.ApiClient, cluster: Any, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a pod: the service account's files and the service host.  The account has no
    permissions, so the API server names it in a 403; a token it cannot verify is a 401."""
    core = client.CoreV1Api(kube)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    token = core.create_namespaced_service_account_token("reader", namespace, request).status.token
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(token)
    (account / "namespace").write_text(namespace)
    (account / "ca.crt").write_bytes(Path(cluster.ca_cert).read_bytes())
    server = urlsplit(cluster.server)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", str(server.hostname))
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    info = rest.in_cluster(account)
    assert info is not None and info.default_namespace == namespace
    api = Rest(info, token_file=account / "token")

    def refusal() -> ApiError:
        with pytest.raises(ApiError) as refused:
            api.request("GET", f"/api/v1/namespaces/{namespace}/secrets")
        return refused.value

    assert refusal().status == 403 and f"system:serviceaccount:{namespace}:reader" in refusal().reason
    _rotate(account / "token", "not-a-token")
    assert refusal().status == 401
    _rotate(account / "token", token)
    assert refusal().status == 403
    api.close()


def _rotate(path: Path, token: str) -> None:
    """What the kubelet does: a new file in place (its mtime moves even within one clock tick)."""
    before = path.stat().st_mtime_ns
    path.write_text(token)
    os.utime(path, ns=(time.time_ns(), max(time.time_ns(), before + 1)))
