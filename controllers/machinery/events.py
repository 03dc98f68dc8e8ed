"""Kubernetes Events for what people should notice: condition transitions, refusals, Jobs.

``kubectl describe`` shows Events next to the conditions, so a transition such as
``Ready: True -> False (KafkaUnreachable)`` is visible without reading operator logs.
Events are best effort: failing to post one never fails a reconcile.
"""

from __future__ import annotations

import logging
from typing import Any

from controllers.api import times
from controllers.machinery.conditions import Transition
from controllers.machinery.rest import ApiError, Rest

log = logging.getLogger(__name__)
REPORTING_CONTROLLER = "cverag.io/operator"


def post(api: Rest, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
    """Post one core/v1 Event about ``obj`` (Normal or Warning)."""
    meta = obj["metadata"]
    now = times.now()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": REPORTING_CONTROLLER,
        "source": {"component": REPORTING_CONTROLLER},
    }
    try:
        api.request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", event)
    except ApiError as exc:
        log.warning("could not post event %s on %s: %s", reason, meta["name"], exc.reason)


def post_transitions(api: Rest, obj: dict[str, Any], transitions: list[Transition]) -> None:
    """One Event per condition that changed status; False conditions are Warnings."""
    for tr in transitions:
        new = tr.new
        bad = new["status"] == "False" and tr.type not in ("Reconciling", "Stalled")
        bad = bad or (tr.type == "Stalled" and new["status"] == "True")
        message = f"{tr.type}: {tr.old_status or 'unset'} -> {new['status']}: {new['message']}".rstrip(": ")
        post(api, obj, "Warning" if bad else "Normal", new["reason"], message)
