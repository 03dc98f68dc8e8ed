"""Finishing a Job on demand, in place of the kubelet that would report its pods' exit.

kwok runs every pod forever (its ``pod-complete`` stage is not loaded, see ``kwok_nodes``),
so a test decides when a Job's work is done.  It does so the way a kubelet would: the Job's
running pods are reported ``Succeeded`` with exit code 0, and the real Job controller then
counts them, removes its tracking finalizers and sets ``SuccessCriteriaMet`` and ``Complete``
itself.  That keeps the Job status exactly what Kubernetes v1.36 produces, instead of a
hand-written status the API server's validation (or the controller) might disagree with.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from kubernetes import client

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def complete_job(api: client.ApiClient, namespace: str, name: str, timeout: float = 120.0) -> Any:
    """Mark the Job's pods succeeded until the Job is Complete; returns the finished Job.

    Pods are marked as they start running, so a Job with ``completions`` > ``parallelism``
    is driven through every wave.  Raises ``TimeoutError`` if the Job is not Complete in time.
    """
    batch = client.BatchV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = batch.read_namespaced_job_status(name, namespace)
        if _condition(job, "Complete"):
            return job
        if _condition(job, "Failed"):
            raise RuntimeError(f"job {namespace}/{name} failed before it could be completed")
        succeed_running(api, namespace, name)
        time.sleep(0.5)
    raise TimeoutError(f"job {namespace}/{name} not Complete after {timeout:.0f}s")


def succeed_running(api: client.ApiClient, namespace: str, name: str) -> int:
    """Mark the Job's running pods succeeded, without waiting; returns how many were marked."""
    core = client.CoreV1Api(api)
    pods = core.list_namespaced_pod(namespace, label_selector=f"{JOB_NAME_LABEL}={name}").items
    running = [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]
    for pod in running:
        core.patch_namespaced_pod_status(pod.metadata.name, namespace, _succeeded(pod))
    return len(running)


def _succeeded(pod: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = {
        s.name: s.state.running.started_at for s in pod.status.container_statuses or [] if s.state.running
    }
    statuses = [
        {
            "name": c.name,
            "image": c.image,
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": 0,
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "finishedAt": now,
                    "startedAt": _rfc3339(started.get(c.name)) or now,
                }
            },
        }
        for c in pod.spec.containers
    ]
    return {
        "status": {
            "phase": "Succeeded",
            "containerStatuses": statuses,
            "conditions": [
                {"type": t, "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}
                for t in ("Ready", "ContainersReady")
            ],
        }
    }


def _rfc3339(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _condition(job: Any, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in (job.status.conditions or []))
