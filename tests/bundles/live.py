"""An operator installed from the chart in its namespaced mode (Roles only), run as a process
with exactly that ServiceAccount's token, as tests/controllers run theirs cluster-wide."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from devstack.operator_process import STARTED
from tests.bundles.charts import dump, render
from tests.controllers import helpers
from tests.controllers.operator import Operator
from tests.support.kube import eventually, kubectl

RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding"}


def token_kubeconfig(api: client.ApiClient, cluster: Any, account: str, namespace: str, dest: Path) -> Path:
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    token = (
        client.CoreV1Api(api)
        .create_namespaced_service_account_token(account, namespace, request)
        .status.token
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": cluster.server, "certificate-authority": str(cluster.ca_cert)},
            }
        ],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "local", "user": account}}],
        "current-context": account,
    }
    dest.write_text(yaml.safe_dump(config))
    dest.chmod(0o600)
    return dest


@contextmanager
def namespaced_operator(api: client.ApiClient, cluster: Any, home: Path) -> Iterator[tuple[Operator, str]]:
    """(operator, the namespace it watches); both namespaces are deleted afterwards."""
    suffix = uuid.uuid4().hex[:6]
    release_ns, watched = f"t-bundles-op-{suffix}", f"t-bundles-live-{suffix}"
    core = client.CoreV1Api(api)
    for name in (release_ns, watched):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    values = {
        "fullnameOverride": "cverag-bundles-op",
        "watchNamespaces": [watched],
        "crds": {"create": False},
        "rbac": {"aggregateToDefaultRoles": False},
    }
    rbac = [d for d in render(values, namespace=release_ns) if d["kind"] in RBAC_KINDS]
    operator = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            kubectl(
                cluster.kubeconfig, "apply", "--server-side", "-f", str(dump(rbac, Path(tmp) / "rbac.yaml"))
            )
        kubeconfig = token_kubeconfig(api, cluster, "cverag-bundles-op", release_ns, home / "kubeconfig")
        operator = Operator(kubeconfig, home / "operator.log", watched, {"CVERAG_TICK_SECONDS": "1"})
        operator.start()
        eventually(
            lambda: STARTED in operator.log_since(0) or None, "the namespaced operator started", attempts=120
        )
        yield operator, watched
    finally:
        if operator is not None:
            if operator.alive():  # the finalizers need the operator, or the namespace never goes
                helpers.delete_all_cverag(api, watched)
            operator.stop()
        for name in (watched, release_ns):
            core.delete_namespace(name)
