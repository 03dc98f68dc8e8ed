"""CveFeed: where CVE records come from and the Kafka topic they stream into."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from controllers.api.common import (
    BaseStatus,
    CrdModel,
    DeletionPolicy,
    Duration,
    Kind,
    NetworkPolicies,
    Resources,
    SecretKeyRef,
    SecretRef,
    cel,
    column,
    immutable,
)
from controllers.api.version import IMAGE

TopicName = Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[a-zA-Z0-9._-]+$")]
HttpUrl = Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")]
FileUrl = Annotated[str, Field(max_length=2048, pattern=r"^(https?://|file://|/)\S+$")]
# RFC 3339 date or date-time; checked by pattern so the error names the format.
Timestamp = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$", max_length=40),
]


class CvelistV5Source(CrdModel):
    """The official CVE List (CVEProject/cvelistV5) through its GitHub releases."""

    releases_url: HttpUrl = "https://api.github.com/repos/CVEProject/cvelistV5/releases"
    """GitHub releases API endpoint listing the daily baseline and hourly delta zips."""
    include_baseline: bool = True
    """Start with the newest daily baseline (all CVEs at midnight) before following deltas."""
    github_token_secret_ref: SecretKeyRef | None = None
    """Optional GitHub token, raising the API rate limit from 60 to 5,000 requests per hour."""


class NvdSource(CrdModel):
    """The NVD CVE API 2.0, synced incrementally by lastModified windows."""

    url: HttpUrl = "https://services.nvd.nist.gov/rest/json/cves/2.0"
    """Base URL of the CVE API 2.0."""
    api_key_secret_ref: SecretKeyRef | None = None
    """Optional NVD API key: 50 instead of 5 requests per rolling 30 seconds."""
    window_days: Annotated[int, Field(ge=1, le=120)] = 120
    """Width of each lastModified window; the API allows at most 120 days."""
    page_size: Annotated[int, Field(ge=1, le=2000)] = 2000
    """resultsPerPage of each request; the API allows at most 2000."""


class FileSource(CrdModel):
    """A local or mirrored copy: a cvelistV5 directory, a zip, or JSON lines (optionally gzipped)."""

    url: FileUrl
    """Path or URL of the file or directory (file://, http(s):// or an absolute path)."""


class Source(CrdModel):
    """Where records come from: exactly one of cvelistV5, nvd or file."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.cvelistV5), has(self.nvd), has(self.file)].filter(x, x).size() == 1",
                    "spec.source must set exactly one of cvelistV5, nvd or file",
                    reason="FieldValueInvalid",
                )
            ]
        }
    )

    cvelist_v5: CvelistV5Source | None = Field(default=None, alias="cvelistV5")
    """Follow the cvelistV5 GitHub releases (baseline plus hourly deltas)."""
    nvd: NvdSource | None = None
    """Follow the NVD CVE API 2.0."""
    file: FileSource | None = None
    """Read a local file, directory or mirror once per change."""

    @property
    def type(self) -> Literal["cvelistV5", "nvd", "file"]:
        if self.cvelist_v5 is not None:
            return "cvelistV5"
        return "nvd" if self.nvd is not None else "file"


class Topic(CrdModel):
    """The Kafka topic records stream into (key = CVE id, so each CVE keeps its order)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.minInSyncReplicas) || self.minInSyncReplicas <= self.replicationFactor",
                    "minInSyncReplicas cannot exceed replicationFactor",
                )
            ]
        }
    )

    name: Annotated[TopicName, Field(json_schema_extra=immutable("spec.kafka.topic.name"))]
    """Topic name."""
    partitions: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            json_schema_extra={
                "x-kubernetes-validations": [
                    cel("self >= oldSelf", "partitions may only grow: Kafka cannot remove partitions")
                ]
            },
        ),
    ] = 3
    """Number of partitions; may grow, never shrink (Kafka cannot remove partitions)."""
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    """Copies of each partition; 3 in production."""
    retention_ms: Annotated[int, Field(ge=-1)] = -1
    """How long records are kept; -1 keeps them forever so a new store can replay the topic."""
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = "delete"
    """Kafka cleanup.policy."""
    min_in_sync_replicas: Annotated[int, Field(ge=1, le=10)] | None = None
    """min.insync.replicas; with acks=all, writes fail rather than land on fewer copies."""
    max_message_bytes: Annotated[int, Field(ge=1024, le=67108864)] = 8388608
    """max.message.bytes: the largest record the topic accepts (CVE records are rarely over 1 MiB)."""


