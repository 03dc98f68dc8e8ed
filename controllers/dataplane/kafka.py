"""The workloads' admin-client wrapper that names a refused Kafka login, for the operator's clients."""

from __future__ import annotations

from workloads.common.kafka_login import ObservedAdmin

__all__ = ["ObservedAdmin"]
