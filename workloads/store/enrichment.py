"""Loaders for enrichment joined into queries: the CISA KEV catalog and EPSS scores.

Each load replaces the table's contents in one transaction (readers keep seeing the
previous load until it commits) and records what was loaded in ``enrichment_loads``:
the KEV ``catalogVersion`` or the EPSS score date travels with every answer that uses it.
Sources are a file path or an http(s) URL; gzip is detected by its magic bytes.  EPSS's
~360k rows are streamed to ``COPY ... (FORMAT csv)`` without a Python round trip per row.
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import Any

import httpx
import orjson

from workloads.store import fields
from workloads.store.db import StoreTarget, connect

KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


class EnrichmentError(ValueError):
    """The source is not what the loader expects (the message says where it differs)."""


def read_source(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        response = httpx.get(source, follow_redirects=True, timeout=120.0)
        response.raise_for_status()
        data = response.content
    else:
        data = Path(source).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _record_load(cur: Any, source: str, version: str | None, origin: str, rows: int) -> None:
    cur.execute(
        "INSERT INTO enrichment_loads (source, version, origin, rows) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (source) DO UPDATE SET version = EXCLUDED.version, origin = EXCLUDED.origin,"
        " rows = EXCLUDED.rows, loaded_at = now()",
        [source, version, origin, rows],
    )


def _kev_row(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (
        entry["cveID"],
        fields.text(entry.get("vendorProject")),
        fields.text(entry.get("product")),
        fields.text(entry.get("vulnerabilityName")),
        fields.day(entry.get("dateAdded")),
        fields.text(entry.get("shortDescription")),
        fields.text(entry.get("requiredAction")),
        fields.day(entry.get("dueDate")),
        fields.text(entry.get("knownRansomwareCampaignUse")),
        fields.text(entry.get("notes")),
        fields.strings(entry.get("cwes")),
    )


def load_kev(target: StoreTarget, source: str = KEV_URL) -> dict[str, Any]:
    catalog = orjson.loads(read_source(source))
    entries = list(fields.dicts(catalog.get("vulnerabilities") if isinstance(catalog, dict) else None))
    if not entries or not all(isinstance(e.get("cveID"), str) for e in entries):
        raise EnrichmentError(f"{source} is not a KEV catalog (no vulnerabilities with cveID)")
    rows = {e["cveID"]: _kev_row(e) for e in entries}  # the last entry wins if an id repeats
    with connect(target) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM kev_catalog")
        with cur.copy(
            "COPY kev_catalog (cve_id, vendor_project, product, vulnerability_name, date_added,"
            " short_description, required_action, due_date, known_ransomware, notes, cwes) FROM STDIN"
        ) as copy:
            for row in rows.values():
                copy.write_row(row)
        _record_load(cur, "kev", catalog.get("catalogVersion"), source, len(rows))
    return {"source": "kev", "version": catalog.get("catalogVersion"), "rows": len(rows)}


def _epss_header(stream: io.BytesIO, source: str) -> tuple[str | None, str]:
    """Skip the ``#model_version:...,score_date:...`` comment and the header; returns the
    score date (comment, else file name) and the delimiter the header uses."""
    score_date = None
    for line in iter(stream.readline, b""):
        text = line.decode("utf-8").strip()
        if text.startswith("#"):
            found = re.search(r"score_date:(\d{4}-\d{2}-\d{2})", text)
            score_date = found[1] if found else score_date
            continue
        delimiter = ";" if ";" in text else ","
        if [c.strip() for c in text.split(delimiter)][:3] != ["cve", "epss", "percentile"]:
            raise EnrichmentError(f"{source}: expected header cve,epss,percentile, got {text[:80]!r}")
        name_date = _DATE.search(Path(source).name)
        return score_date or (name_date[1] if name_date else None), delimiter
    raise EnrichmentError(f"{source} is empty")


def load_epss(target: StoreTarget, source: str = EPSS_URL) -> dict[str, Any]:
    stream = io.BytesIO(read_source(source))
    score_date, delimiter = _epss_header(stream, source)
    with connect(target) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM epss_scores")
        with cur.copy(
            "COPY epss_scores (cve_id, epss, percentile) FROM STDIN WITH (FORMAT csv, DELIMITER %s)",
            [delimiter],
        ) as copy:
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        rows = cur.rowcount
        _record_load(cur, "epss", score_date, source, rows)
    return {"source": "epss", "version": score_date, "rows": rows}
