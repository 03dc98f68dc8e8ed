"""Deletion through finalizers: Retain keeps the topics and the schema, Delete removes them,
and in both cases nothing the operator created is left in the namespace."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from confluent_kafka.admin import AdminClient
from kubernetes import client

from tests.controllers import helpers
from tests.controllers.flows import STORE, migrate_for_real, store_body
from tests.support.kube import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]
MANAGED = "app.kubernetes.io/managed-by=cverag-operator"


def topics_in_kafka(bootstrap: str, topic: str) -> set[str]:
    listed = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=15).topics
    return {t for t in (topic, f"{topic}.dlq") if t in listed}


def schema_exists(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [schema]).fetchone()
    return bool(row and row[0])


def leftovers(kube: client.ApiClient, ns: str) -> list[str]:
    """Every object the operator made (by its managed-by label) still in the namespace."""
    apps, batch = client.AppsV1Api(kube), client.BatchV1Api(kube)
    core, policy = client.CoreV1Api(kube), client.PolicyV1Api(kube)
    autoscaling = client.AutoscalingV2Api(kube)
    lists = {
        "Deployment": apps.list_namespaced_deployment,
        "ReplicaSet": apps.list_namespaced_replica_set,
        "Job": batch.list_namespaced_job,
        "CronJob": batch.list_namespaced_cron_job,
        "Pod": core.list_namespaced_pod,
        "ServiceAccount": core.list_namespaced_service_account,
        "PodDisruptionBudget": policy.list_namespaced_pod_disruption_budget,
        "HorizontalPodAutoscaler": autoscaling.list_namespaced_horizontal_pod_autoscaler,
    }
    found = [f"{kind}/{o.metadata.name}" for kind, call in lists.items() for o in call(ns).items]
    return [f for f in found if not f.startswith("ServiceAccount/default")]


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_deletion_policy(
    kube: client.ApiClient,
    ns: str,
    kafka: Any,
    postgres: Any,
    topic: str,
    pg_schema: str,
    feed: str,
    policy: str,
) -> None:
    helpers.patch_spec(kube, ns, "cvefeeds", "cvelist", {"deletionPolicy": policy})
    helpers.secret(kube, ns, "cverag-postgres", {"dsn": postgres.dsn})
    helpers.create(kube, ns, "cvestores", store_body(pg_schema, deletionPolicy=policy))
    migrate_for_real(kube, ns)
    helpers.wait_condition(kube, ns, "cvestores", STORE, "Ready", "True")
    assert len(leftovers(kube, ns)) > 5  # feed Job, migration Job, Deployment, pods, HPA, PDB, CronJobs, ...

    helpers.delete_all_cverag(kube, ns)  # returns once the finalizers have run and both are gone

    if policy == "Retain":
        assert topics_in_kafka(kafka.bootstrap, topic) == {topic, f"{topic}.dlq"}
        assert schema_exists(postgres.dsn, pg_schema)
    else:  # the broker finishes deleting a topic shortly after it accepted the request
        eventually(lambda: not topics_in_kafka(kafka.bootstrap, topic), "both topics gone from Kafka")
        assert not schema_exists(postgres.dsn, pg_schema)
    eventually(lambda: not leftovers(kube, ns), "no child objects left", attempts=240)
