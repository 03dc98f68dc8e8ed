"""``examples/quickstart/`` as a user applies it, and the releases its feed finds.

:func:`documents` is the quickstart with the edits its comments and the README ask for, and
nothing else: the addresses and credentials of your own Kafka, PostgreSQL and LLM, your API
key, and what a cluster without GPUs (or a small one) changes — ``llm.engine: external``
instead of vLLM, one API replica instead of three.  Everything else (topic, partitions,
schema, consumer replicas, batch size, index, deletion policies) is the file's own.

The feed is the official CVE List's shape: a GitHub releases API with a daily baseline and an
hourly delta (``tests.fakes.github_releases``), served where the pods reach the host.  The
baseline holds :data:`BASELINE` real records plus the first version of :data:`CHANGED` CVEs from
the real history; the delta holds their newest version and :data:`ADDED` new records, so the
store ends with versions as well as records.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devstack.image import REPO
from tests.fakes.cvelist_layout import Record

QUICKSTART = REPO / "examples" / "quickstart"
DAY = "2024-01-16"
BASELINE, CHANGED, ADDED = 280, 20, 20


@dataclass(frozen=True)
class Addresses:
    """What the user fills in: where their servers are, as pods reach them."""

    kafka: str  # host:port
    postgres_dsn: str
    releases_url: str
    llm_url: str
    api_key: str


PLACEHOLDERS = Addresses("kafka:9092", "postgresql://pg/db", "http://releases", "http://llm", "key")


def documents(to: Addresses) -> list[dict[str, Any]]:
    """Every document of ``examples/quickstart/*.yaml``, in file order, with the user's edits."""
    docs = []
    for path in sorted(QUICKSTART.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append(_edited(doc, to))
    return docs


def _edited(original: dict[str, Any], to: Addresses) -> dict[str, Any]:
    doc = copy.deepcopy(original)
    kind, name, spec = doc["kind"], doc["metadata"]["name"], doc.get("spec", {})
    if kind == "Secret" and name == "cverag-postgres":
        doc["stringData"]["dsn"] = to.postgres_dsn
    elif kind == "Secret" and name == "cverag-api-keys":
        doc["stringData"]["keys"] = to.api_key
    elif kind == "CveFeed":
        spec["kafka"]["bootstrapServers"] = to.kafka
        spec["source"]["cvelistV5"]["releasesUrl"] = to.releases_url
    elif kind == "RagEndpoint":
        # No GPU node: an existing OpenAI-compatible server instead of vLLM (examples/variants).
        spec["llm"] = {"engine": "external", "model": spec["llm"]["model"], "url": to.llm_url}
        # A 2-CPU node cannot also hold three API pods beside three consumers and the index sync.
        spec["api"]["minReplicas"] = 1
    return doc


def kinds(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The four custom resources by kind (the quickstart has one of each)."""
    return {d["kind"]: d for d in docs if d["apiVersion"].startswith("cverag.io/")}


@dataclass
class Releases:
    """The records of the baseline and of the delta, in the order the feed publishes them."""

    baseline: list[Record] = field(default_factory=list)
    delta: list[Record] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        return {cve for cve, _ in self.baseline + self.delta}

    def docs(self) -> Iterator[list[dict[str, Any]]]:
        """Each release's records as documents (what an uninterrupted load applies, in order)."""
        for release in (self.baseline, self.delta):
            yield [json.loads(data) for _, data in release]


def releases(shared_data: Path) -> Releases:
    history: dict[str, list[bytes]] = {}
    with gzip.open(shared_data / "cve-history.jsonl.gz") as stream:
        for line in stream:
            row = json.loads(line)
            history.setdefault(row["cve_id"], []).append(json.dumps(row["record"]).encode())
    changed = [cve for cve, versions in history.items() if versions[0] != versions[-1]][:CHANGED]
    out = Releases()
    with gzip.open(shared_data / "cve-records.jsonl.gz") as stream:
        for line in stream:
            cve = json.loads(line)["cveMetadata"]["cveId"]
            if cve in history:
                continue
            target = out.baseline if len(out.baseline) < BASELINE else out.delta
            target.append((cve, line.rstrip(b"\n")))
            if len(out.delta) == ADDED:
                break
    out.baseline += [(cve, history[cve][0]) for cve in changed]
    out.delta += [(cve, history[cve][-1]) for cve in changed]
    return out
