"""A store's policies as objects: autoscaling, disruption budget, versioning CronJobs.

Scaling is CPU-based through an HPA; where KEDA is installed a ``ScaledObject`` replaces it
(KEDA refuses to share a Deployment with another HPA) and adds the consumer group's lag as a
second trigger, which reacts to a backlog before CPU does.
"""

from __future__ import annotations

from controllers.api.feed import CveFeed
from controllers.api.store import CveStore
from controllers.manifests.common import Manifest, child_name, hpa, labels, metadata, pdb, selector
from controllers.manifests.store import (
    CONSUMER,
    KIND,
    LAG_PER_REPLICA,
    PRUNE_SCHEDULE,
    VERSIONING,
    consumer_group,
    consumer_name,
    container,
    pod_spec,
    postgres_env,
)


def autoscaler(store: CveStore) -> Manifest:
    consumer = store.spec.consumer
    name = consumer_name(store)
    lbl = labels(KIND, store.metadata.name, CONSUMER)
    return hpa(
        name,
        store.metadata.namespace,
        lbl,
        consumer.min_replicas,
        consumer.max_replicas,
        consumer.target_cpu_utilization,
    )


def disruption_budget(store: CveStore) -> Manifest:
    """At most one consumer down at a time during drains and upgrades."""
    name = consumer_name(store)
    lbl = labels(KIND, store.metadata.name, CONSUMER)
    return pdb(
        name, store.metadata.namespace, lbl, selector(KIND, store.metadata.name, CONSUMER), max_unavailable=1
    )


def scaled_object(store: CveStore, feed: CveFeed) -> Manifest:
    """KEDA: CPU plus consumer lag.  With SASL/TLS Kafka only CPU is used (see ``lag_trigger``)."""
    consumer = store.spec.consumer
    name = consumer_name(store)
    triggers: list[Manifest] = [
        {
            "type": "cpu",
            "metricType": "Utilization",
            "metadata": {"value": str(consumer.target_cpu_utilization)},
        }
    ]
    triggers += lag_trigger(store, feed)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata(name, store.metadata.namespace, labels(KIND, store.metadata.name, CONSUMER)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicaCount": consumer.min_replicas,
            "maxReplicaCount": consumer.max_replicas,
            "triggers": triggers,
        },
    }


def lag_trigger(store: CveStore, feed: CveFeed) -> list[Manifest]:
    """KEDA's Kafka scaler; skipped when the feed authenticates, since KEDA's TriggerAuthentication
    wants its own key names (``sasl: plaintext``) rather than the librdkafka ones the Secret holds."""
    kafka = feed.spec.kafka
    if kafka.auth_secret_ref is not None:
        return []
    return [
        {
            "type": "kafka",
            "metadata": {
                "bootstrapServers": kafka.bootstrap_servers,
                "consumerGroup": consumer_group(store),
                "topic": kafka.topic.name,
                "lagThreshold": str(LAG_PER_REPLICA),
                "offsetResetPolicy": "earliest",
            },
        }
    ]


def _cronjob(store: CveStore, suffix: str, schedule: str, command: list[str]) -> Manifest:
    lbl = labels(KIND, store.metadata.name, VERSIONING)
    main = container(suffix, command, postgres_env(store), store)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(child_name(store.metadata.name, suffix), store.metadata.namespace, lbl),
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 3,
                    "ttlSecondsAfterFinished": 86400,
                    "template": {"metadata": {"labels": lbl}, "spec": pod_spec(store, main, "Never")},
                }
            },
        },
    }


def prune_cronjob(store: CveStore) -> Manifest | None:
    """Retention per ``spec.versioning``; none when every version is kept forever."""
    versioning = store.spec.versioning
    keep = str(versioning.last_n) if versioning.keep == "Last" and versioning.last_n else "all"
    if keep == "all" and versioning.retain_days is None:
        return None
    command = ["python", "-m", "workloads.store", "prune", "--keep", keep]
    if versioning.retain_days is not None:
        command += ["--retain-days", str(versioning.retain_days)]
    return _cronjob(store, "prune", PRUNE_SCHEDULE, command)


def snapshot_cronjob(store: CveStore) -> Manifest | None:
    """Named snapshots on ``spec.versioning.snapshotSchedule``, usable as ``as_of`` in queries.

    The name is the UTC minute the Job started (``scheduled-20260816T0000Z``), so each run
    labels a distinct state and a rerun of the same minute fails instead of moving a label.
    """
    schedule = store.spec.versioning.snapshot_schedule
    if schedule is None:
        return None
    script = (
        'exec python -m workloads.store snapshot "scheduled-$(date -u +%Y%m%dT%H%MZ)"'
        f' --note "taken by CronJob {child_name(store.metadata.name, "snapshot")}"'
    )
    return _cronjob(store, "snapshot", schedule, ["sh", "-c", script])
