"""Credentials the operator itself needs, read from the Secrets a spec names.

The operator talks to Kafka (topics, watermarks, lag) and PostgreSQL (schema version,
stats, dropping a schema) with the same Secrets the workloads get through ``secretKeyRef``.
Values are read with ``secrets get`` (the ClusterRole grants nothing broader), held only in
memory and never logged; a missing Secret or key becomes :class:`MissingSecret`, whose
message names it so the status tells people exactly what to create.
"""

from __future__ import annotations

import base64

from psycopg.conninfo import make_conninfo

from controllers.api.common import SecretKeyRef
from controllers.api.feed import Kafka
from controllers.api.store import Postgres
from controllers.clients import kube
from controllers.machinery.rest import ApiError

KAFKA_AUTH_KEYS = ("security.protocol", "sasl.mechanism", "sasl.username", "sasl.password")


class MissingSecret(LookupError):
    """A Secret (or one of its keys) that a spec references does not exist."""

    def __init__(self, namespace: str, name: str, field: str, key: str | None = None) -> None:
        self.secret = name
        what = f"Secret {name!r} has no key {key!r}" if key else f"Secret {name!r} not found"
        super().__init__(f"{what} in namespace {namespace!r} (referenced by {field})")


def secret_data(namespace: str, name: str, field: str) -> dict[str, str]:
    """Every key of a Secret, decoded; :class:`MissingSecret` when it does not exist."""
    try:
        secret = kube.request("GET", kube.object_path("v1", "Secret", namespace, name))
    except ApiError as exc:
        if exc.status == 404:
            raise MissingSecret(namespace, name, field) from None
        raise
    data = secret.get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def secret_key(namespace: str, ref: SecretKeyRef, field: str) -> str:
    data = secret_data(namespace, ref.name, field)
    if ref.key not in data:
        raise MissingSecret(namespace, ref.name, field, ref.key)
    return data[ref.key]


def optional_key(namespace: str, ref: SecretKeyRef | None, field: str) -> str | None:
    return None if ref is None else secret_key(namespace, ref, field)


def kafka_config(namespace: str, kafka: Kafka) -> dict[str, str]:
    """librdkafka settings: bootstrap servers plus the auth Secret's SASL/TLS keys, if any."""
    config = {"bootstrap.servers": kafka.bootstrap_servers}
    if kafka.auth_secret_ref is not None:
        auth = secret_data(namespace, kafka.auth_secret_ref.name, "spec.kafka.authSecretRef")
        config.update({key: auth[key] for key in KAFKA_AUTH_KEYS if auth.get(key)})
    return config


def postgres_conninfo(namespace: str, pg: Postgres) -> str:
    """A libpq connection string: the DSN Secret's value, or host fields plus credentials."""
    if pg.dsn_secret_ref is not None:
        return secret_key(namespace, pg.dsn_secret_ref, "spec.postgres.dsnSecretRef")
    assert pg.host is not None and pg.credentials_secret_ref is not None  # the CRD's CEL rules
    field = "spec.postgres.credentialsSecretRef"
    creds = secret_data(namespace, pg.credentials_secret_ref.name, field)
    for key in ("username", "password"):
        if key not in creds:
            raise MissingSecret(namespace, pg.credentials_secret_ref.name, field, key)
    return make_conninfo(
        host=pg.host,
        port=pg.port,
        dbname=pg.database,
        user=creds["username"],
        password=creds["password"],
        sslmode=pg.ssl_mode,
        connect_timeout=10,
    )
