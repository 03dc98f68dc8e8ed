"""``python -m workloads.feed`` as the operator runs it: env/flags in, progress and a JSON summary out."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from devstack.proc import free_port
from tests.fakes.cvelist_layout import shared_records
from tests.fakes.github_releases import FakeGitHubReleases
from tests.feed.kafka_io import create_topics, read_topic

ROOT = Path(__file__).resolve().parents[2]
EX_TEMPFAIL = 75


def feed(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """Run the entry point; returns exit code, the parsed last stdout line, and stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CVERAG_")}
    result = subprocess.run(
        [sys.executable, "-m", "workloads.feed", *args],
        cwd=ROOT,
        env={**clean, "CVERAG_RETRY_BASE_DELAY": "0.01", "CVERAG_RETRY_ATTEMPTS": "3", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    return result.returncode, json.loads(lines[-1]) if lines else {}, result.stderr


@pytest.mark.kafka
def test_file_run_prints_progress_and_summary(kafka: Any, shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "slice.jsonl.gz"
    path.write_bytes(
        gzip.compress(b"\n".join(d for _, d in shared_records(shared_data / "cve-records.jsonl.gz", 2500)))
    )
    topic, _ = create_topics(kafka.bootstrap)
    code, summary, stderr = feed(
        "--source", "file", "--source-url", str(path), "--kafka-bootstrap", kafka.bootstrap, "--topic", topic,
        "--progress-interval", "0",
    )  # fmt: skip
    assert code == 0, stderr
    assert summary["event"] == "summary"
    assert (summary["published"], summary["dead_lettered"], summary["errors"]) == (2500, 0, 0)
    assert summary["cursor"] == {"release": "file:slice.jsonl.gz"}
    assert summary["seconds"] > 0
    progress = [json.loads(line) for line in stderr.splitlines() if line.startswith('{"event": "progress"')]
    assert [p["read"] for p in progress] == [1000, 2000]
    assert all(p["records_per_s"] > 0 for p in progress)


@pytest.mark.kafka
def test_cvelist_run_configured_by_env(kafka: Any, github: FakeGitHubReleases, shared_data: Path) -> None:
    records = shared_records(shared_data / "cve-records.jsonl.gz", 400)
    github.add_baseline("2024-01-16", islice(records, 300))
    github.add_release("2024-01-16", 12, islice(records, 40))
    topic, dlq = create_topics(kafka.bootstrap)
    env = {
        "CVERAG_SOURCE": "cvelistV5",
        "CVERAG_SOURCE_URL": github.releases_url,
        "CVERAG_RELEASE": "2024-01-16_delta_CVEs_at_1200Z",
        "CVERAG_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "CVERAG_TOPIC": topic,
    }
    code, summary, stderr = feed(env=env)
    assert code == 0, stderr
    assert summary["published"] == 40
    assert summary["cursor"] == {
        "release": "2024-01-16_delta_CVEs_at_1200Z",
        "published_at": "2024-01-16T12:05:00Z",
    }
    assert len(read_topic(kafka.bootstrap, topic, 40)) == 40
    assert read_topic(kafka.bootstrap, dlq, 0, idle=0.5) == []


def test_list_releases_since_a_cursor(github: FakeGitHubReleases, shared_data: Path) -> None:
    records = shared_records(shared_data / "cve-records.jsonl.gz", 100)
    github.add_baseline("2024-01-15", islice(records, 10))
    github.add_release("2024-01-15", 5, islice(records, 3))
    github.add_baseline("2024-01-16", islice(records, 10))
    github.add_release("2024-01-16", 2, islice(records, 3))
    github.add_release("2024-01-16", 3, islice(records, 3))
    since = json.dumps({"release": "2024-01-16_all_CVEs_at_midnight", "published_at": "x"})
    code, listing, stderr = feed("--list-releases", "--source-url", github.releases_url, "--since", since)
    assert code == 0, stderr
    assert listing["event"] == "releases"
    assert [r["release"] for r in listing["releases"]] == [
        "2024-01-16_delta_CVEs_at_0200Z",
        "2024-01-16_delta_CVEs_at_0300Z",
    ]
    assert [r["release"] for r in listing["plan"]] == ["2024-01-16_delta_CVEs_at_0300Z"]
    assert listing["plan"][0]["kind"] == "delta" and listing["plan"][0]["size"] > 0


def test_unreachable_source_exits_for_a_retry_and_never_prints_the_token(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/repos/CVEProject/cvelistV5/releases"
    env = {"CVERAG_GITHUB_TOKEN": "ghp_sekrit_token_value"}
    code, listing, stderr = feed("--list-releases", "--source-url", url, env=env)
    assert code == EX_TEMPFAIL
    assert "still failing after 3 attempts" in listing["failure"]
    assert "sekrit" not in json.dumps(listing) + stderr


@pytest.mark.kafka
def test_unreachable_source_during_a_run(kafka: Any, tmp_path: Path) -> None:
    topic, _ = create_topics(kafka.bootstrap)
    url = f"http://127.0.0.1:{free_port()}/repos/CVEProject/cvelistV5/releases"
    code, summary, _ = feed("--source-url", url, "--kafka-bootstrap", kafka.bootstrap, "--topic", topic)
    assert code == EX_TEMPFAIL
    assert summary["published"] == 0 and "ConnectError" in summary["failure"]
    assert summary["cursor"] == {}


@pytest.mark.kafka
def test_missing_topics_fail_fast_unless_asked_to_create_them(kafka: Any, shared_data: Path) -> None:
    topic = f"feed-cli-{os.getpid()}-{free_port()}"
    args = ["--source", "file", "--source-url", str(shared_data / "cve-history-invalid-json.jsonl.gz")]
    args += ["--kafka-bootstrap", kafka.bootstrap, "--topic", topic]
    code, summary, _ = feed(*args)
    assert code == EX_TEMPFAIL and "do not exist" in summary["failure"]
    code, summary, stderr = feed(*args, "--create-topics", "2")
    assert code == 0, stderr
    # the history file's lines are wrappers ({cve_id, raw_text, ...}), not records: each is dead-lettered
    assert (summary["published"], summary["dead_lettered"]) == (0, 3)
    assert summary["reasons"] == {"not-a-cve-record": 3}


@pytest.mark.kafka
def test_nvd_run_uses_the_key_from_env_and_keeps_it_out_of_the_output(kafka: Any, shared_data: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.fakes.nvd import FakeNvd, nvd_item

    recent = datetime.now(UTC) - timedelta(days=3)
    stamp = recent.strftime("%Y-%m-%dT%H:%M:%S.000")
    items = [
        nvd_item(json.loads(d), stamp) for _, d in shared_records(shared_data / "cve-records.jsonl.gz", 300)
    ]
    topic, _ = create_topics(kafka.bootstrap)
    since = (recent - timedelta(days=1)).isoformat()
    with FakeNvd(items, api_key="nvd-sekrit-key") as fake:
        env = {"CVERAG_NVD_API_KEY": "nvd-sekrit-key", "CVERAG_SINCE": since}
        args = [
            "--source",
            "nvd",
            "--source-url",
            fake.url,
            "--kafka-bootstrap",
            kafka.bootstrap,
            "--topic",
            topic,
        ]
        code, summary, stderr = feed(*args, env=env)
        assert {r.headers.get("apikey") for r in fake.requests} == {"nvd-sekrit-key"}
    assert code == 0, stderr
    assert summary["published"] == 300
    assert summary["cursor"]["release"].startswith("nvd:")
    assert "sekrit" not in json.dumps(summary) + stderr
    messages = read_topic(kafka.bootstrap, topic, 300)
    got = sorted((json.loads(m.value() or b"") for m in messages), key=lambda i: str(i["cve"]["id"]))
    assert got == sorted(items, key=lambda i: str(i["cve"]["id"]))


@pytest.mark.kafka
def test_sasl_credentials_come_from_env_and_a_refused_login_is_named(
    kafka: Any, shared_data: Path, tmp_path: Path
) -> None:
    if kafka.sasl is None:
        pytest.skip("an external broker (CVERAG_KAFKA_BOOTSTRAP) has no SASL listener known to the tests")
    path = tmp_path / "slice.jsonl.gz"
    path.write_bytes(
        gzip.compress(b"\n".join(d for _, d in shared_records(shared_data / "cve-records.jsonl.gz", 50)))
    )
    topic, _ = create_topics(kafka.bootstrap)
    env = {
        "CVERAG_KAFKA_BOOTSTRAP": kafka.sasl["bootstrap.servers"],
        "CVERAG_KAFKA_SECURITY_PROTOCOL": kafka.sasl["security.protocol"],
        "CVERAG_KAFKA_SASL_MECHANISM": kafka.sasl["sasl.mechanism"],
        "CVERAG_KAFKA_SASL_USERNAME": kafka.sasl["sasl.username"],
        "CVERAG_KAFKA_SASL_PASSWORD": kafka.sasl["sasl.password"],
    }
    args = ["--source", "file", "--source-url", str(path), "--topic", topic]
    code, summary, stderr = feed(*args, env=env)
    assert code == 0, stderr
    assert summary["published"] == 50
    assert len(read_topic(kafka.bootstrap, topic, 50)) == 50  # read back over the plain listener
    assert kafka.sasl["sasl.password"] not in json.dumps(summary) + stderr

    code, summary, stderr = feed(*args, env={**env, "CVERAG_KAFKA_SASL_PASSWORD": "not-the-password"})
    assert code == EX_TEMPFAIL
    assert "refused the credentials" in summary["failure"] and "Authentication failed" in summary["failure"]
    assert "not-the-password" not in json.dumps(summary) + stderr
