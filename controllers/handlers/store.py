"""CveStore: the schema migration Job first, then consumers, autoscaling, budget, versioning.

Consumers only start (or change) once the migration Job for the current image and
database has completed, so a consumer never writes into a schema older than its code.
Until then the store is Ready=False with the reason why; a missing Secret or CveFeed is
named in the message and the store recovers by itself when it appears.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import kopf
import psycopg

from controllers.api.common import DeletionPolicy
from controllers.api.feed import CveFeed
from controllers.api.store import CveStore, CveStoreStatus
from controllers.api.times import rfc3339
from controllers.clients import credentials, kafka_admin, kube, offsets, topics
from controllers.clients.objects import condition
from controllers.dataplane import stores
from controllers.handlers import network, store_consumers
from controllers.handlers.outcome import Outcome, merged, summarise
from controllers.machinery import events, rest
from controllers.machinery.conditions import Cond
from controllers.manifests.common import labels
from controllers.manifests.store import MIGRATE, consumer_group, migration_job, service_account

SCHEMA_READY = "SchemaReady"
CONSUMER_READY = store_consumers.CONSUMER_READY
PARTS = (SCHEMA_READY, CONSUMER_READY)
PROGRESSING = frozenset({"MigrationRunning", "RolloutInProgress", "WaitingForSchema"})


def reconcile(body: Mapping[str, Any]) -> Outcome[CveStoreStatus]:
    store = CveStore.from_body(body)
    ns, ref = store.metadata.namespace, store.spec.feed_ref.name
    feed = kube.referenced(CveFeed, ns, ref)
    if feed is None:
        return _blocked(body, "FeedNotFound", f"CveFeed {ref!r} not found in namespace {ns!r} (spec.feedRef)")
    try:
        conninfo = credentials.postgres_conninfo(ns, store.spec.postgres)
        kafka = credentials.kafka_config(ns, feed.spec.kafka)
    except credentials.MissingSecret as exc:
        return _blocked(body, "SecretNotFound", str(exc))
    kube.apply(service_account(store), body)
    network.for_store(store, feed, body)
    schema, status = _schema(store, feed, body, conninfo)
    if schema.status is not True:
        waiting = Cond(CONSUMER_READY, False, "WaitingForSchema", "consumers start after the migration Job")
        return summarise(Outcome(status, [schema, waiting]), body, PARTS, "Consuming", PROGRESSING)
    consumers, rollout = store_consumers.converge(store, feed, body)
    status = merged(
        status, CveStoreStatus(ready_replicas=rollout.ready), _facts(store, feed, conninfo, kafka)
    )
    return summarise(Outcome(status, [schema, consumers]), body, PARTS, "Consuming", PROGRESSING)


def _blocked(body: Mapping[str, Any], reason: str, message: str) -> Outcome[CveStoreStatus]:
    conds = [Cond(SCHEMA_READY, False, reason, message), Cond(CONSUMER_READY, False, reason, message)]
    return summarise(Outcome(CveStoreStatus(), conds), body, PARTS, "Consuming", PROGRESSING)


def _schema(
    store: CveStore, feed: CveFeed, owner: Mapping[str, Any], conninfo: str
) -> tuple[Cond, CveStoreStatus]:
    """Run (or find) the migration Job: SchemaReady (True once it has completed), and the
    schema's version when PostgreSQL tells it."""
    job, _ = kube.create(migration_job(store, feed), owner)
    name, schema = job["metadata"]["name"], store.spec.postgres.schema_
    if failed := condition(job, "Failed"):
        why = failed.get("message") or failed.get("reason")
        message = f"migration Job {name} failed ({why}); see its logs, then delete the Job to run it again"
        return Cond(SCHEMA_READY, False, "MigrationFailed", message), CveStoreStatus()
    if not condition(job, "Complete"):
        message = f"Job {name} is migrating schema {schema}"
        return Cond(SCHEMA_READY, False, "MigrationRunning", message), CveStoreStatus()
    _remove_old_migrations(store, name)
    message, status = f"Job {name} migrated schema {schema}", CveStoreStatus()
    try:
        status.schema_version = stores.store_facts(conninfo, schema, with_counts=False).schema_version
        message += f" to version {status.schema_version}"
    except psycopg.Error as exc:
        message += f"; its version is unknown: PostgreSQL did not answer ({type(exc).__name__})"
    return Cond(SCHEMA_READY, True, "Migrated", message), status


def _remove_old_migrations(store: CveStore, current: str) -> None:
    """Migration Jobs of earlier specs are history once the current one has completed."""
    selector = labels("CveStore", store.metadata.name, MIGRATE)
    for job in kube.list_objects("batch/v1", "Job", store.metadata.namespace, selector):
        if job["metadata"]["name"] != current:
            kube.delete("batch/v1", "Job", store.metadata.namespace, job["metadata"]["name"])


def _facts(store: CveStore, feed: CveFeed, conninfo: str, kafka: Mapping[str, str]) -> CveStoreStatus:
    """Counts and consumer positions from the store, lag against Kafka's end offsets; whatever
    is unreachable is left unset (the status keeps its last value)."""
    topic = feed.spec.kafka.topic.name
    try:
        facts = stores.store_facts(
            conninfo, store.spec.postgres.schema_, with_counts=True, consumer=(consumer_group(store), topic)
        )
    except psycopg.Error:
        return CveStoreStatus()
    status = CveStoreStatus(
        schema_version=facts.schema_version, records=facts.records, versions=facts.versions
    )
    if facts.last_ingest is not None:
        status.last_ingest_time = rfc3339(facts.last_ingest)
    with contextlib.suppress(kafka_admin.KafkaUnreachable, kafka_admin.TopicRejected):
        status.consumer_lag = offsets.consumer_lag(kafka, topic, facts.positions)
    return status


def delete(body: Mapping[str, Any]) -> None:
    """Retain: the schema stays (children go with the owner).  Delete: consumers first, then the schema."""
    store = CveStore.from_body(body)
    if store.spec.deletion_policy is not DeletionPolicy.DELETE:
        return
    ns = store.metadata.namespace
    store_consumers.remove(store)
    try:
        conninfo = credentials.postgres_conninfo(ns, store.spec.postgres)
    except credentials.MissingSecret as exc:
        events.post(rest.default(), dict(body), "Warning", "SchemaLeft", f"cannot drop the schema: {exc}")
        return
    try:
        stores.drop_schema(conninfo, store.spec.postgres.schema_)
    except psycopg.OperationalError as exc:
        raise kopf.TemporaryError(f"schema not dropped yet: {exc}", delay=15) from exc
    _forget_group(store)


def _forget_group(store: CveStore) -> None:
    """Best effort: the consumer group's offsets in Kafka, if the feed still says where Kafka is."""
    feed = kube.referenced(CveFeed, store.metadata.namespace, store.spec.feed_ref.name)
    if feed is None:
        return
    try:
        kafka = credentials.kafka_config(store.metadata.namespace, feed.spec.kafka)
        topics.delete_group(kafka, consumer_group(store))
    except (credentials.MissingSecret, kafka_admin.KafkaUnreachable, kafka_admin.TopicRejected):
        pass
