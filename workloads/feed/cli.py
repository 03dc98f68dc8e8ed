"""Command line of the feed Job: ``python -m workloads.feed``.

Every flag defaults to the environment variable of the data-plane contract, because the
operator configures Jobs through env.  Secrets (GitHub token, NVD API key, SASL password) are
read from env only — never flags, which would show in process listings — and never logged.
Exit status: 0 when the run finished (dead-letter entries included), 75 (EX_TEMPFAIL) when
the source or the broker could not be reached, so that Kubernetes retries the Job.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from workloads.feed import contract
from workloads.feed.model import SourceKind, SourceUnavailable
from workloads.feed.pipeline import Progress, run
from workloads.feed.producer import KafkaSettings, RecordProducer
from workloads.feed.sources import build_source, list_releases
from workloads.feed.topics import SinkUnavailable, prepare_topics

EX_TEMPFAIL = 75


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m workloads.feed",
        description=__doc__.splitlines()[0],
        epilog="Secrets come from env only: CVERAG_GITHUB_TOKEN, CVERAG_NVD_API_KEY, CVERAG_KAFKA_SASL_PASSWORD.",
    )
    add = p.add_argument
    add("--source", choices=[k.value for k in SourceKind], default=_env("CVERAG_SOURCE", "cvelistV5"))
    add(
        "--source-url", default=_env("CVERAG_SOURCE_URL"), help="releases API, NVD endpoint, or file path/URL"
    )
    add("--release", default=_env("CVERAG_RELEASE"), help="the one release (asset) this run syncs")
    add(
        "--since",
        default=_env("CVERAG_SINCE"),
        help="cursor JSON from a summary, a release id or an ISO time",
    )
    add("--kafka-bootstrap", default=_env("CVERAG_KAFKA_BOOTSTRAP"))
    add("--topic", default=_env("CVERAG_TOPIC", "cverag.records"))
    add("--dlq-topic", default=_env("CVERAG_DLQ_TOPIC"), help="default: <topic>.dlq")
    add("--kafka-security-protocol", default=_env("CVERAG_KAFKA_SECURITY_PROTOCOL"))
    add("--kafka-sasl-mechanism", default=_env("CVERAG_KAFKA_SASL_MECHANISM"))
    add("--kafka-sasl-username", default=_env("CVERAG_KAFKA_SASL_USERNAME"))
    add("--compression", choices=["zstd", "lz4"], default=_env("CVERAG_KAFKA_COMPRESSION", "zstd"))
    limit = _env("CVERAG_MAX_RECORD_BYTES", str(contract.DEFAULT_MAX_RECORD_BYTES))
    add("--max-record-bytes", type=int, default=int(limit or 0))
    add("--retry-attempts", type=int, default=int(_env("CVERAG_RETRY_ATTEMPTS", "6") or 6))
    add("--retry-base-delay", type=float, default=float(_env("CVERAG_RETRY_BASE_DELAY", "1") or 1))
    add("--progress-interval", type=float, default=float(_env("CVERAG_PROGRESS_INTERVAL", "5") or 5))
    partitions = _env("CVERAG_CREATE_TOPICS")
    add("--create-topics", type=int, default=int(partitions) if partitions else None, metavar="PARTITIONS")
    add("--list-releases", action="store_true", help="print the releases newer than --since as JSON and exit")
    return p


def parse_since(raw: str | None) -> dict[str, Any] | None:
    """A cursor from JSON, or from a bare release id / ISO timestamp."""
    if not raw:
        return None
    if raw.lstrip().startswith("{"):
        value = json.loads(raw)
        return value if isinstance(value, dict) else None
    return {"window_end": raw} if raw[:4].isdigit() and "T" in raw else {"release": raw}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request is noise here
    args = parser().parse_args(argv)
    since = parse_since(args.since)
    secrets = {"github_token": _env("CVERAG_GITHUB_TOKEN"), "nvd_api_key": _env("CVERAG_NVD_API_KEY")}
    if not (args.list_releases or args.kafka_bootstrap):
        parser().error("--kafka-bootstrap (CVERAG_KAFKA_BOOTSTRAP) is required")
    try:
        if args.list_releases:
            print(json.dumps({"event": "releases", **list_releases(args, since, secrets)}), flush=True)
            return 0
        source = build_source(args, since, secrets)
        settings = _kafka_settings(args)
        dlq_topic = args.dlq_topic or contract.dlq_topic_for(args.topic)
        prepare_topics(settings, [args.topic, dlq_topic], args.create_topics)
    except (SourceUnavailable, SinkUnavailable) as exc:
        empty = {"published": 0, "dead_lettered": 0, "errors": 1, "cursor": since or {}, "seconds": 0}
        print(json.dumps({"event": "summary", **empty, "failure": str(exc)}), flush=True)
        return EX_TEMPFAIL
    producer = RecordProducer(
        settings, args.topic, dlq_topic, source.kind, args.max_record_bytes, compression=args.compression
    )
    summary = run(source, producer, args.max_record_bytes, Progress(args.progress_interval))
    print(json.dumps(summary), flush=True)
    return EX_TEMPFAIL if "failure" in summary or producer.counts.failed else 0


def _kafka_settings(args: argparse.Namespace) -> KafkaSettings:
    return KafkaSettings(
        bootstrap=args.kafka_bootstrap,
        security_protocol=args.kafka_security_protocol,
        sasl_mechanism=args.kafka_sasl_mechanism,
        sasl_username=args.kafka_sasl_username,
        sasl_password=_env("CVERAG_KAFKA_SASL_PASSWORD"),
    )
