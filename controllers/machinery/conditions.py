"""Status conditions in the metav1.Condition shape, written without clobbering each other.

kopf has no condition helper, and its status patches replace ``status.conditions`` as a
whole list, so two handlers (or two controllers) writing different condition types would
erase each other's.  Here a condition is merged into the list read from the server and
written back with the object's ``resourceVersion`` as a precondition; a conflict means
somebody else wrote in between, and the merge is simply redone on the fresh object.

``lastTransitionTime`` changes only when a condition's status flips, as the API
conventions require, so kstatus and Argo CD can tell "since when" from "last written".
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from controllers.api import GROUP, VERSION, times
from controllers.api.common import BaseStatus, ConditionStatus, Kind
from controllers.machinery.rest import ApiError, Rest

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


@dataclass(frozen=True)
class Cond:
    """One condition a controller wants to be true of an object now."""

    type: str
    status: ConditionStatus | bool
    reason: str
    message: str = ""

    @property
    def status_text(self) -> str:
        if isinstance(self.status, bool):
            return "True" if self.status else "False"
        return self.status.value


@dataclass(frozen=True)
class Transition:
    """A condition whose status changed (or appeared): worth an Event."""

    type: str
    old_status: str | None
    new: dict[str, Any]


def merge(
    current: Sequence[dict[str, Any]], updates: Iterable[Cond], generation: int, now: str | None = None
) -> tuple[list[dict[str, Any]], list[Transition]]:
    """Conditions after applying ``updates``; other types are kept as they are."""
    stamp = now or times.now()
    by_type = {c["type"]: dict(c) for c in current}
    transitions = []
    for cond in updates:
        old = by_type.get(cond.type)
        flipped = old is None or old.get("status") != cond.status_text
        by_type[cond.type] = {
            "type": cond.type,
            "status": cond.status_text,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": stamp if flipped else old["lastTransitionTime"],  # type: ignore[index]
            "observedGeneration": generation,
        }
        if flipped:
            transitions.append(Transition(cond.type, old.get("status") if old else None, by_type[cond.type]))
    return list(by_type.values()), transitions


def status_fields(status: BaseStatus | None) -> dict[str, Any]:
    """The kind-specific fields a handler measured, camelCase as the CRD spells them.

    Status is written with a JSON merge patch: a field the handler did not set is left out
    (the stored value stays), one it set to ``None`` is sent as null (the field is removed).
    Conditions and observedGeneration are not the handler's to set; :func:`apply` writes them.
    """
    if status is None:
        return {}
    return status.model_dump(
        mode="json", by_alias=True, exclude_unset=True, exclude={"conditions", "observed_generation"}
    )


def apply(
    api: Rest,
    kind: type[Kind],
    namespace: str,
    name: str,
    updates: Sequence[Cond],
    extra_status: BaseStatus | None = None,
    attempts: int = 10,
) -> tuple[dict[str, Any], list[Transition]]:
    """Merge ``updates`` into the live object's conditions and write them back.

    ``extra_status`` (the kind's status model, with the fields the handler measured set) goes
    in the same patch, serialised by :func:`status_fields`.  ``observedGeneration``
    of the conditions and of the status follow the generation of the object as read.
    """
    fields = status_fields(extra_status)
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{kind.plural}/{name}"
    for attempt in range(attempts):
        obj: dict[str, Any] = api.request("GET", path)
        generation = int(obj["metadata"].get("generation", 0))
        status = obj.get("status") or {}
        conditions, transitions = merge(status.get("conditions", []), updates, generation)
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "status": {**fields, "conditions": conditions, "observedGeneration": generation},
        }
        try:
            written: dict[str, Any] = api.request(
                "PATCH", f"{path}/status", patch, content_type="application/merge-patch+json"
            )
        except ApiError as exc:
            if exc.status == 409 and attempt + 1 < attempts:
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # let the other writer finish
                continue
            raise
        return written, transitions
    raise RuntimeError("unreachable")  # pragma: no cover
