"""Children of a CveStore: migration Job, consumer Deployment, autoscaling, budget, CronJobs.

Every pod of a store runs the workloads image as a non-root user with a read-only root
filesystem, under the store's own ServiceAccount (no API token mounted: the data plane
never talks to Kubernetes), and gets PostgreSQL and Kafka credentials only through
``secretKeyRef`` env vars.
"""

from __future__ import annotations

import hashlib
import json

from pydantic_settings import BaseSettings

from controllers.api.common import SecretKeyRef
from controllers.api.feed import CveFeed
from controllers.api.store import CveStore
from controllers.dataplane.contract import StoreSettings
from controllers.machinery import config
from controllers.manifests import common
from controllers.manifests.common import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    TMP_MOUNT,
    TMP_VOLUME,
    Manifest,
    child_name,
    labels,
    metadata,
    resources,
    secret_setting,
    selector,
    setting,
    zone_spread,
)
from controllers.manifests.feed import dead_letter_topic, kafka_env

CONSUMER = "cve-store-consumer"
MIGRATE = "cve-store-migrate"
VERSIONING = "cve-store-versioning"
KIND = "CveStore"
HEALTH = ["python", "-m", "workloads.store.health"]
PRUNE_SCHEDULE = "@hourly"
# Consumer-group lag per replica above which KEDA adds a consumer.
LAG_PER_REPLICA = 5000


def consumer_name(store: CveStore) -> str:
    return child_name(store.metadata.name, "consumer")


def service_account_name(store: CveStore) -> str:
    return child_name(store.metadata.name, "store")


def consumer_group(store: CveStore) -> str:
    return store.spec.consumer.group or f"cverag-store-{store.metadata.namespace}-{store.metadata.name}"


def postgres_env(store: CveStore, program: type[BaseSettings] = StoreSettings) -> list[Manifest]:
    """The DSN from its Secret, or libpq's PG* variables with the user and password from theirs,
    as ``program`` (the store, the index or the RAG API: all read the store's database) names them."""
    pg = store.spec.postgres
    schema = setting(program, "pg_schema", pg.schema_)
    if pg.dsn_secret_ref is not None:
        return [*secret_setting(program, "pg_dsn", pg.dsn_secret_ref), *schema]
    assert pg.credentials_secret_ref is not None  # the CRD's CEL rules require it with host
    creds = pg.credentials_secret_ref.name
    return [
        *setting(program, "pghost", pg.host),
        *setting(program, "pgport", pg.port),
        *setting(program, "pgdatabase", pg.database),
        *setting(program, "pgsslmode", pg.ssl_mode),
        *secret_setting(program, "pguser", SecretKeyRef(name=creds, key="username")),
        *secret_setting(program, "pgpassword", SecretKeyRef(name=creds, key="password")),
        *schema,
    ]


def store_env(store: CveStore, feed: CveFeed) -> list[Manifest]:
    kafka = feed.spec.kafka
    return [
        *postgres_env(store),
        *kafka_env(kafka, StoreSettings),
        *setting(StoreSettings, "topic", kafka.topic.name),
        *setting(StoreSettings, "dlq_topic", dead_letter_topic(kafka)),
        *setting(StoreSettings, "consumer_group", consumer_group(store)),
        *setting(StoreSettings, "batch_size", store.spec.consumer.batch_size),
        *setting(StoreSettings, "metrics_port", common.METRICS_PORT),
    ]


def container(name: str, command: list[str], env_: list[Manifest], store: CveStore) -> Manifest:
    return {
        "name": name,
        "image": config.current().workloads_image,
        "command": command,
        "env": env_,
        "resources": resources(store.spec.consumer.resources),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [TMP_MOUNT],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def pod_spec(store: CveStore, main: Manifest, restart: str) -> Manifest:
    return {
        "serviceAccountName": service_account_name(store),
        "automountServiceAccountToken": False,
        "restartPolicy": restart,
        "securityContext": POD_SECURITY,
        "containers": [main],
        "volumes": [TMP_VOLUME],
    }


def service_account(store: CveStore) -> Manifest:
    return common.service_account(
        service_account_name(store), store.metadata.namespace, labels(KIND, store.metadata.name, "cve-store")
    )


def migration_job(store: CveStore, feed: CveFeed) -> Manifest:
    """``migrate`` as a Job whose name changes with what it would run (image, database, schema).

    A new name per change means a new Job (Jobs are immutable); the same spec always maps to
    the same Job, so a restarted operator never migrates twice.
    """
    main = container("migrate", ["python", "-m", "workloads.store", "migrate"], postgres_env(store), store)
    digest = hashlib.sha256(json.dumps(main, sort_keys=True).encode()).hexdigest()[:10]
    job_labels = labels(KIND, store.metadata.name, MIGRATE)
    name = child_name(store.metadata.name, f"migrate-{digest}")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(name, store.metadata.namespace, job_labels),
        "spec": {
            "backoffLimit": 6,
            "template": {"metadata": {"labels": job_labels}, "spec": pod_spec(store, main, "Never")},
        },
    }


def consumer_deployment(store: CveStore, feed: CveFeed) -> Manifest:
    """The consumers; ``replicas`` is left to the autoscaler, so applying never fights it."""
    name = consumer_name(store)
    match = selector(KIND, store.metadata.name, CONSUMER)
    main = {
        **container("consume", ["python", "-m", "workloads.store", "consume"], store_env(store, feed), store),
        "ports": [common.METRICS_CONTAINER_PORT],
        # Ready = PostgreSQL and Kafka answer.  Liveness runs the same check with a long threshold: a
        # consumer cut off for five minutes restarts with fresh clients (DNS, TLS, broker metadata).
        "readinessProbe": _probe(period=20, failures=3, delay=5),
        "livenessProbe": _probe(period=60, failures=5, delay=60),
    }
    spread = [
        *zone_spread(match, 1, "DoNotSchedule"),
        {**zone_spread(match)[0], "topologyKey": "kubernetes.io/hostname"},
    ]
    template_labels = labels(KIND, store.metadata.name, CONSUMER)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, store.metadata.namespace, template_labels),
        "spec": {
            "selector": {"matchLabels": match},
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {
                    **pod_spec(store, main, "Always"),
                    "terminationGracePeriodSeconds": 60,
                    "topologySpreadConstraints": spread,
                },
            },
        },
    }


def _probe(period: int, failures: int, delay: int) -> Manifest:
    return {
        "exec": {"command": HEALTH},
        "initialDelaySeconds": delay,
        "periodSeconds": period,
        "timeoutSeconds": 15,
        "failureThreshold": failures,
    }