class Strimzi(CrdModel):
    """Manage topics as Strimzi KafkaTopic resources instead of through the Kafka admin API."""

    cluster_name: Annotated[str, Field(min_length=1, max_length=63)]
    """Name of the Strimzi Kafka cluster (the strimzi.io/cluster label)."""


class Kafka(CrdModel):
    """The Kafka cluster and topics of this feed."""

    bootstrap_servers: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\s,]+(,[^\s,]+)*$")]
    """Comma-separated host:port list of brokers."""
    auth_secret_ref: SecretRef | None = None
    """Secret with keys security.protocol, sasl.mechanism, sasl.username, sasl.password (SASL/TLS)."""
    topic: Topic
    """The records topic."""
    dead_letter_topic: TopicName | None = None
    """Where malformed records go with a reason header; defaults to <topic>.dlq."""
    strimzi: Strimzi | None = None
    """Set to manage the topics through Strimzi KafkaTopic resources."""


class JobTemplate(CrdModel):
    """How sync Jobs run."""

    image: Annotated[str, Field(min_length=1, max_length=512)] = IMAGE
    """Container image with the cverag workloads; by default this release's own image."""
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests={"cpu": "250m", "memory": "256Mi"}, limits={"memory": "1Gi"}
        )
    )
    """Resources of the sync container."""
    backoff_limit: Annotated[int, Field(ge=0, le=20)] = 4
    """Retries of a failed sync Job before it counts as failed."""
    ttl_seconds_after_finished: Annotated[int, Field(ge=0)] = 86400
    """How long finished Jobs are kept for inspection."""


class CveFeedSpec(CrdModel):
    """Desired state of a CVE feed."""

    source: Source
    """Where records come from: exactly one of cvelistV5, nvd or file."""
    since: Timestamp | None = None
    """Ignore releases and changes before this RFC 3339 date or date-time."""
    poll_interval: Duration = "15m"
    """How often the source is asked for new releases."""
    suspend: bool = False
    """Stop starting new sync Jobs; running ones finish."""
    kafka: Kafka
    """Kafka cluster and topics."""
    job: JobTemplate = Field(default_factory=JobTemplate)
    """Template of the sync Jobs."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """Retain keeps the topics when the CveFeed is deleted; Delete removes them."""
    network_policy: NetworkPolicies = Field(default_factory=NetworkPolicies)
    """Network policies of the sync Jobs' pods (they reach only the source over HTTPS, Kafka and DNS)."""


class CveFeedStatus(BaseStatus):
    """Observed state of a CVE feed."""

    last_release: str | None = None
    """The newest release (or NVD window) fully published to the topic: the resumable cursor."""
    records_published: int | None = None
    """Records published to the topic by completed sync Jobs."""
    records_dead_lettered: int | None = None
    """Records sent to the dead-letter topic."""
    source_type: str | None = None
    """Which source this feed follows: cvelistV5, nvd or file."""
    active_job: str | None = None
    """Name of the sync Job running now, if any."""
    topic: str | None = None
    """Name of the records topic."""
    partitions: int | None = None
    """Partitions of the topic as seen in Kafka."""
    last_poll_time: str | None = None
    """When the source was last asked for new releases (the next poll is pollInterval later)."""
    pending_releases: list[str] | None = None
    """Releases the last poll found newer than lastRelease, oldest first: synced one Job at a time."""
    failed_attempts: int | None = None
    """Failed sync Jobs of the next pending release; it is retried with exponential backoff."""


class CveFeed(Kind):
    """A CVE feed: a source of CVE records and the Kafka topic they stream into."""

    kind = "CveFeed"
    plural = "cvefeeds"
    short_names = ("cvefeed", "feed")
    extra_columns = (
        column("Source", ".status.sourceType"),
        column("Topic", ".spec.kafka.topic.name"),
        column("Release", ".status.lastRelease"),
        column("Records", ".status.recordsPublished", "integer"),
        column("DeadLettered", ".status.recordsDeadLettered", "integer", priority=1),
        column("Job", ".status.activeJob", priority=1),
    )

    spec: CveFeedSpec
    status: CveFeedStatus = Field(default_factory=CveFeedStatus)
