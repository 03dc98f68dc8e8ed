"""A store's running parts: consumer Deployment, autoscaler, budget and versioning CronJobs.

Applied with server-side apply on every reconcile (a no-op when nothing changed).  The
autoscaler is an HPA, or a KEDA ScaledObject when the cluster serves KEDA's API; the other
one is removed, because KEDA and a second HPA on one Deployment would fight.  CronJobs the
spec no longer asks for are deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controllers.api.feed import CveFeed
from controllers.api.store import CveStore
from controllers.clients import kube
from controllers.clients.objects import Rollout
from controllers.machinery.conditions import Cond
from controllers.manifests.common import child_name
from controllers.manifests.store import consumer_deployment, consumer_name
from controllers.manifests.store_policies import (
    autoscaler,
    disruption_budget,
    prune_cronjob,
    scaled_object,
    snapshot_cronjob,
)

CONSUMER_READY = "ConsumerReady"
KEDA = "keda.sh/v1alpha1"
HPA = "autoscaling/v2"
CRONJOBS = ("prune", "snapshot")


def converge(store: CveStore, feed: CveFeed, owner: Mapping[str, Any]) -> tuple[Cond, Rollout]:
    """Apply everything; ConsumerReady and the consumer Deployment's rollout it was judged from."""
    ns = store.metadata.namespace
    deployment = Rollout.of(kube.apply(consumer_deployment(store, feed), owner))
    if kube.served(KEDA, "scaledobjects"):
        kube.apply(scaled_object(store, feed), owner)
        kube.delete(HPA, "HorizontalPodAutoscaler", ns, consumer_name(store))
    else:
        kube.apply(autoscaler(store), owner)
    kube.apply(disruption_budget(store), owner)
    for suffix, cronjob in zip(CRONJOBS, (prune_cronjob(store), snapshot_cronjob(store)), strict=True):
        if cronjob is None:
            kube.delete("batch/v1", "CronJob", ns, child_name(store.metadata.name, suffix))
        else:
            kube.apply(cronjob, owner)
    return consumer_ready(deployment), deployment


def consumer_ready(rollout: Rollout) -> Cond:
    """ConsumerReady: every replica runs the current template and passes its readiness probe."""
    name, ready, wanted, updated = rollout.name, rollout.ready, rollout.wanted, rollout.updated
    if rollout.stuck:
        return Cond(CONSUMER_READY, False, "RolloutStuck", f"Deployment {name} stopped progressing")
    if not rollout.current:
        return Cond(
            CONSUMER_READY, False, "RolloutInProgress", f"Deployment {name} has a new spec to roll out"
        )
    if not rollout.done or wanted == 0:
        message = f"{ready} of {wanted} consumers ready, {updated} on the current spec"
        return Cond(CONSUMER_READY, False, "RolloutInProgress", message)
    return Cond(CONSUMER_READY, True, "ConsumersReady", f"{ready} of {wanted} consumers ready")


def remove(store: CveStore) -> None:
    """Stop writers before their schema goes: the Deployment and the CronJobs."""
    ns = store.metadata.namespace
    kube.delete("apps/v1", "Deployment", ns, consumer_name(store), propagation="Foreground")
    for suffix in CRONJOBS:
        kube.delete("batch/v1", "CronJob", ns, child_name(store.metadata.name, suffix))
