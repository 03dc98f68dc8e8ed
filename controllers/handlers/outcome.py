"""What a handler returns: the conditions it observed and the status fields it measured.

The status is the kind's own Status model, so a misspelt field is a type error rather than
a key the API server silently prunes; only the fields a handler sets are written (see
``machinery.conditions.status_fields``).  Handlers never write status themselves; ``controllers.main`` hands an :class:`Outcome` to
``machinery.conditions.apply``, which merges it into the live object.  The summary
conditions (``Ready``, ``Reconciling``, ``Stalled``) are derived here from the specific
ones, in one way for every kind, so kstatus and Argo CD read every cverag kind alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from controllers.api.common import BaseStatus
from controllers.machinery.conditions import READY, RECONCILING, STALLED, Cond

S = TypeVar("S", bound=BaseStatus)


@dataclass
class Outcome(Generic[S]):
    status: S
    conditions: list[Cond] = field(default_factory=list)

    def add(self, *conds: Cond) -> Outcome[S]:
        self.conditions.extend(conds)
        return self


def merged(first: S, *more: S) -> S:
    """``first`` with every field each of ``more`` set, left to right.

    Helpers return the fields they measured as a status of their own with only those set;
    the handler merges them, and what no helper set stays unset (its stored value is kept).
    """
    out = first.model_copy()
    for part in more:
        for name in part.model_fields_set:
            setattr(out, name, getattr(part, name))
    return out


def current(body: Mapping[str, Any]) -> dict[str, Cond]:
    """The conditions the object carries now, as :class:`Cond` (to combine with new ones)."""
    found = {}
    for c in (body.get("status") or {}).get("conditions") or []:
        found[c["type"]] = Cond(
            c["type"], c.get("status") == "True", c.get("reason", ""), c.get("message", "")
        )
    return found


def summarise(
    outcome: Outcome[S],
    body: Mapping[str, Any],
    parts: Sequence[str],
    ready_reason: str,
    progressing: frozenset[str] = frozenset(),
    ready_while: frozenset[str] = frozenset(),
) -> Outcome[S]:
    """Add Ready, Reconciling and Stalled from the ``parts`` conditions.

    A part that is not True is *working* when its reason is in ``progressing`` (Reconciling),
    tolerated when its reason is in ``ready_while`` (a feed is still Ready while a sync Job
    runs or while suspended), and otherwise *failing*: the controller cannot get further
    until something changes (Stalled).  Ready is True when nothing blocks it; its reason is
    then the first working or tolerated reason, or ``ready_reason``.
    """
    known = {**current(body), **{c.type: c for c in outcome.conditions}}
    present = [known[p] for p in parts if p in known]
    working = [c for c in present if c.status is not True and c.reason in progressing]
    tolerated = [c for c in present if c.status is not True and c.reason in ready_while]
    failing = [c for c in present if c.status is not True and c not in working and c not in tolerated]
    blocking = failing + [c for c in working if c.reason not in ready_while]
    if blocking:
        ready = Cond(READY, False, blocking[0].reason, blocking[0].message)
    elif len(present) < len(parts):
        missing = ", ".join(p for p in parts if p not in known)
        ready = Cond(READY, False, "Initialising", f"not yet observed: {missing}")
    else:
        reason = (working + tolerated)[0].reason if working or tolerated else ready_reason
        ready = Cond(READY, True, reason, _messages(present))
    return outcome.add(
        ready,
        Cond(RECONCILING, True, working[0].reason, working[0].message)
        if working
        else Cond(RECONCILING, False, "Converged", "nothing in progress"),
        Cond(STALLED, True, failing[0].reason, failing[0].message)
        if failing
        else Cond(STALLED, False, "Progressing", "no error"),
    )


def _messages(conds: Sequence[Cond]) -> str:
    return "; ".join(c.message for c in conds if c.message)
