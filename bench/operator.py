"""The operator's footprint with ``--count`` custom resources of each kind, beside its idle self.

``python -m bench.operator [--count 100]``

Runs ``python -m controllers`` (the operator as it runs in its pod) against the local
cluster's API server (kwok nodes in three zones), the dev stack's Kafka and PostgreSQL.  It
applies ``--count`` copies of the quickstart chain (CveFeed -> CveStore -> CveIndex ->
RagEndpoint, each copy referring to its own), so the operator owns real Kafka topics and the
Jobs, Deployments, autoscalers, budgets, Services and policies of every CR.  Migration Jobs are
marked complete as kwok runs their pods (the Jobs' pods do not run), and every store uses one
schema migrated here, so the stores go on to consumers and the indexes and endpoints follow.
The feeds list an empty release page from a local server (no sync Job starts).

Baseline in the same run: the same process, started, idle for ``--idle`` seconds, with no CR.
Figures: resident memory (VmRSS, and the peak VmHWM) idle and with every CR reconciled; time
from the first apply until every CR reports its generation observed, and until each kind is
Ready; the operator's CPU per tick interval at steady state.  Results replace ``## operator``.
"""

from __future__ import annotations

import argparse
import copy
import http.server
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from bench.rag_server import machine_line, write
from controllers.api import GROUP, VERSION
from controllers.api import KINDS as CRD_KINDS
from controllers.manifests.store import MIGRATE
from devstack import cluster, kafka, postgres, scratch
from devstack.k8s_jobs import succeed_running
from devstack.operator_process import COMMAND, ROOT, STARTED, operator_env
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

QUICKSTART = ROOT / "examples" / "quickstart"
KINDS = tuple((kind.__name__, kind.plural) for kind in CRD_KINDS)
TICK = 5.0  # the operator re-examines every object this often (CVERAG_TICK_SECONDS)
MIGRATION = f"app.kubernetes.io/name={MIGRATE}"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((QUICKSTART / name).read_text()) if d]


def chain(i: int, bootstrap: str, releases_url: str, schema: str, llm_url: str) -> list[dict[str, Any]]:
    """The quickstart's four CRs, copy ``i``: names suffixed, references to each other, the
    dev stack's Kafka, one shared schema, deletion policy Delete (the topics go with the run)."""
    feed, store, index, rag = (
        copy.deepcopy(_docs(f)[0])
        for f in ("10-cvefeed.yaml", "20-cvestore.yaml", "30-cveindex.yaml", "40-ragendpoint.yaml")
    )
    suffix = f"-{i:03d}"
    for doc in (feed, store, index, rag):
        doc["metadata"]["name"] += suffix
    feed["spec"]["source"]["cvelistV5"]["releasesUrl"] = releases_url
    feed["spec"]["kafka"]["bootstrapServers"] = bootstrap
    feed["spec"]["kafka"]["topic"]["name"] = f"bench.operator.{schema}{suffix}"
    feed["spec"]["deletionPolicy"] = store["spec"]["deletionPolicy"] = "Delete"
    store["spec"]["feedRef"]["name"] = feed["metadata"]["name"]
    store["spec"]["postgres"]["schema"] = schema
    index["spec"]["storeRef"]["name"] = store["metadata"]["name"]
    rag["spec"]["indexRef"]["name"] = index["metadata"]["name"]
    # Sized for the fake cluster (six 8-core nodes, two GPUs): small requests, fewer replicas,
    # an external LLM (its URL is the releases server: nothing calls it during the run).
    small = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}
    store["spec"]["consumer"].update(minReplicas=1, maxReplicas=3, resources=small)
    index["spec"]["sync"]["resources"] = small
    rag["spec"]["api"].update(minReplicas=2, maxReplicas=3, resources=small)
    rag["spec"]["llm"] = {
        "engine": "external",
        "model": "meta-llama/Meta-Llama-3-8B-Instruct",
        "url": llm_url,
    }
    return [feed, store, index, rag]


def secrets(dsn: str) -> list[dict[str, Any]]:
    found = _docs("00-secrets.yaml")
    for doc in found:
        if doc["metadata"]["name"] == "cverag-postgres":
            doc["stringData"]["dsn"] = dsn
    return found


@contextmanager
def empty_releases() -> Iterator[str]:
    """A GitHub releases endpoint with no release (the feeds poll it and find nothing to sync)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/releases"
    finally:
        server.shutdown()


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in kB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in lines) if k in ("VmRSS", "VmHWM")
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OperatorProcess:
    """``python -m controllers`` watching one namespace, its log in ``log``."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path) -> None:
        env = operator_env(kubeconfig, namespace, {"CVERAG_TICK_SECONDS": str(TICK)})
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                list(COMMAND), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.pid = self.process.pid

    def wait_started(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while STARTED not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the operator did not start; see {self.log}")
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def crs(api: client.ApiClient, namespace: str) -> dict[str, list[dict[str, Any]]]:
    custom = client.CustomObjectsApi(api)
    return {
        kind: custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]
        for kind, plural in KINDS
    }


