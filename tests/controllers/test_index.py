"""CveIndex: the pgvector table and HNSW index, a Pinecone index on the local Pinecone-protocol
server, a refused dimension, the sync workload (Deployment or CronJob) run for real, status
from the real store, and deletion honouring ``deletionPolicy``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kubernetes import client

from controllers.api.index import CveIndex
from controllers.api.store import CveStore
from controllers.manifests.index import sync_deployment
from tests.controllers import helpers
from tests.controllers.flows import STORE
from tests.controllers.rag_flows import (
    INDEX,
    delete_own,
    deployment,
    index_body,
    prepare_store,
    sync_once,
    table_shape,
)
from tests.fakes.pinecone_server import FakePinecone
from tests.support.kube import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def own(kube: client.ApiClient, ns: str, pg_schema: str) -> Iterator[str]:
    """The namespace; afterwards its endpoints and indexes go (finalizers run) before the store and schema."""
    yield ns
    delete_own(kube, ns)


@pytest.fixture
def pinecone() -> Iterator[FakePinecone]:
    with FakePinecone() as fake:
        yield fake


def test_quickstart_pgvector_index_is_created_synced_and_reported(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str, shared_data: Path, cluster: Any
) -> None:
    ns = own
    written = prepare_store(kube, ns, postgres.dsn, pg_schema, shared_data)
    helpers.create(kube, ns, "cveindexes", index_body())
    obj = helpers.wait_condition(kube, ns, "cveindexes", INDEX, "IndexReady", "True")
    dimension, hnsw = table_shape(postgres.dsn, pg_schema, "cve_embeddings") or (0, "")
    assert dimension == 384 and "USING hnsw (embedding vector_cosine_ops)" in hnsw
    assert "m='16'" in hnsw and "ef_construction='64'" in hnsw
    obj = helpers.wait_condition(kube, ns, "cveindexes", INDEX, "Synced", "False", "InitialSync")
    assert helpers.condition(obj, "Ready")["reason"] == "InitialSync"  # type: ignore[index]
    assert obj["status"]["lag"] == written and obj["status"]["vectors"] == 0

    index = CveIndex.from_body(obj)
    store = CveStore.from_body(helpers.get(kube, ns, "cvestores", STORE))
    found = eventually(lambda: deployment(kube, ns, f"{INDEX}-sync"), "the sync Deployment")
    assert not helpers.contains(sync_deployment(index, store)["spec"], found["spec"])
    pod = found["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"]
    dsn_var = next(e for e in pod["containers"][0]["env"] if e["name"] == "CVERAG_PG_DSN")
    assert dsn_var["valueFrom"]["secretKeyRef"] == {"name": "cverag-postgres", "key": "dsn"}

    summary = sync_once(kube, ns)
    assert summary["complete"] and summary["embedded"] > 0
    obj = helpers.wait_condition(kube, ns, "cveindexes", INDEX, "Ready", "True", "UpToDate")
    with psycopg.connect(postgres.dsn) as conn:
        rows = conn.execute(f'SELECT count(*) FROM "{pg_schema}".cve_embeddings').fetchone()
    assert rows is not None and obj["status"]["vectors"] == rows[0] == summary["vectors"]
    assert obj["status"]["lag"] == 0 and obj["status"]["syncedThrough"].endswith("Z")
    row = helpers.columns(cluster.kubeconfig, ns, "cveindexes")[0]
    assert (row["READY"], row["BACKEND"], row["VECTORS"], row["LAG"]) == (
        "True",
        "pgvector",
        str(rows[0]),
        "0",
    )


def test_dimension_the_model_cannot_produce_is_refused(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str
) -> None:
    ns = own
    prepare_store(kube, ns, postgres.dsn, pg_schema, None)
    body = index_body()
    body["spec"]["embedding"]["dimension"] = 768
    helpers.create(kube, ns, "cveindexes", body)
    obj = helpers.wait_condition(kube, ns, "cveindexes", INDEX, "Ready", "False", "DimensionMismatch")
    message = helpers.condition(obj, "Ready")["message"]  # type: ignore[index]
    assert "768" in message and "384" in message and "all-MiniLM-L6-v2" in message
    assert helpers.condition(obj, "Stalled")["status"] == "True"  # type: ignore[index]
    assert table_shape(postgres.dsn, pg_schema, "cve_embeddings") is None
    assert deployment(kube, ns, f"{INDEX}-sync") is None


def test_pinecone_index_created_with_the_spec_shape_and_deleted_with_policy_delete(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str, pinecone: FakePinecone
) -> None:
    ns = own
    prepare_store(kube, ns, postgres.dsn, pg_schema, None)
    helpers.secret(kube, ns, "pinecone", {"api-key": pinecone.api_key})
    backend = {
        "type": "pinecone",
        "pinecone": {
            "indexName": "cves-test",
            "cloud": "gcp",
            "region": "europe-west4",
            "metric": "dotproduct",
            "apiKeySecretRef": {"name": "pinecone", "key": "api-key"},
            "host": pinecone.control_url,
        },
    }
    helpers.create(kube, ns, "cveindexes", index_body(backend=backend, deletionPolicy="Delete"))
    obj = helpers.wait_condition(kube, ns, "cveindexes", INDEX, "Ready", "True", "UpToDate")  # empty store
    created = pinecone.indexes["cves-test"]
    assert (created.dimension, created.metric) == (384, "dotproduct")
    assert created.deployment["cloud"] == "gcp" and created.deployment["region"] == "europe-west4"
    assert obj["status"]["backend"] == "pinecone" and obj["status"]["vectors"] == 0
    sync = eventually(lambda: deployment(kube, ns, f"{INDEX}-sync"), "the sync Deployment")
    env = {e["name"]: e for e in sync["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CVERAG_PINECONE_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "pinecone",
        "key": "api-key",
    }
    assert env["CVERAG_PINECONE_HOST"]["value"] == pinecone.control_url

    delete_own(kube, ns)
    assert "cves-test" not in pinecone.indexes
    eventually(lambda: deployment(kube, ns, f"{INDEX}-sync") is None, "the sync Deployment gone")


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_pgvector_deletion_policy(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str, policy: str
) -> None:
    ns = own
    prepare_store(kube, ns, postgres.dsn, pg_schema, None)
    helpers.create(kube, ns, "cveindexes", index_body(deletionPolicy=policy))
    helpers.wait_condition(kube, ns, "cveindexes", INDEX, "Ready", "True")
    assert table_shape(postgres.dsn, pg_schema, "cve_embeddings") is not None

    delete_own(kube, ns)
    kept = table_shape(postgres.dsn, pg_schema, "cve_embeddings") is not None
    assert kept is (policy == "Retain")
    eventually(lambda: deployment(kube, ns, f"{INDEX}-sync") is None, "the sync Deployment gone")


def test_schedule_switches_the_sync_between_cronjob_and_deployment(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str
) -> None:
    ns = own
    batch = client.BatchV1Api(kube)
    prepare_store(kube, ns, postgres.dsn, pg_schema, None)
    sync = {"interval": "1m", "schedule": "*/15 * * * *"}
    helpers.create(kube, ns, "cveindexes", index_body(sync=sync))
    cronjob = eventually(lambda: batch.list_namespaced_cron_job(ns).items, "the sync CronJob")[0]
    assert cronjob.spec.schedule == "*/15 * * * *" and cronjob.spec.concurrency_policy == "Forbid"
    command = cronjob.spec.job_template.spec.template.spec.containers[0].command
    assert command[-1] == "--once" and deployment(kube, ns, f"{INDEX}-sync") is None

    helpers.patch_spec(kube, ns, "cveindexes", INDEX, {"sync": {"interval": "30s", "schedule": None}})
    found = eventually(lambda: deployment(kube, ns, f"{INDEX}-sync"), "the sync Deployment")
    assert found["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["--interval", "30"]
    eventually(lambda: not batch.list_namespaced_cron_job(ns).items, "the CronJob gone")
