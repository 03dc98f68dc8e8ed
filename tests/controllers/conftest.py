"""Fixtures for the operator tests: the operator itself (as its ServiceAccount), namespaces
it watches, a GitHub-releases fake, and a guard that fails any test during which the API
server refused the operator something (a verb missing from the shipped ClusterRole).

The operator watches only this session's namespaces (``t-ctl-<session>-*``), so resources
other test sessions create in the shared cluster, their own operators included, are never
touched by it, and theirs never touch ours.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from kubernetes import client
from pluggy import Result
from psycopg import sql

from devstack import proc
from tests.controllers import flows, helpers
from tests.controllers.operator import Operator, install_rbac, service_account_kubeconfig
from tests.fakes.cvelist_layout import shared_records
from tests.fakes.github_releases import FakeGitHubReleases
from tests.support.kube import eventually, temporary_namespace

GITHUB_TOKEN = flows.GITHUB_TOKEN
OPERATOR_ENV = {
    "CVERAG_TICK_SECONDS": "1",  # re-examine every object each second, so tests converge quickly
    "CVERAG_SYNC_RETRY_SECONDS": "2",  # first retry of a failed sync Job after 2 s (then 4, 8, ...)
}
_LOG_OFFSET = pytest.StashKey[int]()
SESSION = uuid.uuid4().hex[:4]


@pytest.fixture(scope="session")
def operator(
    cluster: Any, kube: client.ApiClient, cverag_crds: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    install_rbac(cluster.kubeconfig)
    home = tmp_path_factory.mktemp("operator")
    kubeconfig = service_account_kubeconfig(kube, cluster.server, cluster.ca_cert, home / "kubeconfig")
    runner = Operator(kubeconfig, home / "operator.log", f"t-ctl-{SESSION}-*", OPERATOR_ENV)
    runner.start()
    yield runner
    runner.stop()


@pytest.fixture(autouse=True)
def rbac_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that ran the operator: no request of it may have been Forbidden."""
    if "operator" not in request.fixturenames:
        yield
        return
    runner: Operator = request.getfixturevalue("operator")
    offset = runner.log_size()
    request.node.stash[_LOG_OFFSET] = offset
    yield
    refused = runner.forbidden_since(offset)
    assert not refused, "the operator's ClusterRole lacks a permission it needed:\n" + "\n".join(refused[:5])
    if not runner.alive():  # a crashed pod is restarted by its kubelet; here the test that saw it fails
        state = runner.state()
        runner.start()
        pytest.fail(f"the operator died during this test ({state}); started it again for the next test")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    runner = getattr(item, "funcargs", {}).get("operator")
    if report.failed and isinstance(runner, Operator):
        runner.dump_stacks()  # a stalled operator shows where each thread waits
        text = runner.log_since(item.stash.get(_LOG_OFFSET, 0))
        title = f"operator log (this test; operator {runner.state()})"
        report.sections.append((title, "\n".join(text.splitlines()[-150:])))


@pytest.fixture
def ns(kube: client.ApiClient, operator: Operator, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace the operator watches; its cverag resources are deleted (finalizers run) first."""
    with temporary_namespace(kube, f"ctl-{SESSION}-{request.node.name}"[:40]) as name:
        yield name
        if operator.alive():
            helpers.delete_all_cverag(kube, name)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def topic(ns: str, kube: client.ApiClient, kafka: Any, unique: str) -> Iterator[str]:
    """A fresh topic name; after the test the namespace's cverag resources go first (so nothing
    recreates the topic), then the topic, its dead-letter topic and the test store's consumer
    group are deleted from Kafka."""
    name = f"cve.records.{unique}"
    yield name
    helpers.delete_all_cverag(kube, ns)
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})  # kept alive until the futures resolve
    futures = {**admin.delete_topics([name, f"{name}.dlq"])}
    futures.update(admin.delete_consumer_groups([f"cverag-store-{ns}-{flows.STORE}"]))  # a test store's
    for future in futures.values():
        with contextlib.suppress(KafkaException, TimeoutError):
            future.result(30)


@pytest.fixture
def pg_schema(ns: str, kube: client.ApiClient, postgres: Any, unique: str) -> Iterator[str]:
    """A fresh PostgreSQL schema name, dropped after the test (after the namespace's stores)."""
    name = f"ctl_{unique}"
    yield name
    helpers.delete_all_cverag(kube, ns)
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeGitHubReleases]:
    """The GitHub fake; its API wants ``GITHUB_TOKEN`` (a feed reads it from a Secret)."""
    fake = FakeGitHubReleases(tmp_path, token=GITHUB_TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def open_github(tmp_path: Path) -> Iterator[FakeGitHubReleases]:
    """The GitHub fake without authentication, as the quickstart feed (no token Secret) uses it."""
    fake = FakeGitHubReleases(tmp_path)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def free_port() -> int:
    return proc.free_port()


@pytest.fixture
def without_keda() -> Iterator[None]:
    """No other session installs KEDA's CRD while this test runs."""
    with helpers.optional_crds(exclusive=False):
        yield


__all__ = ["GITHUB_TOKEN", "eventually"]


@pytest.fixture
def feed(
    kube: client.ApiClient, ns: str, kafka: Any, github: FakeGitHubReleases, topic: str, shared_data: Path
) -> str:
    """A feed whose baseline (25 real records) has really been published to its topic."""
    baseline = github.add_baseline(flows.DAY, shared_records(shared_data / "cve-records.jsonl.gz", limit=25))
    helpers.secret(kube, ns, "github-token", {"token": GITHUB_TOKEN})
    helpers.create(kube, ns, "cvefeeds", flows.feed_body(kafka, github, topic))
    assert flows.run_and_complete(kube, ns, flows.job_for(kube, ns, baseline))["published"] == 25
    return baseline
