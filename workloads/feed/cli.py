"""Command line of the feed Job: ``python -m workloads.feed``.

Configuration is :class:`~workloads.feed.settings.FeedSettings`: the environment the operator
sets on the Job, each variable overridden by the flag of the same name.  Secrets (GitHub token,
NVD API key, SASL password) come from the environment only — never flags, which would show in
process listings — and are never logged.  ``--check-config`` validates the configuration,
prints it (secrets masked) and exits.  Exit status: 0 when the run finished (dead-letter
entries included), 2 for a bad configuration, 75 (EX_TEMPFAIL) when the source or the broker
could not be reached, so that Kubernetes retries the Job.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from workloads.common.settings import SettingsError, env_var
from workloads.feed import metrics as feed_metrics
from workloads.feed.model import SourceKind, SourceUnavailable
from workloads.feed.pipeline import Progress, run
from workloads.feed.producer import RecordProducer
from workloads.feed.settings import FeedSettings
from workloads.feed.sources import build_source, list_releases
from workloads.feed.topics import SinkUnavailable, prepare_topics

EX_TEMPFAIL = 75
# Flag -> (settings field, argparse type); each flag's help is the field's description.
FLAGS: dict[str, tuple[str, type]] = {
    "--source": ("source", str),
    "--source-url": ("source_url", str),
    "--release": ("release", str),
    "--since": ("since", str),
    "--kafka-bootstrap": ("kafka_bootstrap", str),
    "--topic": ("topic", str),
    "--dlq-topic": ("dlq_topic", str),
    "--kafka-security-protocol": ("kafka_security_protocol", str),
    "--kafka-sasl-mechanism": ("kafka_sasl_mechanism", str),
    "--kafka-sasl-username": ("kafka_sasl_username", str),
    "--compression": ("kafka_compression", str),
    "--max-record-bytes": ("max_record_bytes", int),
    "--retry-attempts": ("retry_attempts", int),
    "--retry-base-delay": ("retry_base_delay", float),
    "--progress-interval": ("progress_interval", float),
    "--create-topics": ("create_topics", int),
}
CHOICES = {"source": [k.value for k in SourceKind], "kafka_compression": ["zstd", "lz4"]}


def parser() -> argparse.ArgumentParser:
    secrets = ", ".join(
        env_var(FeedSettings, f) for f in ("github_token", "nvd_api_key", "kafka_sasl_password")
    )
    p = argparse.ArgumentParser(
        prog="python -m workloads.feed",
        description=__doc__.splitlines()[0],
        epilog=f"Secrets come from env only: {secrets}.",
    )
    for flag, (name, kind) in FLAGS.items():
        info = FeedSettings.model_fields[name]
        default = "" if info.default is None else f", default {info.default}"
        text = f"{info.description} [{env_var(FeedSettings, name)}{default}]"
        p.add_argument(flag, dest=name, type=kind, choices=CHOICES.get(name), help=text.replace("%", "%%"))
    p.add_argument(
        "--list-releases", action="store_true", help="print the releases newer than --since as JSON and exit"
    )
    p.add_argument(
        "--check-config", action="store_true", help="validate and print the configuration, then exit"
    )
    return p


def parse_since(raw: str | None) -> dict[str, Any] | None:
    """A cursor from JSON, or from a bare release id / ISO timestamp."""
    if not raw:
        return None
    if raw.lstrip().startswith("{"):
        value = json.loads(raw)
        return value if isinstance(value, dict) else None
    return {"window_end": raw} if raw[:4].isdigit() and "T" in raw else {"release": raw}


def settings_from(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, FeedSettings]:
    """Flags over the environment; a bad value or a missing broker exits 2 with the reason."""
    p = parser()
    args = p.parse_args(argv)
    try:
        settings = FeedSettings.from_env(**{name: getattr(args, name) for name, _ in FLAGS.values()})
    except SettingsError as exc:
        p.error(str(exc))
    if not (args.list_releases or settings.kafka_bootstrap):
        p.error(f"--kafka-bootstrap ({env_var(FeedSettings, 'kafka_bootstrap')}) is required")
    return args, settings


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request is noise here
    args, settings = settings_from(argv)
    if args.check_config:
        print(json.dumps({"event": "config", "settings": settings.describe()}), flush=True)
        return 0
    since = parse_since(settings.since)
    try:
        if args.list_releases:
            print(json.dumps({"event": "releases", **list_releases(settings, since)}), flush=True)
            return 0
        source = build_source(settings, since)
        producer_settings = settings.producer_settings()
        topics = [settings.topic, settings.dead_letter_topic]
        prepare_topics(producer_settings, topics, settings.create_topics)
    except (SourceUnavailable, SinkUnavailable) as exc:
        empty = {"published": 0, "dead_lettered": 0, "errors": 1, "cursor": since or {}, "seconds": 0}
        print(json.dumps({"event": "summary", **empty, "failure": str(exc)}), flush=True)
        return EX_TEMPFAIL
    producer = RecordProducer(
        producer_settings,
        settings.topic,
        settings.dead_letter_topic,
        source.kind,
        settings.max_record_bytes,
        compression=settings.kafka_compression,
    )
    release = settings.release or str(getattr(source, "release", ""))
    with feed_metrics.served(producer, str(source.kind), release, settings.metrics_port):
        summary = run(source, producer, settings.max_record_bytes, Progress(settings.progress_interval))
    print(json.dumps(summary), flush=True)
    return EX_TEMPFAIL if "failure" in summary or producer.counts.failed else 0
