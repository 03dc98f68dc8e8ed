"""Every Job, Deployment and CronJob the operator generates from ``examples/``, without a cluster.

The objects come from the same spec -> manifest functions the handlers call.  Each example
CR is parsed as the operator parses it; references are resolved among the examples (a store
is paired with every example feed, so each feed's Kafka settings reach a consumer too).  A
few variants cover branches no example takes: a store on host + credentials with retention
(the prune CronJob and libpq's ``PG*`` variables), and an index synced on a schedule (the
CronJob form).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controllers.api.feed import CveFeed
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.manifests.feed import sync_job
from controllers.manifests.index import sync_cronjob, sync_deployment
from controllers.manifests.llm import llm_deployment
from controllers.manifests.rag import api_deployment
from controllers.manifests.store import consumer_deployment, migration_job
from controllers.manifests.store_policies import prune_cronjob, snapshot_cronjob
from tests.support.kube import load_yaml_docs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Manifest = dict[str, Any]


@dataclass(frozen=True)
class Container:
    """One container (or one probe command of it) of a generated workload."""

    where: str  # "CveFeed/nvd Job cverag-nvd-sync-… container feed"
    command: list[str]
    env: list[Manifest]


def example_bodies() -> dict[str, list[Manifest]]:
    """Every example custom resource by kind, placed in a namespace as the API server would."""
    out: dict[str, list[Manifest]] = {}
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in load_yaml_docs(path):
            doc["metadata"].update(namespace="prod", uid=f"uid-{doc['metadata']['name']}")
            out.setdefault(doc["kind"], []).append(doc)
    return out


def _variants(bodies: dict[str, list[Manifest]]) -> tuple[list[Manifest], list[Manifest]]:
    store = {**bodies["CveStore"][0], "metadata": {**bodies["CveStore"][0]["metadata"], "name": "cves-pg"}}
    store["spec"] = {
        **store["spec"],
        "postgres": {
            "host": "postgres.data.svc",
            "database": "cverag",
            "credentialsSecretRef": {"name": "pg-user"},
            "schema": "cverag",
        },
        "versioning": {"keep": "Last", "lastN": 3, "retainDays": 30},
    }
    index = bodies["CveIndex"][0]
    scheduled = {**index, "metadata": {**index["metadata"], "name": "cves-nightly"}}
    scheduled["spec"] = {**index["spec"], "sync": {**index["spec"].get("sync", {}), "schedule": "0 3 * * *"}}
    return [store], [scheduled]


def workloads() -> Iterator[tuple[str, Manifest]]:
    """(owner, object) for every generated Job, Deployment and CronJob."""
    bodies = example_bodies()
    extra_stores, extra_indexes = _variants(bodies)
    feeds = [CveFeed.from_body(b) for b in bodies["CveFeed"]]
    stores = {s.metadata.name: s for s in map(CveStore.from_body, [*bodies["CveStore"], *extra_stores])}
    indexes = {i.metadata.name: i for i in map(CveIndex.from_body, [*bodies["CveIndex"], *extra_indexes])}
    for feed in feeds:
        release = "nvd:2024-01-01T00:00:00/2024-04-30T00:00:00" if feed.spec.source.nvd else "a-release"
        yield f"CveFeed/{feed.metadata.name}", sync_job(feed, release, feed.spec.since)
    for store in stores.values():
        owner = f"CveStore/{store.metadata.name}"
        for feed in feeds:
            yield f"{owner} (feed {feed.metadata.name})", migration_job(store, feed)
            yield f"{owner} (feed {feed.metadata.name})", consumer_deployment(store, feed)
        for cronjob in (prune_cronjob(store), snapshot_cronjob(store)):
            if cronjob is not None:
                yield owner, cronjob
    for index in indexes.values():
        store = stores[index.spec.store_ref.name]
        make = sync_cronjob if index.spec.sync.schedule else sync_deployment
        yield f"CveIndex/{index.metadata.name}", make(index, store)
    for rag in map(RagEndpoint.from_body, bodies["RagEndpoint"]):
        index = indexes[rag.spec.index_ref.name]
        owner = f"RagEndpoint/{rag.metadata.name}"
        yield owner, api_deployment(rag, index, stores[index.spec.store_ref.name])
        if rag.spec.llm.engine != "external":  # an external LLM runs no pod of ours
            yield owner, llm_deployment(rag, "sa")


def pod_spec(obj: Manifest) -> Manifest:
    spec = obj["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else spec["template"]
    found: Manifest = template["spec"]
    return found


def containers() -> list[Container]:
    """Every container of every generated workload, and every exec probe (it runs with the same env)."""
    out = []
    for owner, obj in workloads():
        spec = pod_spec(obj)
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            where = f"{owner} {obj['kind']} {obj['metadata']['name']} container {c['name']}"
            command = [*(c.get("command") or []), *(c.get("args") or [])]
            out.append(Container(where, command, c.get("env") or []))
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if "exec" in c.get(probe, {}):
                    out.append(Container(f"{where} {probe}", c[probe]["exec"]["command"], c.get("env") or []))
    return out
