"""The operator's Kafka admin clients: one per connection config, with errors made plain.

Every call waits at most :data:`TIMEOUT` and ends in a result or one of two exceptions a
condition can name: :class:`KafkaUnreachable` (no answer; or :func:`refused_credentials`
says the broker refused the login) or :class:`TopicRejected` (the broker said no).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from controllers.dataplane.kafka import ObservedAdmin

TIMEOUT = 15.0
UNREACHABLE = {
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._RESOLVE,
}


class KafkaUnreachable(RuntimeError):
    """No broker answered in time."""


class TopicRejected(RuntimeError):
    """The broker refused a topic operation (bad config, too few brokers, a policy)."""


_CLIENTS: dict[tuple[tuple[str, str], ...], ObservedAdmin] = {}
_CLIENTS_LOCK = threading.Lock()


def _key(config: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(config.items()))


def _observed(config: Mapping[str, str]) -> ObservedAdmin:
    key = _key(config)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = ObservedAdmin({**config, "log_level": 2, "reconnect.backoff.max.ms": 10000})
        return _CLIENTS[key]


def admin(config: Mapping[str, str]) -> AdminClient:
    """One cached client per connection config (clients keep their broker connections).

    librdkafka logs every failed connection attempt; the conditions already say
    ``KafkaUnreachable``, so only critical messages reach the operator's log.  A refused
    login is not logged either: the client records it for :func:`refused_credentials`.
    """
    return _observed(config).client


def refused_credentials(config: Mapping[str, str]) -> str | None:
    """Why the broker refused this config's credentials, if it did.

    librdkafka retries a refused login forever and only tells ``error_cb``, which runs when
    the client is polled; so a call that timed out may really have been a wrong password.
    """
    with _CLIENTS_LOCK:
        observed = _CLIENTS.get(_key(config))
    return observed.refused() if observed is not None else None


def forget(config: Mapping[str, str]) -> None:
    """Drop the client of an unreachable cluster, so it stops reconnecting in the background."""
    with _CLIENTS_LOCK:
        _CLIENTS.pop(_key(config), None)


TOLERATED = object()  # what _wait returns for an error code the caller expects (e.g. "no such topic")


def wait(future: Future[Any], what: str, tolerated: frozenset[int] = frozenset()) -> Any:
    """The future's result; :data:`TOLERATED` for an expected error code; else a clear exception."""
    try:
        return future.result(TIMEOUT)
    except TimeoutError as exc:
        raise KafkaUnreachable(f"Kafka did not answer within {TIMEOUT:.0f}s while {what}") from exc
    except KafkaException as exc:
        error = exc.args[0]
        code = error.code() if isinstance(error, KafkaError) else None
        if code in tolerated:
            return TOLERATED
        if code in UNREACHABLE:
            raise KafkaUnreachable(f"Kafka did not answer while {what}: {error.str()}") from exc
        raise TopicRejected(f"Kafka refused {what}: {exc}") from exc
