"""The store consumer and its probe over SASL/PLAIN, with credentials from ``CVERAG_KAFKA_*``
variables as the operator passes them (Secret references in the pod spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.scratch import unique
from tests.store.helpers import contract_message, produce, record_lines
from workloads.store import StoreTarget
from workloads.store.consumer import StoreConsumer
from workloads.store.health import kafka_problem
from workloads.store.settings import ConsumeSettings, kafka_security

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def sasl_env(kafka: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The SASL listener's settings, set in the environment the way a consumer pod gets them."""
    if kafka.sasl is None:
        pytest.skip("an external broker (CVERAG_KAFKA_BOOTSTRAP) has no SASL listener known to the tests")
    env = {
        "CVERAG_KAFKA_SECURITY_PROTOCOL": kafka.sasl["security.protocol"],
        "CVERAG_KAFKA_SASL_MECHANISM": kafka.sasl["sasl.mechanism"],
        "CVERAG_KAFKA_SASL_USERNAME": kafka.sasl["sasl.username"],
        "CVERAG_KAFKA_SASL_PASSWORD": kafka.sasl["sasl.password"],
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_consumer_reads_over_sasl(
    kafka: Any, store: StoreTarget, topic: str, shared_data: Path, sasl_env: dict[str, str]
) -> None:
    produce(kafka.bootstrap, topic, [contract_message(line) for line in record_lines(shared_data, 40)])
    settings = ConsumeSettings(
        bootstrap=kafka.sasl["bootstrap.servers"],
        topic=topic,
        group_id=unique("group"),
        until_idle=4.0,
        progress_every=30.0,
        security=kafka_security(),
    )
    assert "sasl.password" not in repr(settings) and kafka.sasl["sasl.password"] not in repr(settings)
    summary = StoreConsumer(settings, store).run()
    assert (summary["consumed"], summary["versions"]) == (40, 40)


def test_probe_names_refused_credentials(
    kafka: Any, topic: str, sasl_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = kafka.sasl["bootstrap.servers"]
    assert kafka_problem(bootstrap, topic) is None
    monkeypatch.setenv("CVERAG_KAFKA_SASL_PASSWORD", "not-the-password")
    problem = kafka_problem(bootstrap, topic)
    assert problem is not None and "refused the credentials" in problem and "Authentication failed" in problem
    assert "not-the-password" not in problem
