"""CveStore: migration Job first, then consumers (HPA, PDB, zone spread), versioning CronJobs,
status from the real PostgreSQL and Kafka, and a missing Secret named and recovered from.

The migration Job and the consumer's, probe's and CronJobs' commands run here with the
environment the pod spec gives them, against the real PostgreSQL and Kafka, to prove the
generated specs work.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
import psycopg.conninfo
import pytest
from kubernetes import client

from controllers.api.feed import CveFeed
from controllers.api.store import CveStore
from controllers.manifests.store import consumer_deployment, migration_job
from controllers.manifests.store_policies import prune_cronjob, snapshot_cronjob
from tests.controllers import helpers, pods
from tests.controllers.flows import STORE, migrate_for_real, migration, store_body
from tests.support.kube import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]
CONSUMER_SELECTOR = "app.kubernetes.io/name=cve-store-consumer,app.kubernetes.io/instance=cves"


def typed(kube: client.ApiClient, ns: str) -> tuple[CveStore, CveFeed]:
    store = CveStore.from_body(helpers.get(kube, ns, "cvestores", STORE))
    return store, CveFeed.from_body(helpers.get(kube, ns, "cvefeeds", "cvelist"))


def schema_version(dsn: str, schema: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f'SELECT max(version) FROM "{schema}".schema_migrations').fetchone()
    return int(row[0]) if row else 0


def test_migration_first_then_consumers_spread_over_zones(
    kube: client.ApiClient,
    ns: str,
    feed: str,
    postgres: Any,
    pg_schema: str,
    cluster: Any,
    without_keda: None,
) -> None:
    helpers.secret(kube, ns, "cverag-postgres", {"dsn": postgres.dsn})
    helpers.create(kube, ns, "cvestores", store_body(pg_schema))
    job = migration(kube, ns)
    store, cve_feed = typed(kube, ns)
    assert not helpers.contains(migration_job(store, cve_feed)["spec"], job["spec"])
    obj = helpers.wait_condition(kube, ns, "cvestores", STORE, "SchemaReady", "False", "MigrationRunning")
    assert helpers.condition(obj, "Ready")["status"] == "False"  # type: ignore[index]
    assert client.AppsV1Api(kube).list_namespaced_deployment(ns).items == []  # consumers wait for the schema

    migrate_for_real(kube, ns)
    assert schema_version(postgres.dsn, pg_schema) >= 5
    obj = helpers.wait_condition(kube, ns, "cvestores", STORE, "Ready", "True")
    ready = helpers.condition(obj, "Ready")
    assert ready["observedGeneration"] == obj["metadata"]["generation"]  # type: ignore[index]
    assert obj["status"]["schemaVersion"] == schema_version(postgres.dsn, pg_schema)

    deployment = kube.sanitize_for_serialization(
        client.AppsV1Api(kube).read_namespaced_deployment("cves-consumer", ns)
    )
    assert not helpers.contains(consumer_deployment(store, cve_feed)["spec"], deployment["spec"])
    pod = deployment["spec"]["template"]["spec"]
    assert (
        pod["securityContext"]["runAsNonRoot"]
        and pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"]
    )
    assert all("valueFrom" in e for e in pod["containers"][0]["env"] if e["name"] == "CVERAG_PG_DSN")
    hpa = client.AutoscalingV2Api(kube).read_namespaced_horizontal_pod_autoscaler("cves-consumer", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 6)
    assert hpa.spec.metrics[0].resource.target.average_utilization == 70
    assert (
        client.PolicyV1Api(kube)
        .read_namespaced_pod_disruption_budget("cves-consumer", ns)
        .spec.max_unavailable
        == 1
    )
    cronjobs = {c.metadata.name: c for c in client.BatchV1Api(kube).list_namespaced_cron_job(ns).items}
    assert cronjobs["cves-snapshot"].spec.schedule == "@daily" and "cves-prune" in cronjobs

    zones = eventually(lambda: _zones_of_ready_consumers(kube, ns, 3), "3 ready consumers")
    assert zones == Counter({"zone-a": 1, "zone-b": 1, "zone-c": 1})
    obj = helpers.wait_for(
        kube, ns, "cvestores", STORE, lambda o: o["status"].get("readyReplicas") == 3, "3 ready"
    )
    feed_row, store_row = helpers.columns(cluster.kubeconfig, ns, "cvefeeds,cvestores", wide=True)
    assert (feed_row["READY"], feed_row["RELEASE"], feed_row["RECORDS"]) == ("True", feed, "25")
    assert (store_row["READY"], store_row["REASON"], store_row["FEED"]) == ("True", "Consuming", "cvelist")
    assert (store_row["SCHEMA"], store_row["CONSUMERS"]) == (str(obj["status"]["schemaVersion"]), "3")


def _zones_of_ready_consumers(kube: client.ApiClient, ns: str, count: int) -> Counter[str] | None:
    core = client.CoreV1Api(kube)
    pods = [
        p for p in core.list_namespaced_pod(ns, label_selector=CONSUMER_SELECTOR).items if p.spec.node_name
    ]
    if len(pods) != count or not all(p.status.phase == "Running" for p in pods):
        return None
    zone = {n.metadata.name: n.metadata.labels["topology.kubernetes.io/zone"] for n in core.list_node().items}
    return Counter(zone[p.spec.node_name] for p in pods)


def test_consumer_probe_and_versioning_commands_work(
    kube: client.ApiClient, ns: str, feed: str, postgres: Any, pg_schema: str, cluster: Any
) -> None:
    helpers.secret(kube, ns, "cverag-postgres", {"dsn": postgres.dsn})
    helpers.create(kube, ns, "cvestores", store_body(pg_schema))
    migrate_for_real(kube, ns)
    helpers.wait_condition(kube, ns, "cvestores", STORE, "SchemaReady", "True")
    deployment = kube.sanitize_for_serialization(
        eventually(lambda: _deployment(kube, ns), "the consumer Deployment")
    )
    consumer = deployment["spec"]["template"]["spec"]["containers"][0]

    # Nothing consumed yet: the whole baseline is the backlog.
    helpers.wait_for(kube, ns, "cvestores", STORE, lambda o: o["status"].get("consumerLag") == 25, "lag 25")

    probe = {**consumer, "command": consumer["readinessProbe"]["exec"]["command"]}
    assert pods.run_container(kube, ns, probe).returncode == 0  # PostgreSQL and Kafka reachable
    consumed = pods.run_container(kube, ns, consumer, ["--until-idle", "3"])
    assert consumed.returncode == 0, consumed.stderr[-3000:]
    obj = helpers.wait_for(
        kube, ns, "cvestores", STORE, lambda o: o["status"].get("records") == 25, "25 records in status"
    )
    assert obj["status"]["versions"] == 25 and obj["status"]["lastIngestTime"]
    helpers.wait_for(kube, ns, "cvestores", STORE, lambda o: o["status"].get("consumerLag") == 0, "no lag")
    row = helpers.columns(cluster.kubeconfig, ns, "cvestores")[0]
    assert (row["RECORDS"], row["VERSIONS"], row["LAG"]) == ("25", "25", "0")

    store, _ = typed(kube, ns)
    for cronjob in (prune_cronjob(store), snapshot_cronjob(store)):
        assert cronjob is not None
        container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        ran = pods.run_container(kube, ns, container)
        assert ran.returncode == 0, ran.stderr[-2000:]
    with psycopg.connect(postgres.dsn) as conn:
        names = [r[0] for r in conn.execute(f'SELECT name FROM "{pg_schema}".snapshots').fetchall()]
    assert len(names) == 1 and names[0].startswith("scheduled-")

    wrong = psycopg.conninfo.make_conninfo(postgres.dsn, password="not-the-password")
    env = [
        e if e["name"] != "CVERAG_PG_DSN" else {"name": "CVERAG_PG_DSN", "value": wrong} for e in probe["env"]
    ]
    refused = pods.run_container(kube, ns, {**probe, "env": env})
    assert refused.returncode == 1 and "PostgreSQL unreachable" in refused.stderr  # the probe can fail


def _deployment(kube: client.ApiClient, ns: str) -> Any:
    found = client.AppsV1Api(kube).list_namespaced_deployment(ns).items
    return found[0] if found else None


def test_missing_secret_is_named_and_recovered_from(
    kube: client.ApiClient, ns: str, feed: str, postgres: Any, pg_schema: str
) -> None:
    helpers.create(kube, ns, "cvestores", store_body(pg_schema))
    obj = helpers.wait_condition(kube, ns, "cvestores", STORE, "Ready", "False", "SecretNotFound")
    assert "'cverag-postgres'" in helpers.condition(obj, "Ready")["message"]  # type: ignore[index]
    assert helpers.jobs(kube, ns, "app.kubernetes.io/name=cve-store-migrate") == []

    helpers.secret(kube, ns, "cverag-postgres", {"dsn": postgres.dsn})
    migrate_for_real(kube, ns)
    obj = helpers.wait_condition(kube, ns, "cvestores", STORE, "Ready", "True")
    assert helpers.condition(obj, "Stalled")["status"] == "False"  # type: ignore[index]
