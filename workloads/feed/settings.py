"""Every setting of ``python -m workloads.feed``: the environment the operator gives a sync Job.

Flags of the same names override the environment (``--kafka-bootstrap`` for
``CVERAG_KAFKA_BOOTSTRAP``); secrets (GitHub token, NVD API key, SASL password) have no flag,
since flags show in process listings, and are ``SecretStr`` so no log or summary prints them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr

from workloads.common.kafka_settings import KafkaClientSettings
from workloads.common.metrics_server import MetricsSettings
from workloads.common.settings import secret_value
from workloads.feed.contract import DEFAULT_MAX_RECORD_BYTES
from workloads.feed.fetch import RetryPolicy
from workloads.feed.model import SourceKind
from workloads.feed.nvd import MAX_PAGE, MAX_WINDOW
from workloads.feed.producer import KafkaSettings


class FeedSettings(KafkaClientSettings, MetricsSettings):
    """One run of the feed: which source and release, where to publish, how hard to retry."""

    source: SourceKind = Field(
        default=SourceKind.CVELIST,
        description="Where records come from: `cvelistV5` (the CVE List's GitHub releases), "
        "`nvd` (the NVD CVE API 2.0) or `file` (a local or mirrored copy).",
    )
    source_url: str | None = Field(
        default=None,
        description="The releases API (cvelistV5), the NVD endpoint (nvd) or the file's path or URL "
        "(file, required); the public endpoints by default.",
    )
    release: str | None = Field(
        default=None, description="The one release (asset) this run syncs (cvelistV5)."
    )
    since: str | None = Field(
        default=None,
        description="Where the last run stopped: cursor JSON from a summary, a release id or an ISO time.",
    )
    kafka_compression: Literal["zstd", "lz4"] = Field(
        default="zstd", description="Producer compression codec."
    )
    max_record_bytes: int = Field(
        default=DEFAULT_MAX_RECORD_BYTES,
        description="Largest record published as is; bigger ones go to the dead-letter topic, cut.",
    )
    retry_attempts: int = Field(
        default=6, description="HTTP attempts per request before the source counts as down."
    )
    retry_base_delay: float = Field(
        default=1.0, description="Seconds before the first HTTP retry (then doubling)."
    )
    progress_interval: float = Field(default=5.0, description="Seconds between progress lines on stderr.")
    create_topics: int | None = Field(
        default=None,
        description="Create missing topics with this many partitions (development); "
        "unset, missing topics fail the run.",
    )
    github_token: SecretStr | None = Field(
        default=None, description="GitHub token for the releases API (a higher rate limit); never logged."
    )
    nvd_api_key: SecretStr | None = Field(
        default=None, description="NVD API key: 50 instead of 5 requests per rolling 30 s; never logged."
    )
    nvd_window_days: int = Field(
        default=MAX_WINDOW.days,
        ge=1,
        le=MAX_WINDOW.days,
        description=f"Days of lastModified per NVD request window (the API allows at most {MAX_WINDOW.days}).",
    )
    nvd_page_size: int = Field(
        default=MAX_PAGE,
        ge=1,
        le=MAX_PAGE,
        description=f"resultsPerPage of each NVD request (the API allows at most {MAX_PAGE}).",
    )

    @property
    def nvd_window(self) -> timedelta:
        return timedelta(days=self.nvd_window_days)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=max(1, self.retry_attempts), base_delay=self.retry_base_delay)

    def producer_settings(self) -> KafkaSettings:
        return KafkaSettings(
            bootstrap=self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=secret_value(self.kafka_sasl_password),
        )
