"""A fake of the NVD CVE API 2.0 (``/rest/json/cves/2.0``) over items made from real records.

The shared data set holds CVE JSON 5 records, not NVD items, so :func:`nvd_item` wraps each
record into the NVD 2.0 item shape (``{"cve": {id, sourceIdentifier, published, lastModified,
vulnStatus, descriptions, metrics, weaknesses, references}}``) from the record's own fields.
The server pages with ``startIndex``/``resultsPerPage`` (at most 2000), filters by
``lastModStartDate``/``lastModEndDate`` (both or neither; 404 for windows over 120 days, like
NVD), checks the ``apiKey`` header when configured, and — like NVD — answers 403 to a client
that sends more than ``limit`` requests in a rolling ``window``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakeServer, Request, Response

API_PATH = "/rest/json/cves/2.0"
MAX_WINDOW = timedelta(days=120)


def nvd_item(record: dict[str, Any], last_modified: str | None = None) -> dict[str, Any]:
    """An NVD 2.0 item built from a CVE JSON 5 record (a fixture shape, see module docstring)."""
    meta = record["cveMetadata"]
    cna = record.get("containers", {}).get("cna", {})
    metrics: dict[str, list[dict[str, Any]]] = {}
    for metric in cna.get("metrics", []):
        if "cvssV3_1" in metric:
            data = metric["cvssV3_1"]
            metrics.setdefault("cvssMetricV31", []).append(
                {"source": meta.get("assignerShortName", ""), "type": "Secondary", "cvssData": data}
            )
    cwes = [
        d.get("cweId")
        for p in cna.get("problemTypes", [])
        for d in p.get("descriptions", [])
        if d.get("cweId")
    ]
    return {
        "cve": {
            "id": meta["cveId"],
            "sourceIdentifier": meta.get("assignerShortName", "cve@mitre.org"),
            "published": _nvd_time(
                meta.get("datePublished") or meta.get("dateReserved") or "2000-01-01T00:00:00"
            ),
            "lastModified": last_modified or _nvd_time(meta.get("dateUpdated") or "2000-01-01T00:00:00"),
            "vulnStatus": "Rejected" if meta.get("state") == "REJECTED" else "Analyzed",
            "descriptions": [
                {"lang": d.get("lang", "en"), "value": d.get("value", "")}
                for d in cna.get("descriptions", [])
            ],
            "metrics": metrics,
            "weaknesses": [
                {"source": "nvd@nist.gov", "type": "Primary", "description": [{"lang": "en", "value": c}]}
                for c in cwes
            ],
            "references": [
                {"url": r["url"], "source": "cve@mitre.org"} for r in cna.get("references", []) if "url" in r
            ],
        }
    }


def _nvd_time(value: str) -> str:
    return parse_time(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class FakeNvd(FakeServer):
    def __init__(
        self, items: list[dict[str, Any]], api_key: str | None = None, limit: int = 50, window: float = 30.0
    ) -> None:
        super().__init__()
        self.items = items
        self.api_key = api_key
        self.limit = limit
        self.window = window
        self.throttled = 0
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.base_url + API_PATH

    def route(self, request: Request) -> Response:
        if request.path != API_PATH:
            return _json(404, {"message": "not found"})
        if self._over_limit():
            return _json(403, {"message": "Request forbidden by administrative rules."})
        if self.api_key is not None and request.headers.get("apikey") != self.api_key:
            return _json(404, {"message": "Invalid apiKey"})
        selected, error = self._select(request.query)
        if error:
            return _json(404, {"message": error})
        start = int(request.query.get("startIndex", "0"))
        size = int(request.query.get("resultsPerPage", "2000"))
        if size > 2000:
            return _json(400, {"message": "resultsPerPage must be at most 2000"})
        page = selected[start : start + size]
        body = {
            "resultsPerPage": len(page),
            "startIndex": start,
            "totalResults": len(selected),
            "format": "NVD_CVE",
            "version": "2.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
            "vulnerabilities": page,
        }
        return _json(200, body)

    def _select(self, query: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        first, last = query.get("lastModStartDate"), query.get("lastModEndDate")
        if first is None and last is None:
            return self.items, None
        if first is None or last is None:
            return [], "lastModStartDate and lastModEndDate go together"
        start, end = parse_time(first), parse_time(last)
        if end - start > MAX_WINDOW or end < start:
            return [], "the date range must be at most 120 days"
        return [i for i in self.items if start <= parse_time(i["cve"]["lastModified"]) <= end], None

    def _over_limit(self) -> bool:
        with self._lock:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= self.window:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                self.throttled += 1
                return True
            self._sent.append(now)
            return False


def _json(status: int, body: Any) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(body).encode())
