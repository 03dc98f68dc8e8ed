"""How the dev stack runs the operator as a local process: ``python -m controllers``, as in its pod.

The operator tests (``tests/controllers/operator.py``) and the footprint benchmark
(``bench/operator.py``) start it the same way: against a kubeconfig, watching the namespaces
matching a glob, with free ports for metrics and liveness, and without the in-cluster
``KUBERNETES_SERVICE_HOST`` that would make the Kubernetes client ignore the kubeconfig.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devstack import proc

COMMAND = (sys.executable, "-m", "controllers")
ROOT = Path(__file__).resolve().parents[1]
STARTED = "Activity 'startup' succeeded"  # kopf's log line once the operator runs


def operator_env(kubeconfig: Path, namespaces: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus what the operator needs to run here."""
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "CVERAG_NAMESPACE": namespaces,
        "CVERAG_METRICS_PORT": str(proc.free_port()),
        "CVERAG_LIVENESS": f"http://127.0.0.1:{proc.free_port()}/healthz",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return env
