"""Kubernetes Events for what people should notice: condition transitions, refusals, Jobs.

``kubectl describe`` shows Events next to the conditions, so a transition such as
``Ready: True -> False (KafkaUnreachable)`` is visible without reading operator logs.
Events are best effort: failing to post one never fails a reconcile.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controllers.machinery.conditions import Transition

log = logging.getLogger(__name__)
REPORTING_CONTROLLER = "cverag.io/operator"


def post(api: client.CoreV1Api, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
    """Post one core/v1 Event about ``obj`` (Normal or Warning)."""
    meta = obj["metadata"]
    now = datetime.now(UTC)
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}.", namespace=meta["namespace"]),
        involved_object=client.V1ObjectReference(
            api_version=obj["apiVersion"],
            kind=obj["kind"],
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
            resource_version=meta.get("resourceVersion"),
        ),
        type=type_,
        reason=reason,
        message=message[:1024],
        first_timestamp=now,
        last_timestamp=now,
        count=1,
        reporting_component=REPORTING_CONTROLLER,
        source=client.V1EventSource(component=REPORTING_CONTROLLER),
    )
    try:
        api.create_namespaced_event(meta["namespace"], event)
    except ApiException as exc:
        log.warning("could not post event %s on %s: %s", reason, meta["name"], exc.reason)


def post_transitions(api: client.CoreV1Api, obj: dict[str, Any], transitions: list[Transition]) -> None:
    """One Event per condition that changed status; False conditions are Warnings."""
    for tr in transitions:
        new = tr.new
        bad = new["status"] == "False" and tr.type not in ("Reconciling", "Stalled")
        bad = bad or (tr.type == "Stalled" and new["status"] == "True")
        message = f"{tr.type}: {tr.old_status or 'unset'} -> {new['status']}: {new['message']}".rstrip(": ")
        post(api, obj, "Warning" if bad else "Normal", new["reason"], message)
