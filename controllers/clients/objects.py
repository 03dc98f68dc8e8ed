"""Reading the state of objects the API returned: a True condition, a Deployment's rollout.

Pure functions of the JSON, so every handler judges a Job, a KafkaTopic or a Deployment
by the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def condition(obj: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    """The ``type_`` condition in an object's status, if present and True."""
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_ and cond.get("status") == "True":
            found: Mapping[str, Any] = cond
            return found
    return None


@dataclass(frozen=True)
class Rollout:
    """Where a Deployment's rollout stands, from its spec and the status its controller wrote."""

    name: str
    wanted: int
    ready: int
    updated: int
    current: bool
    """The Deployment controller has seen the newest spec (observedGeneration caught up)."""
    stuck: bool
    """Progressing=False, i.e. ProgressDeadlineExceeded: not slow, stuck."""

    @classmethod
    def of(cls, deployment: Mapping[str, Any]) -> Rollout:
        meta, st = deployment["metadata"], deployment.get("status") or {}
        return cls(
            name=meta["name"],
            wanted=int((deployment.get("spec") or {}).get("replicas") or 0),
            ready=int(st.get("readyReplicas") or 0),
            updated=int(st.get("updatedReplicas") or 0),
            current=int(st.get("observedGeneration") or 0) >= int(meta.get("generation") or 0),
            stuck=any(
                c.get("type") == "Progressing" and c.get("status") == "False"
                for c in st.get("conditions") or []
            ),
        )

    @property
    def done(self) -> bool:
        """Every wanted replica runs the current template and is ready."""
        return self.current and self.ready >= self.wanted and self.updated >= self.wanted
