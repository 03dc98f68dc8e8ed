"""The store consumer against hostile conditions (issue 12), through real Kafka and PostgreSQL:
a dead-letter topic that refuses big letters, and SIGTERM while the database is gone."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devstack.scratch import create_topic, unique
from tests.store.conftest import settings
from tests.store.helpers import REPO, Outgoing, contract_message, produce, read_topic, record_lines, store_cli
from tests.store.test_crash import applied
from tests.support.tcp_proxy import TcpProxy
from workloads.store import StoreReader, StoreTarget
from workloads.store.consumer import StoreConsumer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
GRACE_PERIOD = 60  # terminationGracePeriodSeconds of the store consumer's Deployment


def test_a_letter_the_dead_letter_topic_refuses_is_cut_until_it_fits(
    kafka: Any, store: StoreTarget, shared_data: Path
) -> None:
    """Before: the 512 KB cut was refused too, DeadLetterError crashed the consumer, and the
    restart stopped at the same offset, for ever."""
    topic = unique("store-test").replace("_", "-")
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    limits = {topic: "8388608", f"{topic}.dlq": "65536"}
    new = [
        NewTopic(name, num_partitions=1, config={"max.message.bytes": size}) for name, size in limits.items()
    ]
    for future in admin.create_topics(new).values():
        future.result(30)
    noise = os.urandom(900_000)  # not UTF-8, incompressible, over 512 KB (the first cut)
    good = [contract_message(line) for line in record_lines(shared_data, 20)]
    bad = Outgoing(b"CVE-2099-0300", noise, {"cverag-source": "file"})
    produce(kafka.bootstrap, topic, [*good[:10], bad, *good[10:]])

    summary = StoreConsumer(settings(kafka, topic, batch_size=50), store).run()
    assert (summary["versions"], summary["dead_lettered"]) == (20, 1)
    (letter,) = read_topic(kafka.bootstrap, f"{topic}.dlq", 1)
    head = {k: (v or b"").decode() for k, v in letter.headers() or []}
    assert head["cverag-dlq-reason"] == "invalid-utf8"
    assert head["cverag-dlq-truncated"] == str(len(noise))
    assert head["cverag-dlq-original-sha256"] == hashlib.sha256(noise).hexdigest()
    assert noise.startswith(letter.value() or b"") and len(letter.value() or b"") < 65536


def _wait(condition: Any, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
def test_sigterm_while_the_database_is_down_stops_within_the_grace_period(
    kafka: Any, postgres: Any, store: StoreTarget, shared_data: Path, tmp_path: Path
) -> None:
    """Before: the consumer retried the lost database for ever and ignored SIGTERM."""
    topic = create_topic(kafka.bootstrap)
    lines = record_lines(shared_data, 1200)
    produce(kafka.bootstrap, topic, [contract_message(line) for line in lines[:600]])
    params = conninfo_to_dict(postgres.dsn)
    proxy = TcpProxy(str(params.get("host", "127.0.0.1")), int(str(params.get("port") or 5432)))
    log = tmp_path / "consumer.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CVERAG_PG_DSN": make_conninfo(postgres.dsn, host="127.0.0.1", port=proxy.port),
        "CVERAG_PG_SCHEMA": store.schema,
        "CVERAG_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "CVERAG_TOPIC": topic,
        "CVERAG_CONSUMER_GROUP": "sigterm",
        "CVERAG_BATCH_SIZE": "100",
    }
    with log.open("wb") as out:
        consumer = subprocess.Popen(
            [sys.executable, "-m", "workloads.store", "consume"], env=env, stdout=out, stderr=out
        )
    try:
        _wait(lambda: applied(store) >= 600, "the first records to be stored")
        proxy.cut()
        produce(kafka.bootstrap, topic, [contract_message(line) for line in lines[600:]])
        _wait(lambda: "database unavailable" in log.read_text(errors="replace"), "the consumer to retry")
        consumer.send_signal(signal.SIGTERM)
        try:
            status = consumer.wait(GRACE_PERIOD)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {GRACE_PERIOD}s after SIGTERM:\n{log.read_text()[-3000:]}")
    finally:
        consumer.kill()
        proxy.close()
    output = log.read_text(errors="replace")
    assert status == 0, output[-3000:]
    assert "SIGTERM: stopping" in output and '"event": "summary"' in output
    stored = applied(store)
    assert 600 <= stored < 1200, "what was committed stays; the batch in hand was not half-applied"

    final = store_cli(postgres.dsn, store.schema, "consume", "--bootstrap", kafka.bootstrap, "--topic", topic,
                      "--group", "sigterm", "--until-idle", "4")  # fmt: skip
    assert final["_exit"] == 0, final["_stderr"][-2000:]
    assert final["consumed"] == 1200 - stored, "the restart resumes exactly where the store stopped"
    with StoreReader(store) as reader:
        assert reader.stats().cves == len({contract_message(line).key for line in lines})
