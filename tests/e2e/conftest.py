"""Fixtures of the quickstart end to end: the image on the nodes, your own servers, the operator.

The same test runs on two targets (:func:`target`): ``real-node``, the local control plane
with its real kubelet node, and ``kind``, a kind cluster of one control plane and two zoned
workers in a Docker engine (``devstack.kind``).  Skipped, with the reason, only where
containers cannot run (``real_node``), no Docker engine can be had (``kind``) or the image
cannot be built (no buildah/debootstrap, not root); everything else that goes wrong fails.  When the
test fails, every pod's status and last log lines are attached to its report; at the end of
the session the terminal summary lists the times of each step and the pods that ran.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from confluent_kafka.admin import AdminClient
from kubernetes import client
from psycopg import conninfo, sql

from devstack import image, proc
from devstack.k8s_build import locked
from devstack.node import NodeInfo
from tests.conftest import KEEP_SERVICES
from tests.e2e import byo, install, quickstart
from tests.e2e.containers import CrashGuard, Target
from tests.fakes.github_releases import FakeGitHubReleases
from tests.support.machine import lacks

TIMES: dict[str, float] = {}
PODS: list[str] = []
GUARD = pytest.StashKey[CrashGuard]()


class Steps:
    """Wall-clock time of each named step, for the summary (never asserted)."""

    def __call__(self, name: str) -> _Step:
        return _Step(name)


class _Step:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, kind: object, *exc: object) -> None:
        TIMES[self.name + (" (failed)" if kind is not None else "")] = time.monotonic() - self.started


@pytest.fixture(scope="module")
def step() -> Steps:
    return Steps()


@pytest.fixture(scope="module", autouse=True)
def one_at_a_time(step: Steps) -> Iterator[None]:
    """One end-to-end run per machine: runs share the operator's Deployment in cverag-system, the
    image's tag in the node's containerd and the quickstart's topic names.  Seen: a second session
    re-tagged the image and replaced the operator mid-run."""
    with contextlib.ExitStack() as held:
        with step("waiting for another end-to-end run"):
            held.enter_context(locked(proc.STATE_ROOT / "e2e.lock"))
        yield


@pytest.fixture(scope="module", params=["real-node", "kind"])
def target(request: pytest.FixtureRequest, real_node: NodeInfo, step: Steps) -> Iterator[Target]:
    """The local control plane with the real node, or a kind cluster.  kind's pods reach the
    host at the real node's gateway too (the host answers for its addresses on every
    interface), where the broker's pod listener is advertised: so both targets use it."""
    if request.param == "real-node":
        yield Target(request.getfixturevalue("cluster"), real_node, (real_node.name,))
        return
    from devstack import kind

    if (reason := kind.unavailable()) is not None:
        lacks(f"the kind target needs a Docker engine: {reason}")
    with step("kind: node image, cluster created"):
        info, started = kind.ensure_running()
    nodes = kind.nodes(real_node.gateway)
    yield Target(info, nodes, nodes.workers)
    if started and not KEEP_SERVICES:
        kind.stop()


@pytest.fixture(scope="module")
def api(target: Target) -> Iterator[client.ApiClient]:
    with target.cluster.api_client() as api:
        yield api


@pytest.fixture(scope="module")
def node_image(target: Target, step: Steps) -> image.Image:
    """The working tree's image, built or taken from the cache, in the nodes' containerd."""
    if image.cached() is None and (reason := image.unavailable()) is not None:
        lacks(f"the cverag image cannot be built here: {reason}")
    with step("image: build or reuse"):
        built = image.build()
    with step(f"image: import into containerd ({len(target.node_names)} node(s))"):
        listed = [target.nodes.ctr("images", "ls", f"name=={built.name}", node=n) for n in target.node_names]
        if not all(_digest(built.archive) in out for out in listed):
            target.nodes.import_image(built.archive)
    return built


