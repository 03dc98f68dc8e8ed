"""A CveFeed's ``spec.source.nvd.windowDays`` and ``pageSize`` reach the requests NVD sees.

The sync Job the operator generates for an NVD feed is run here, its command with exactly its
env (the API key Secret resolved), against the fake NVD API and the real Kafka broker; the
fake records every request, so the windows and page sizes the feed asked for are visible.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controllers.api.feed import CveFeed
from controllers.manifests.feed import sync_job
from tests.fakes.cvelist_layout import shared_records
from tests.fakes.nvd import FakeNvd, nvd_item, parse_time
from tests.feed.kafka_io import create_topics, read_topic

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "nvd-test-key"


def nvd_feed(url: str, bootstrap: str, topic: str, since: datetime, **nvd: Any) -> CveFeed:
    source = {"url": url, "apiKeySecretRef": {"name": "nvd-api-key", "key": "apiKey"}, **nvd}
    body = {
        "apiVersion": "cverag.io/v1alpha1",
        "kind": "CveFeed",
        "metadata": {"name": "nvd", "namespace": "prod", "uid": "u"},
        "spec": {
            "source": {"nvd": source},
            "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kafka": {"bootstrapServers": bootstrap, "topic": {"name": topic}},
        },
    }
    feed: CveFeed = CveFeed.from_body(body)
    return feed


def run_job(feed: CveFeed) -> subprocess.CompletedProcess[str]:
    """The Job's container command, with its env as the kubelet would set it (the key resolved)."""
    container = sync_job(feed, "nvd:window", feed.spec.since)["spec"]["template"]["spec"]["containers"][0]
    env = {v["name"]: v["value"] for v in container["env"] if "value" in v}
    assert [v["name"] for v in container["env"] if "valueFrom" in v] == ["CVERAG_NVD_API_KEY"]
    env |= {
        "CVERAG_NVD_API_KEY": API_KEY,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    return subprocess.run(
        container["command"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.kafka
def test_window_days_and_page_size_reach_the_nvd_requests(kafka: Any, shared_data: Path) -> None:
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(days=90)
    # 120 items modified over the 90 days, never on a window's boundary (boundaries belong to two windows).
    items = [
        nvd_item(
            json.loads(data), (since + timedelta(hours=17 * n, minutes=7)).strftime("%Y-%m-%dT%H:%M:%S.000")
        )
        for n, (_, data) in enumerate(shared_records(shared_data / "cve-records.jsonl.gz", 120))
    ]
    topic, _ = create_topics(kafka.bootstrap)
    with FakeNvd(items, api_key=API_KEY) as fake:
        done = run_job(nvd_feed(fake.url, kafka.bootstrap, topic, since, windowDays=30, pageSize=25))
        queries = [r.query for r in fake.requests]
    assert done.returncode == 0, done.stderr
    assert {q["resultsPerPage"] for q in queries} == {"25"}
    spans = sorted({(parse_time(q["lastModStartDate"]), parse_time(q["lastModEndDate"])) for q in queries})
    assert [end - start for start, end in spans[:3]] == [timedelta(days=30)] * 3
    assert all(end - start <= timedelta(days=30) for start, end in spans)
    assert spans[0][0] == since and all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    # about 40 items per window at 25 a page: two requests each, and every item published once
    assert len(queries) == sum(-(-max(1, _in(items, s)) // 25) for s in spans)
    published = {json.loads(m.value() or b"")["cve"]["id"] for m in read_topic(kafka.bootstrap, topic, 120)}
    assert published == {i["cve"]["id"] for i in items}


def _in(items: list[dict[str, Any]], span: tuple[datetime, datetime]) -> int:
    return sum(1 for i in items if span[0] <= parse_time(i["cve"]["lastModified"]) <= span[1])