def _condition(cr: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (cr.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def observed(cr: dict[str, Any]) -> bool:
    ready = _condition(cr, "Ready")
    return ready is not None and ready.get("observedGeneration") == cr["metadata"]["generation"]


def is_ready(cr: dict[str, Any]) -> bool:
    ready = _condition(cr, "Ready")
    return observed(cr) and ready is not None and ready.get("status") == "True"


def complete_migrations(api: client.ApiClient, namespace: str) -> None:
    """Mark the running pods of unfinished migration Jobs succeeded (kwok runs pods, never programs)."""
    for job in client.BatchV1Api(api).list_namespaced_job(namespace, label_selector=MIGRATION).items:
        if not job.status.succeeded:
            succeed_running(api, namespace, job.metadata.name)


def kubectl(info: cluster.ClusterInfo, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [str(info.kubectl), "--kubeconfig", str(info.kubeconfig), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


class Watch:
    """Polls the CRs until each is reconciled and Ready, driving migration Jobs meanwhile."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.ready_at: dict[str, float] = {}
        self.observed_at: float | None = None

    def until_settled(self, count: int, started: float, timeout: float) -> dict[str, int]:
        ready: dict[str, int] = {}
        while time.monotonic() - started < timeout:
            complete_migrations(self.api, self.namespace)
            found = crs(self.api, self.namespace)
            if self.observed_at is None and all(
                len(v) == count and all(map(observed, v)) for v in found.values()
            ):
                self.observed_at = time.monotonic() - started
            ready = {kind: sum(map(is_ready, items)) for kind, items in found.items()}
            for kind, n in ready.items():
                if n == count and kind not in self.ready_at:
                    self.ready_at[kind] = time.monotonic() - started
            if self.observed_at is not None and len(self.ready_at) == len(KINDS):
                break
            time.sleep(1.0)
        return ready


def delete_all(api: client.ApiClient, namespace: str, timeout: float = 600.0) -> bool:
    """Delete every CR (the operator runs their finalizers: topics, consumer groups); True when gone."""
    custom = client.CustomObjectsApi(api)
    for _, plural in reversed(KINDS):
        custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, plural)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(crs(api, namespace).values()):
            return True
        time.sleep(2.0)
    return False


def run(count: int, idle: float, timeout: float) -> list[str]:
    info, _ = cluster.ensure_running()
    broker, _ = kafka.ensure_running()
    pg, _ = postgres.ensure_running()
    api = info.api_client()
    kubectl(info, "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl(info, "wait", "--for", "condition=Established", "crd", "--all", "--timeout=120s")
    namespace, schema = f"bench-operator-{uuid.uuid4().hex[:6]}", scratch.unique("bench_operator")
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    migrate(StoreTarget(pg.dsn, schema))
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"{namespace}.log"
    try:
        with empty_releases() as releases:
            operator = OperatorProcess(info.kubeconfig, namespace, log)
            try:
                operator.wait_started()
                time.sleep(idle)
                idle_kb, idle_cpu = memory_kb(operator.pid)["VmRSS"], _cpu_per_tick(operator.pid)
                kubectl(
                    info,
                    "-n",
                    namespace,
                    "apply",
                    "--server-side",
                    "-f",
                    "-",
                    stdin=yaml.safe_dump_all(secrets(pg.dsn)),
                )
                llm_url = releases.rsplit("/", 1)[0] + "/v1"
                chains = [chain(i, broker.bootstrap, releases, schema, llm_url) for i in range(count)]
                # The quickstart alone first (one CR of each kind): how long a user waits for Ready.
                quickstart = Watch(api, namespace)
                started = time.monotonic()
                _apply(info, namespace, chains[0])
                quickstart.until_settled(1, started, timeout)
                watch = Watch(api, namespace)
                started = time.monotonic()
                _apply(info, namespace, [d for c in chains[1:] for d in c])
                ready = watch.until_settled(count, started, timeout)
                cpu_to_settle = cpu_seconds(operator.pid)
                time.sleep(3 * TICK)
                settled = memory_kb(operator.pid)
                busy_cpu = _cpu_per_tick(operator.pid)
                children = _children(api, namespace)
            finally:
                deleted = delete_all(api, namespace)  # while the operator runs: its finalizers
                operator.stop()
    finally:
        client.CoreV1Api(api).delete_namespace(namespace)
        scratch.drop_schema(pg.dsn, schema)
    return _report(
        count,
        idle_kb,
        idle_cpu,
        settled,
        (quickstart, watch),
        ready,
        busy_cpu,
        cpu_to_settle,
        children,
        deleted,
    )


def _apply(info: cluster.ClusterInfo, namespace: str, docs: list[dict[str, Any]]) -> None:
    kubectl(info, "-n", namespace, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(docs))


def _cpu_per_tick(pid: int, ticks: int = 4) -> float:
    before = cpu_seconds(pid)
    time.sleep(ticks * TICK)
    return (cpu_seconds(pid) - before) / ticks


def _children(api: client.ApiClient, namespace: str) -> dict[str, int]:
    apps, batch, core = client.AppsV1Api(api), client.BatchV1Api(api), client.CoreV1Api(api)
    return {
        "Deployments": len(apps.list_namespaced_deployment(namespace).items),
        "Jobs": len(batch.list_namespaced_job(namespace).items),
        "Services": len(core.list_namespaced_service(namespace).items),
        "Pods": len(core.list_namespaced_pod(namespace).items),
    }


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.0f}x" if baseline >= 0.001 else "(idle: no work)"


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def _report(
    count: int,
    idle_kb: int,
    idle_cpu: float,
    settled: dict[str, int],
    watches: tuple[Watch, Watch],
    ready: dict[str, int],
    busy_cpu: float,
    cpu_to_settle: float,
    children: dict[str, int],
    deleted: bool,
) -> list[str]:
    quickstart, watch = watches
    rss = settled["VmRSS"]
    alone = max(quickstart.ready_at.values()) if len(quickstart.ready_at) == len(KINDS) else None
    alone_cell = f"{alone:.1f} s" if alone is not None else "not within the timeout"
    observed_in = f"{watch.observed_at:.1f} s" if watch.observed_at is not None else "not within the timeout"
    ready_cells = ", ".join(
        f"{kind} {ready.get(kind, 0)}/{count}"
        + (f" at {watch.ready_at[kind]:.1f} s" if kind in watch.ready_at else "")
        for kind, _ in KINDS
    )
    return [
        machine_line(),
        "Reproduce: `python -m bench.operator [--count 100]` (starts the local cluster, Kafka and PostgreSQL "
        "if needed). The operator (`python -m controllers`, one process, as in its pod) watches one namespace; "
        f"{count} copies of the quickstart chain (CveFeed -> CveStore -> CveIndex -> RagEndpoint) are applied at once, "
        f"with the dev stack's Kafka (real topics) and PostgreSQL; kwok runs the pods, migration Jobs are marked complete; "
        f"tick {TICK:.0f} s.",
        "",
        f"| figure | baseline: idle, no CR | {count} CRs of each kind ({4 * count} CRs) | ratio |",
        "|---|---:|---:|---:|",
        f"| resident memory (VmRSS) | {mb(idle_kb)} | **{mb(rss)}** | {rss / idle_kb:.2f}x |",
        f"| peak RSS (VmHWM, whole run) | | {mb(settled['VmHWM'])} | |",
        f"| CPU per tick at steady state | {idle_cpu:.3f} s | {busy_cpu:.3f} s | {_ratio(busy_cpu, idle_cpu)} |",
        "",
        f"Target (issue 13): RSS <= 150 MB with 100 CRs of each kind: {'met' if rss <= 150 * 1024 and count >= 100 else 'NOT met'} "
        f"({mb(rss)}; {(rss - idle_kb) / (4 * count):.0f} kB per CR over the idle process).",
        f"The quickstart chain alone (one CR of each kind, applied first): every kind Ready after **{alone_cell}** "
        f"(issue 13's target: <= 30 s; {'met' if alone is not None and alone <= 30 else 'NOT met'}); "
        + ", ".join(f"{k} {v:.1f} s" for k, v in quickstart.ready_at.items())
        + ".",
        f"Then the other {count - 1} chains at once, from their apply: every CR's Ready condition observed its generation after {observed_in}; "
        f"Ready: {ready_cells}; the operator used {cpu_to_settle:.0f} CPU-s from its start to then.",
        "Children the operator made: "
        + ", ".join(f"{n} {k}" for k, n in children.items())
        + f"; deleting every CR {'removed them all (finalizers ran)' if deleted else 'did NOT finish in time'}.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=100, help="copies of the quickstart chain")
    parser.add_argument("--idle", type=float, default=15.0, help="seconds idle before the baseline")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for every CR")
    args = parser.parse_args(argv)
    lines = run(args.count, args.idle, args.timeout)
    print("\n".join(lines))
    write("operator", lines)
    print(json.dumps({"section": "operator", "written": True}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