def _digest(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        (manifest,) = json.load(member)["manifests"]
        return str(manifest["digest"])


@pytest.fixture(scope="module")
def app_namespace(api: client.ApiClient, target: Target) -> Iterator[str]:
    """The quickstart's namespace; on the real node's target, annotated so every pod made in it
    runs on the real node."""
    core = client.CoreV1Api(api)
    name = f"e2e-qs-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name, "annotations": target.annotations}})
    probe = {"metadata": {"name": "probe"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    admitted = core.create_namespaced_pod(name, probe, dry_run="All")
    if admitted.spec.node_selector != target.nodes.node_selector:
        core.delete_namespace(name)
        pytest.fail(
            "the API server runs without the PodNodeSelector/PodTolerationRestriction admission "
            "plugins (a cluster started before devstack enabled them): restart it with "
            "`python -m devstack down cluster && python -m devstack up cluster node`"
        )
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="module")
def database(postgres: Any, target: Target) -> Iterator[str]:
    """A database of its own for each target on the suite's PostgreSQL (loopback DSN), dropped
    afterwards."""
    name = f"e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield conninfo.make_conninfo(postgres.dsn, dbname=name)
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def releases(shared_data: Path) -> quickstart.Releases:
    return quickstart.releases(shared_data)


@pytest.fixture(scope="module")
def github(
    real_node: NodeInfo, releases: quickstart.Releases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeGitHubReleases]:
    """The CVE List's releases API, served where pods reach the host (the node's gateway)."""
    fake = FakeGitHubReleases(tmp_path_factory.mktemp("releases")).start(host=real_node.gateway)
    fake.add_baseline(quickstart.DAY, releases.baseline)
    fake.add_release(quickstart.DAY, 1, releases.delta)
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def topics(kafka: Any, target: Target) -> Iterator[list[str]]:
    """The quickstart feed's topics, absent before (a failed run leaves them: Retain) and after;
    made again for each target (hence the parameter)."""
    topic = quickstart.kinds(quickstart.documents(quickstart.PLACEHOLDERS))["CveFeed"]
    names = [topic["spec"]["kafka"]["topic"]["name"]]
    names.append(f"{names[0]}.dlq")
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})

    def delete() -> None:
        present = [n for n in names if n in admin.list_topics(timeout=30).topics]
        for future in admin.delete_topics(present).values() if present else ():
            future.result(30)
        while any(n in admin.list_topics(timeout=30).topics for n in present):
            time.sleep(0.5)

    delete()
    yield names
    delete()


@pytest.fixture(scope="module")
def addresses(
    api: client.ApiClient,
    app_namespace: str,
    real_node: NodeInfo,
    kafka: Any,
    database: str,
    github: FakeGitHubReleases,
) -> Iterator[quickstart.Addresses]:
    """Your own Kafka and PostgreSQL as Services of the namespace, and the rest of the edits."""
    if kafka.pod_bootstrap is None:
        pytest.skip("an external broker (CVERAG_KAFKA_BOOTSTRAP) has no listener for pods")
    pod_port = int(kafka.pod_bootstrap.rsplit(":", 1)[1])
    pg = conninfo.conninfo_to_dict(database)
    relays = [byo.Relay(real_node.gateway, pod_port), byo.Relay(real_node.gateway, int(str(pg["port"])))]
    kafka_svc = byo.external_service(api, app_namespace, "kafka", 9092, real_node.gateway, pod_port)
    pg_svc = byo.external_service(api, app_namespace, "postgres", 5432, real_node.gateway, relays[1].port)
    user, password = quote(str(pg["user"]), safe=""), quote(str(pg["password"]), safe="")
    dsn = f"postgresql://{user}:{password}@{pg_svc.address}/{pg['dbname']}?sslmode=disable"
    yield quickstart.Addresses(
        kafka=kafka_svc.address,
        postgres_dsn=dsn,
        releases_url=github.releases_url,
        # Nothing listens there: with no model to ask, answers come from the records.
        llm_url=f"http://{real_node.gateway}:9/v1",
        api_key=uuid.uuid4().hex,
    )
    for relay in relays:
        relay.close()


@pytest.fixture(scope="module")
def operator(
    api: client.ApiClient,
    target: Target,
    node_image: image.Image,
    app_namespace: str,
    step: Steps,
) -> Iterator[list[dict[str, Any]]]:
    """``kubectl apply -k bundles/operator``, running the image as a pod on the target's nodes."""
    core = client.CoreV1Api(api)
    with step("operator: install, pod started"):
        applied = install.install(target.cluster, target.annotations, app_namespace)
        guard = CrashGuard(target.cluster, core, [install.NAMESPACE])
        deadline = time.monotonic() + 300
        while install.operator_pod(core) is None:
            guard.check()
            assert time.monotonic() < deadline, f"operator pod not started:\n{guard.report()}"
            time.sleep(1)
    yield applied
    install.remove_resources(api, app_namespace)  # while the operator runs their finalizers
    install.uninstall(api, target.annotations)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    guard = item.stash.get(GUARD, None)
    if report.failed and guard is not None:
        try:
            report.sections.append(("pods and their last log lines", guard.report()))
        except Exception as exc:  # the report must not hide the failure
            report.sections.append(("pods", f"could not list them: {exc!r}"))
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMES:
        return
    terminalreporter.section("quickstart end to end")
    for name, seconds in TIMES.items():
        terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
    for line in PODS:
        terminalreporter.write_line(line)
