"""Pod specs made real without a kubelet: run a container's command here with the environment
Kubernetes would give it (Secrets resolved), or report a Job's pod as crashed."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.controllers.helpers import ROOT
from tests.support.kube import eventually


def resolved_env(kube: client.ApiClient, ns: str, container: Mapping[str, Any]) -> dict[str, str]:
    """The container's env as the kubelet would set it: literals, and secretKeyRef values read now."""
    core = client.CoreV1Api(kube)
    out = {}
    for var in container.get("env") or []:
        if "value" in var:
            out[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        try:
            data = core.read_namespaced_secret(ref["name"], ns).data or {}
        except ApiException as exc:
            if exc.status == 404 and ref.get("optional"):
                continue
            raise
        if ref["key"] in data:
            out[var["name"]] = base64.b64decode(data[ref["key"]]).decode()
        elif not ref.get("optional"):
            raise AssertionError(f"Secret {ref['name']} lacks key {ref['key']} for {var['name']}")
    return out


def run_container(
    kube: client.ApiClient,
    ns: str,
    container: Mapping[str, Any],
    extra_args: list[str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run the container's command here, with only its resolved env (plus PATH to this venv)."""
    env = {
        **resolved_env(kube, ns, container),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    command = [*container["command"], *(container.get("args") or []), *(extra_args or [])]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def summary(stdout: str) -> dict[str, Any]:
    """The final ``{"event": "summary", ...}`` line a workload prints."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{") and '"summary"' in line:
            found: dict[str, Any] = json.loads(line)
            return found
    raise AssertionError(f"no summary line in output:\n{stdout[-2000:]}")


def fail_job(kube: client.ApiClient, ns: str, name: str) -> None:
    """Report the Job's running pods as failed (exit 1), as a kubelet would for a crashed container."""
    core = client.CoreV1Api(kube)

    def running() -> list[Any]:
        pods = core.list_namespaced_pod(ns, label_selector=f"batch.kubernetes.io/job-name={name}").items
        return [p for p in pods if p.status.phase == "Running"]

    for pod in eventually(running, f"a running pod of Job {name}"):
        statuses = [
            {
                "name": c.name,
                "image": c.image,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": _now(),
                        "finishedAt": _now(),
                    }
                },
            }
            for c in pod.spec.containers
        ]
        core.patch_namespaced_pod_status(
            pod.metadata.name, ns, {"status": {"phase": "Failed", "containerStatuses": statuses}}
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
