"""Both sources into one store through the real pipeline: the feed (file source) publishes NVD's
items for 653 CVEs, then their CVE 5 records, then the NVD items again, into one Kafka topic; the
store's consumer reads after each run.  Versions change format once (NVD stand-in -> CVE 5
record) and never back, and NVD's own assessments sit beside the CNA's."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.provenance import cve5_records, nvd_items
from devstack.scratch import create_topic, drop_schema, unique
from tests.store.conftest import settings
from tests.store.helpers import REPO
from workloads.store import StoreTarget
from workloads.store.assessments import NVD_CVSS
from workloads.store.consumer import StoreConsumer
from workloads.store.db import connect
from workloads.store.migrate import migrate

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def feed(kafka: Any, topic: str, source: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "workloads.feed", "--source", "file", "--kafka-bootstrap", kafka.bootstrap,
         "--source-url", str(source), "--topic", topic],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]


def test_nvd_then_records_then_nvd_in_one_topic(
    kafka: Any, postgres: Any, shared_data: Path, tmp_path: Path
) -> None:
    items = nvd_items(shared_data)
    records = tmp_path / "records.jsonl.gz"
    with gzip.open(records, "wt") as out:
        for doc in cve5_records(set(items), shared_data):
            out.write(json.dumps(doc) + "\n")
    topic = create_topic(kafka.bootstrap)
    target = StoreTarget(postgres.dsn, unique("mixed"))
    migrate(target)
    group = unique("group")
    try:
        for source in (
            shared_data / "nvd-items-sample.jsonl.gz",
            records,
            shared_data / "nvd-items-sample.jsonl.gz",
        ):
            feed(kafka, topic, source)
            StoreConsumer(settings(kafka, topic, group), target).run()
        with connect(target) as conn:
            formats = conn.execute(
                "SELECT string_agg(kind, '>' ORDER BY version), count(*) FROM cve_versions GROUP BY cve_id"
            ).fetchall()
            current = conn.execute("SELECT kind, count(*) FROM cves GROUP BY kind").fetchall()
            held = conn.execute("SELECT count(*) FROM nvd_items").fetchone()
            nvd_rows = conn.execute("SELECT count(*) FROM assessments WHERE origin = 'nvd'").fetchone()
            sources = conn.execute("SELECT DISTINCT source FROM assessments ORDER BY 1").fetchall()
    finally:
        drop_schema(postgres.dsn, target.schema)
    assert len(formats) == len(items) == 653
    assert {f for f, _ in formats} == {"nvd2>cve5"}, "one change of format per CVE, never back to NVD"
    assert current == [("cve5", 653)] and held == (653,)
    expected = sum(
        len(i["cve"].get("metrics", {}).get(key, [])) for i in items.values() for key in NVD_CVSS
    ) + sum(
        len({d["value"] for d in w.get("description", []) if d.get("value", "").startswith("CWE-")})
        for i in items.values()
        for w in i["cve"].get("weaknesses", [])
    )
    assert nvd_rows == (expected,)
    assert {s for (s,) in sources} >= {"CNA", "CISA-ADP", "NVD"}
