"""Fixtures of the real-node tests: an API client and a namespace whose default ServiceAccount exists."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from devstack.cluster import ClusterInfo
from tests.support.kube import eventually, exists


@pytest.fixture(scope="module")
def core(cluster: ClusterInfo) -> Iterator[client.CoreV1Api]:
    with cluster.api_client() as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def ns(core: client.CoreV1Api) -> Iterator[str]:
    name = f"t-node-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    eventually(lambda: exists(lambda: core.read_namespaced_service_account("default", name)), "default SA")
    yield name
    core.delete_namespace(name)
