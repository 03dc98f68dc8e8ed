"""kopf entry points of the cverag operator.

This module only wires events to handlers: every decorated function delegates to the
handler module of its kind, which parses the body into the kind's model, acts, and returns
a typed result that :func:`publish` writes into status.  ``python -m controllers`` (or
``kopf run -m controllers.main``) loads it.

Each kind has change handlers (create, resume, spec update) for a quick first answer, a
timer that keeps converging (release polling, Job completions, counts), and a deletion
handler behind the ``cverag.io/finalizer`` finalizer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf
from prometheus_client import start_http_server

from controllers.api import GROUP, VERSION
from controllers.api.common import Kind
from controllers.api.feed import CveFeed
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.handlers import feed, index, rag, store
from controllers.handlers.outcome import Outcome
from controllers.machinery import conditions, config, events, rest
from controllers.machinery import settings as operator_settings
from controllers.machinery.metrics import conditions_written, instrumented

# kopf takes the timers' interval when the handlers register, so the settings are read at import.
TICK = config.current().tick_seconds
TICK_BACKOFF = config.current().tick_backoff
FEEDS: dict[str, Any] = {"group": GROUP, "version": VERSION, "plural": CveFeed.plural}
STORES: dict[str, Any] = {"group": GROUP, "version": VERSION, "plural": CveStore.plural}
INDEXES: dict[str, Any] = {"group": GROUP, "version": VERSION, "plural": CveIndex.plural}
ENDPOINTS: dict[str, Any] = {"group": GROUP, "version": VERSION, "plural": RagEndpoint.plural}


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf's watch connection logs in exactly as the operator's own calls do (:mod:`rest`)."""
    return rest.connection()


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    operator_settings.configure(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per source poll is noise
    if port := config.current().metrics_port:
        start_http_server(port)


def publish(kind: type[Kind], body: Mapping[str, Any], outcome: Outcome[Any]) -> None:
    """Write an outcome into status (its status model serialised by the CRD's names, only the
    fields the handler set) and post an Event for every condition that flipped."""
    meta = body["metadata"]
    written, transitions = conditions.apply(
        rest.default(), kind, meta["namespace"], meta["name"], outcome.conditions, outcome.status
    )
    events.post_transitions(rest.default(), written, transitions)
    conditions_written(
        kind.__name__,
        meta["namespace"],
        meta["name"],
        ((c.type, c.status_text == "True") for c in outcome.conditions),
    )


@kopf.on.resume(**FEEDS)
@kopf.on.create(**FEEDS)
@kopf.on.update(**FEEDS, field="spec")
@instrumented("CveFeed")
def feed_changed(body: kopf.Body, **_: Any) -> None:
    publish(CveFeed, body, feed.changed(body))


@kopf.timer(**FEEDS, interval=TICK, backoff=TICK_BACKOFF)
@instrumented("CveFeed")
def feed_tick(body: kopf.Body, **_: Any) -> None:
    publish(CveFeed, body, feed.tick(body))


@kopf.on.delete(**FEEDS)
@instrumented("CveFeed")
def feed_deleted(body: kopf.Body, **_: Any) -> None:
    feed.delete(body)


@kopf.on.resume(**STORES)
@kopf.on.create(**STORES)
@kopf.on.update(**STORES, field="spec")
@kopf.timer(**STORES, interval=TICK, backoff=TICK_BACKOFF)
@instrumented("CveStore")
def store_reconcile(body: kopf.Body, **_: Any) -> None:
    publish(CveStore, body, store.reconcile(body))


@kopf.on.delete(**STORES)
@instrumented("CveStore")
def store_deleted(body: kopf.Body, **_: Any) -> None:
    store.delete(body)


@kopf.on.resume(**INDEXES)
@kopf.on.create(**INDEXES)
@kopf.on.update(**INDEXES, field="spec")
@kopf.timer(**INDEXES, interval=TICK, backoff=TICK_BACKOFF)
@instrumented("CveIndex")
def index_reconcile(body: kopf.Body, **_: Any) -> None:
    publish(CveIndex, body, index.reconcile(body))


@kopf.on.delete(**INDEXES)
@instrumented("CveIndex")
def index_deleted(body: kopf.Body, **_: Any) -> None:
    index.delete(body)


# A RagEndpoint holds no state outside Kubernetes: its children go with it (owner references),
# so it needs no deletion handler and no finalizer.
@kopf.on.resume(**ENDPOINTS)
@kopf.on.create(**ENDPOINTS)
@kopf.on.update(**ENDPOINTS, field="spec")
@kopf.timer(**ENDPOINTS, interval=TICK, backoff=TICK_BACKOFF)
@instrumented("RagEndpoint")
def rag_reconcile(body: kopf.Body, **_: Any) -> None:
    publish(RagEndpoint, body, rag.reconcile(body))
