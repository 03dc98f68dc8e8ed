"""Scratch names, schemas and topics for tests and benchmarks.

Every test and benchmark run works in its own randomly named PostgreSQL schema and Kafka
topic, so runs never see each other's data and a crashed earlier run changes no later
result.  These helpers create and drop them.
"""

from __future__ import annotations

import uuid

import psycopg
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from psycopg import sql


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def drop_schema(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        # the read-only role migration 009 made for it (roles are per cluster, not per schema)
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(f"{schema}_reader"[:63])))


def create_topic(bootstrap: str, partitions: int = 3) -> str:
    """A fresh records topic and its ``.dlq`` topic; returns the records topic's name."""
    name = unique("store-test").replace("_", "-")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for topic, count in ((name, partitions), (f"{name}.dlq", 1)):
        for future in admin.create_topics(
            [NewTopic(topic, num_partitions=count, replication_factor=1)]
        ).values():
            future.result(30)
    return name
