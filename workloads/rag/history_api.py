"""``GET /v1/cves/{id}/diff?from=&to=``: what changed between two versions of a CVE.

``from`` and ``to`` name a version (``3``, ``v3``) or a time (an ISO-8601 date, meaning its
end, or a date-time: the version valid then).  ``to`` defaults to the current version and
``from`` to the one before ``to``, so a bare call answers "what changed in the last update".
A ref that names no version is a 422 problem saying which versions there are; an unknown
CVE is 404.  The diff is the store's own (:mod:`workloads.store.changes`): topics changed
and field-level ``{op, path, old, new}`` entries.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from workloads.common.records import is_cve_id
from workloads.rag import problems
from workloads.rag.guards import Guard
from workloads.rag.problems import FieldError, ProblemError
from workloads.rag.views import diff_view
from workloads.store import history_query as hq

_REF = "a version (3 or v3), or an ISO-8601 date (its end, UTC) or date-time: the version valid then"
_DECLARED = (
    problems.MISSING_API_KEY,
    problems.INVALID_API_KEY,
    problems.RATE_LIMITED,
    problems.INTERNAL_ERROR,
    problems.STORE_UNAVAILABLE,
    problems.STORE_TIMEOUT,
    problems.NOT_A_CVE_ID,
    problems.CVE_NOT_FOUND,
    problems.INVALID_REQUEST,
)


def history_router(guard: Guard) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/cves/{cve_id}/diff",
        dependencies=[Depends(guard)],
        responses=problems.declared(*_DECLARED),
    )
    async def diff(
        request: Request,
        cve_id: str = Path(
            description="a CVE id, CVE-YYYY-NNNN (any case)",
            json_schema_extra={"pattern": "^[Cc][Vv][Ee]-[0-9]{4}-[0-9]{4,}$"},
        ),
        from_: str | None = Query(default=None, alias="from", max_length=40, description=_REF),
        to: str | None = Query(default=None, max_length=40, description=_REF),
    ) -> dict[str, Any]:
        """The topics and fields that differ between two versions of a CVE."""
        if not (cve_id.isascii() and is_cve_id(cve_id.upper())):
            raise ProblemError(
                problems.NOT_A_CVE_ID, f"not a CVE id: {cve_id[:40]!r} (expected CVE-YYYY-NNNN)"
            )
        cve = cve_id.upper()
        try:
            found = await request.app.state.service.diff(cve, from_, to)
        except (hq.NoSuchVersion, ValueError) as exc:
            raise _bad_ref(str(exc), from_, to) from exc
        if found is None:
            raise ProblemError(problems.CVE_NOT_FOUND, f"{cve} is not in the store")
        return diff_view(found)

    return router


def _bad_ref(message: str, from_: str | None, to: str | None) -> ProblemError:
    """Which parameter is at fault: the one whose value the message quotes, else both given."""
    named = [n for n, v in (("from", from_), ("to", to)) if v and (repr(v) in message or v in message)]
    fields = named or [n for n, v in (("from", from_), ("to", to)) if v] or ["from"]
    return problems.invalid([FieldError(field=f, message=message) for f in fields])
