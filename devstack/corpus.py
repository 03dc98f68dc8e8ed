"""Test corpora for the index and the RAG API: real records from ../shared/data, written
through the store's own decode/normalise/version/write path (no Kafka: the RAG tests are
not about transport, and the store's consumer tests cover it).

``sample`` takes every n-th record of the shared file, so a corpus is the same on every
run and spreads over years, vendors and record shapes.
"""

from __future__ import annotations

import copy
import gzip
import json
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workloads.common.records import content_hash
from workloads.store.db import StoreTarget
from workloads.store.messages import RawMessage, decode
from workloads.store.writer import BatchWriter


def sample(shared_data: Path, every: int, extra_ids: Iterable[str] = ()) -> list[dict[str, Any]]:
    wanted = set(extra_ids)
    docs = []
    with gzip.open(shared_data / "cve-records.jsonl.gz") as stream:
        for n, line in enumerate(stream):
            if n % every == 0 or (wanted and any(i.encode() in line[:200] for i in wanted)):
                docs.append(json.loads(line))
    return docs


def write(target: StoreTarget, docs: Iterable[dict[str, Any]]) -> int:
    """Apply ``docs`` to the store as one consumed batch on a fresh (fake) topic position."""
    topic = f"test-{uuid.uuid4().hex[:8]}"
    messages = []
    for offset, doc in enumerate(docs):
        cve = doc["cveMetadata"]["cveId"]
        headers = {"cverag-source": "file", "cverag-sha256": content_hash(doc), "cverag-kind": "cve5"}
        raw = RawMessage(topic, 0, offset, cve.encode(), json.dumps(doc).encode(), headers, None)
        messages.append(decode(raw))
    writer = BatchWriter(target, "rag-tests")
    try:
        outcome = writer.apply(messages, lambda rejected: None)
    finally:
        writer.close()
    return outcome.versions


def edited(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``doc`` with CNA fields replaced (``description=...`` sets the English text,
    ``state=...`` the record state) and ``dateUpdated`` moved on."""
    new = copy.deepcopy(doc)
    cna = new["containers"]["cna"]
    if "description" in changes:
        cna["descriptions"] = [{"lang": "en", "value": changes["description"]}]
    if "references" in changes:
        cna["references"] = changes["references"]
    if changes.get("state") == "REJECTED":
        new["cveMetadata"]["state"] = "REJECTED"
        new["containers"] = {
            "cna": {
                "providerMetadata": cna["providerMetadata"],
                "rejectedReasons": [{"lang": "en", "value": "Rejected by the CNA."}],
            }
        }
    new["cveMetadata"]["dateUpdated"] = "2099-01-01T00:00:00.000Z"
    return new
