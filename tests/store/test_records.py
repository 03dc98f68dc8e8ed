"""All 62,928 records of cve-records.jsonl.gz: real feed -> Kafka -> store.

Expected values are computed in this module straight from the JSON, by rules written out
here (see workloads/store/normalise.py for the same rules in prose), not by calling the
normaliser.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from devstack.scratch import create_topic, drop_schema, unique
from tests.store.conftest import settings
from tests.store.helpers import REPO, record_lines
from workloads.store import StoreTarget
from workloads.store.consumer import StoreConsumer
from workloads.store.db import connect
from workloads.store.migrate import migrate

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]
CVSS = {"cvssV4_0": "v40", "cvssV3_1": "v31", "cvssV3_0": "v30", "cvssV2_0": "v20"}


@pytest.fixture(scope="module")
def loaded(kafka: Any, postgres: Any, shared_data: Path) -> Any:
    topic = create_topic(kafka.bootstrap)
    feed = subprocess.run(
        [sys.executable, "-m", "workloads.feed", "--source", "file", "--kafka-bootstrap", kafka.bootstrap,
         "--source-url", str(shared_data / "cve-records.jsonl.gz"), "--topic", topic],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert feed.returncode == 0, feed.stderr[-3000:]
    target = StoreTarget(postgres.dsn, unique("records"))
    migrate(target)
    summary = StoreConsumer(settings(kafka, topic), target).run()
    docs = {json.loads(line)["cveMetadata"]["cveId"]: json.loads(line) for line in record_lines(shared_data)}
    yield target, summary, docs
    drop_schema(postgres.dsn, target.schema)


def test_every_record_is_stored_once_with_counts_by_state(loaded: Any) -> None:
    target, summary, docs = loaded
    expected = Counter(doc["cveMetadata"]["state"] for doc in docs.values())
    assert summary["consumed"] == len(docs) == 62_928
    assert summary["versions"] == len(docs) and summary["dead_lettered"] == 0
    with connect(target) as conn:
        by_state = dict(conn.execute("SELECT state, count(*) FROM cves GROUP BY state").fetchall())
        versions = conn.execute("SELECT count(*), max(version) FROM cve_versions").fetchone()
    assert by_state == dict(expected) == {"PUBLISHED": 62_783, "REJECTED": 145}
    assert versions == (len(docs), 1)


def first_cvss(doc: dict[str, Any]) -> dict[str, tuple[float | None, str | None, str | None]]:
    """Per CVSS version, the CNA's metric, else the first ADP's."""
    containers = [doc["containers"].get("cna", {}), *doc["containers"].get("adp", [])]
    found: dict[str, tuple[float | None, str | None, str | None]] = {}
    for metric in (m for c in containers for m in c.get("metrics", [])):
        for key, name in CVSS.items():
            if key in metric and name not in found:
                body = metric[key]
                score = body.get("baseScore")
                severity = body.get("baseSeverity")
                if severity is None and score is not None:  # CVSS v2.0 ranges
                    severity = "LOW" if score < 4 else "MEDIUM" if score < 7 else "HIGH"
                found[name] = (score, severity, body.get("vectorString"))
    return found


def expected_fields(doc: dict[str, Any]) -> dict[str, Any]:
    containers = [doc["containers"].get("cna", {}), *doc["containers"].get("adp", [])]
    cwes = {
        d["cweId"] for c in containers for p in c.get("problemTypes", []) for d in p.get("descriptions", [])
        if "cweId" in d
    }  # fmt: skip
    vendors = {
        a["vendor"].strip().lower() for c in containers for a in c.get("affected", [])
        if a.get("vendor") and a["vendor"].strip().lower() not in ("n/a", "unknown")
    }  # fmt: skip
    kev = [
        m["other"]["content"]["dateAdded"] for c in doc["containers"].get("adp", []) for m in c.get("metrics", [])
        if m.get("other", {}).get("type") == "kev"
    ]  # fmt: skip
    return {"cvss": first_cvss(doc), "cwes": cwes, "vendors": vendors, "kev": kev[0] if kev else None}


def sample_ids(docs: dict[str, Any]) -> list[str]:
    """400 random records plus some of each interesting kind (v4.0, v2.0, KEV, REJECTED)."""
    rng = random.Random(20240709)
    ids = sorted(docs)
    picked = set(rng.sample(ids, 400))
    for check in (
        lambda d: "v40" in first_cvss(d),
        lambda d: "v20" in first_cvss(d),
        lambda d: expected_fields(d)["kev"] is not None,
        lambda d: d["cveMetadata"]["state"] == "REJECTED",
    ):
        picked.update(rng.sample([i for i in ids if check(docs[i])], 40))
    return sorted(picked)


def test_normalised_fields_match_the_json(loaded: Any) -> None:
    target, _, docs = loaded
    ids = sample_ids(docs)
    columns = ", ".join(f"cvss_{v}_score, cvss_{v}_severity, cvss_{v}_vector" for v in CVSS.values())
    with connect(target) as conn:
        rows = conn.execute(
            f"SELECT cve_id, {columns}, cwe_ids, vendors, kev_date_added, state FROM cves WHERE cve_id = ANY(%s)",
            [ids],
        ).fetchall()
    assert len(rows) == len(ids)
    for row in rows:
        doc = docs[row[0]]
        want = expected_fields(doc)
        for index, name in enumerate(CVSS.values()):
            score, severity, vector = row[1 + 3 * index : 4 + 3 * index]
            expected = want["cvss"].get(name, (None, None, None))
            assert (float(score) if isinstance(score, Decimal) else score, severity, vector) == expected, row[
                0
            ]
        cwe_ids, vendors, kev, state = row[13:]
        assert want["cwes"] <= set(cwe_ids), row[0]
        assert all(cwe in json.dumps(doc) for cwe in cwe_ids), row[0]
        assert set(vendors) == want["vendors"], row[0]
        assert kev == (date.fromisoformat(want["kev"]) if want["kev"] else None), row[0]
        assert state == doc["cveMetadata"]["state"]


def test_kev_and_cvss_totals_match_the_json(loaded: Any) -> None:
    target, _, docs = loaded
    expected_kev = sum(1 for d in docs.values() if expected_fields(d)["kev"])
    expected_v40 = sum(1 for d in docs.values() if "v40" in first_cvss(d))
    with connect(target) as conn:
        row = conn.execute(
            "SELECT count(kev_date_added),"
            " count(*) FILTER (WHERE cvss_v40_score IS NOT NULL OR cvss_v40_vector IS NOT NULL) FROM cves"
        ).fetchone()
    assert row is not None
    assert row[0] == expected_kev > 0
    assert row[1] == expected_v40 > 0
