"""Pinecone specifics through the real SDK (10.x) against the local Pinecone.

What the SDK sends is asserted from the fake's request log: the create call's schema and
deployment, the API key and version headers, batching, and that vector calls go to the host
the control plane returned for the index rather than to the control plane.
"""

from __future__ import annotations

import pytest
from pinecone.errors.exceptions import PineconeError

from tests.fakes.pinecone_server import FakePinecone
from workloads.index.backends.pinecone_index import PineconeBackend, PineconeConfig


def backend(fake: FakePinecone, namespace: str = "", **options: object) -> PineconeBackend:
    config = PineconeConfig("cve-index", fake.api_key, namespace, control_host=fake.control_url, **options)  # type: ignore[arg-type]
    return PineconeBackend(config)


def test_create_declares_dimension_metric_and_serverless_location(fake_pinecone: FakePinecone) -> None:
    backend(fake_pinecone, cloud="gcp", region="europe-west4").ensure(384, "dotproduct")
    (create,) = fake_pinecone.requests_to("POST", "/indexes")
    assert create.json["name"] == "cve-index"
    assert create.json["schema"] == {
        "fields": {"_values": {"type": "dense_vector", "dimension": 384, "metric": "dotproduct"}}
    }
    assert create.json["deployment"] == {
        "deployment_type": "managed",
        "cloud": "gcp",
        "region": "europe-west4",
    }
    assert create.headers["api-key"] == fake_pinecone.api_key
    assert create.headers["x-pinecone-api-version"] == "2026-07"
    # The create answered "Initializing"; the SDK waited by describing the index until ready.
    assert fake_pinecone.requests_to("GET", "/indexes/cve-index")


def test_namespaces_are_isolated_and_counted_separately(fake_pinecone: FakePinecone) -> None:
    nvd, cna = backend(fake_pinecone, "nvd"), backend(fake_pinecone, "cna")
    nvd.ensure(2, "cosine")
    cna.ensure(2, "cosine")
    nvd.upsert(
        [("CVE-2024-0001", [1.0, 0.0], {"source": "nvd"}), ("CVE-2024-0002", [0.0, 1.0], {"source": "nvd"})]
    )
    cna.upsert([("CVE-2024-0001", [0.0, 1.0], {"source": "cna"})])
    assert (nvd.count(), cna.count()) == (2, 1)
    assert [(m.id, m.metadata) for m in cna.query([1.0, 0.0], top_k=5)] == [
        ("CVE-2024-0001", {"source": "cna"})
    ]
    cna.delete(["CVE-2024-0001"])
    assert (nvd.count(), cna.count()) == (2, 0)
    upserts = fake_pinecone.requests_to("POST", "/vectors/upsert")
    assert [u.json["namespace"] for u in upserts] == ["nvd", "cna"]


def test_vector_calls_go_to_the_index_host_in_batches(fake_pinecone: FakePinecone) -> None:
    store = backend(fake_pinecone, batch_size=100)
    store.ensure(3, "euclidean")
    assert store.upsert([(f"CVE-2023-{n:05d}", [float(n), 0.0, 1.0], {"n": n}) for n in range(250)]) == 250
    upserts = fake_pinecone.requests_to("POST", "/vectors/upsert")
    assert [len(u.json["vectors"]) for u in upserts] == [100, 100, 50]
    assert "namespace" not in upserts[0].json  # the default namespace
    assert store.count() == 250
    index_host = fake_pinecone.indexes["cve-index"].host
    assert index_host != fake_pinecone.control_url
    best = store.query([7.2, 0.0, 1.0], top_k=2)
    assert [m.id for m in best] == ["CVE-2023-00007", "CVE-2023-00008"]
    assert best[0].score == pytest.approx(0.04, abs=1e-4)  # squared euclidean distance, lower is closer


def test_dimension_mismatch_on_upsert_raises(fake_pinecone: FakePinecone) -> None:
    store = backend(fake_pinecone)
    store.ensure(3, "cosine")
    with pytest.raises(PineconeError, match="dimension"):
        store.upsert([("CVE-2023-00001", [1.0, 2.0], {})])


def test_wrong_api_key_is_refused_without_echoing_it(fake_pinecone: FakePinecone) -> None:
    config = PineconeConfig("cve-index", "pcsk_wrong_key_value", control_host=fake_pinecone.control_url)
    with pytest.raises(PineconeError) as caught:
        PineconeBackend(config).ensure(3, "cosine")
    assert "pcsk_wrong_key_value" not in str(caught.value)
    assert "pcsk_wrong_key_value" not in repr(config)
    assert fake_pinecone.indexes == {}
