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
from controllers.clients import children
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


def converge(store: CveStore, feed: CveFeed, owner: Mapping[str, Any], status: dict[str, Any]) -> Cond:
    """Apply everything; the ConsumerReady condition from the Deployment's rollout state."""
    ns = store.metadata.namespace
    deployment = children.apply(consumer_deployment(store, feed), owner)
    if children.served(KEDA, "scaledobjects"):
        children.apply(scaled_object(store, feed), owner)
        children.delete(HPA, "HorizontalPodAutoscaler", ns, consumer_name(store))
    else:
        children.apply(autoscaler(store), owner)
    children.apply(disruption_budget(store), owner)
    for suffix, cronjob in zip(CRONJOBS, (prune_cronjob(store), snapshot_cronjob(store)), strict=True):
        if cronjob is None:
            children.delete("batch/v1", "CronJob", ns, child_name(store.metadata.name, suffix))
        else:
            children.apply(cronjob, owner)
    return rollout(deployment, status)


def rollout(deployment: Mapping[str, Any], status: dict[str, Any]) -> Cond:
    """ConsumerReady: every replica runs the current template and passes its readiness probe."""
    name = deployment["metadata"]["name"]
    st = deployment.get("status") or {}
    wanted = int((deployment.get("spec") or {}).get("replicas") or 0)
    ready, updated = int(st.get("readyReplicas") or 0), int(st.get("updatedReplicas") or 0)
    status["readyReplicas"] = ready
    stuck = any(
        c.get("type") == "Progressing" and c.get("status") == "False" for c in st.get("conditions") or []
    )
    if stuck:  # Progressing=False is ProgressDeadlineExceeded: not slow, stuck
        return Cond(CONSUMER_READY, False, "RolloutStuck", f"Deployment {name} stopped progressing")
    if int(st.get("observedGeneration") or 0) < int(deployment["metadata"].get("generation") or 0):
        return Cond(
            CONSUMER_READY, False, "RolloutInProgress", f"Deployment {name} has a new spec to roll out"
        )
    if updated < wanted or ready < wanted or wanted == 0:
        message = f"{ready} of {wanted} consumers ready, {updated} on the current spec"
        return Cond(CONSUMER_READY, False, "RolloutInProgress", message)
    return Cond(CONSUMER_READY, True, "ConsumersReady", f"{ready} of {wanted} consumers ready")


def remove(store: CveStore) -> None:
    """Stop writers before their schema goes: the Deployment and the CronJobs."""
    ns = store.metadata.namespace
    children.delete("apps/v1", "Deployment", ns, consumer_name(store), propagation="Foreground")
    for suffix in CRONJOBS:
        children.delete("batch/v1", "CronJob", ns, child_name(store.metadata.name, suffix))
