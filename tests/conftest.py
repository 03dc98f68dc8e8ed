"""Session-wide fixtures: the real services every integration test runs against.

Each service fixture calls the same ``devstack`` code that ``make dev-up`` uses.  A
service already running (started by ``make dev-up`` or an earlier session with
``CVERAG_KEEP_SERVICES=1``) is reused and left running; one started here is stopped at the
end of the session.  When a test fails, the last lines of the logs of the services it used
are attached to its report.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import proc
from tests.support.machine import lacks

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KEEP_SERVICES = os.environ.get("CVERAG_KEEP_SERVICES") == "1"


def _service(module: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    info, started = module.ensure_running()
    request.config.stash.setdefault(_USED_LOGS, set()).update(module.logs())
    yield info
    if started and not KEEP_SERVICES:
        module.stop()


_USED_LOGS = pytest.StashKey[set[Path]]()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real CVE data beside the project (``../shared/data``); never copied in."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; the tests need ../shared/data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A real PostgreSQL with pgvector (``.dsn``)."""
    from devstack import postgres as module

    yield from _service(module, request)


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A real Apache Kafka broker in KRaft mode (``.bootstrap``)."""
    from devstack import kafka as module

    yield from _service(module, request)


@pytest.fixture(scope="session")
def llm(request: pytest.FixtureRequest) -> Iterator[Any]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2-135M (``.base_url``, ``.model``).

    The first use on a machine compiles llama-cpp-python (about ten minutes, cached).
    """
    from devstack import llm as module

    if not os.environ.get(module.BASE_URL_ENV):
        try:
            module.build()
        except proc.ServiceError as exc:
            lacks(f"llama-cpp-python could not be built here, so there is no local LLM: {exc}")
    yield from _service(module, request)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Kubernetes cluster with nodes in three zones and a GPU pool (``.kubeconfig``): the
    control plane as local processes with kwok nodes.  The end-to-end also runs on kind
    (``tests/e2e``, ``devstack.kind``); tests that only need an API server stay here."""
    from devstack import cluster as module

    yield from _service(module, request)


@pytest.fixture(scope="session")
def real_node(cluster: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A real kubelet node in the local cluster (``.name``, ``.node_selector``, ``.tolerations``).

    Skipped, with the reason, where containers cannot run (no containerd, runc or cgroups).
    """
    from devstack import node as module

    if reason := module.unavailable():
        lacks(reason)
    yield from _service(module, request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        used: set[Path] = item.config.stash.get(_USED_LOGS, set())
        for log in sorted(used):
            report.sections.append((f"service log {log.name}", proc.log_tail(log, 40)))
    return report


@pytest.fixture(scope="session")
def kube(cluster: Any) -> Any:
    """An API client with the cluster's admin credentials."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture(scope="session")
def cverag_crds(kube: Any) -> list[str]:
    """The four cverag CRDs from ``crds/``, installed (or updated) and Established."""
    from tests.support.kube import install_crds

    return install_crds(kube, sorted((Path(__file__).resolve().parents[1] / "crds").glob("*.yaml")))


@pytest.fixture
def namespace(kube: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    from tests.support.kube import temporary_namespace

    with temporary_namespace(kube, request.node.name) as name:
        yield name


@pytest.fixture
def operator_api(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The operator's own REST client (:class:`controllers.machinery.rest.Rest`), logged in
    from the test cluster's admin kubeconfig as the operator logs in from any kubeconfig."""
    from controllers.machinery import rest

    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    api = rest.Rest(rest.connection())
    yield api
    api.close()
