"""Names fixed by the data-plane contract (docs/dataplane-contract.md) on the feed side."""

from __future__ import annotations

from enum import StrEnum

SOURCE = "cverag-source"
SHA256 = "cverag-sha256"
DATE_UPDATED = "cverag-date-updated"
RELEASE = "cverag-release"
KIND = "cverag-kind"
DLQ_REASON = "cverag-dlq-reason"
DLQ_DETAIL = "cverag-dlq-detail"
# Set on a dead-letter message whose value had to be cut to fit the broker: the original size.
DLQ_TRUNCATED = "cverag-dlq-truncated"
# ...and the SHA-256 (hex) of the original value, so a cut letter still identifies its record.
DLQ_ORIGINAL_SHA256 = "cverag-dlq-original-sha256"

DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024


class Reason(StrEnum):
    """Machine codes of the ``cverag-dlq-reason`` header."""

    INVALID_JSON = "invalid-json"
    INVALID_UTF8 = "invalid-utf8"
    NOT_A_CVE_RECORD = "not-a-cve-record"
    MISSING_ID = "missing-id"
    ID_MISMATCH = "id-mismatch"
    TOO_LARGE = "too-large"
    # nested deeper than workloads.common.records.MAX_DEPTH
    TOO_DEEP = "too-deep"
    # the store's database refused it for its content (the SQLSTATE is in the detail)
    UNSTORABLE = "unstorable"
    UNREADABLE_SOURCE = "unreadable-source"


def dlq_topic_for(topic: str) -> str:
    """The default dead-letter topic of a records topic."""
    return f"{topic}.dlq"
