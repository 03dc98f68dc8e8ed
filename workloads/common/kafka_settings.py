"""The Kafka part of a program's settings, shared by the feed (producer) and the store (consumer).

Both ends of the records topic read the same variables, so they are declared once here and
the two programs' settings classes inherit them; the operator sets them from the CveFeed's
``spec.kafka`` and its auth Secret, whose keys are librdkafka's own names.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from workloads.common.settings import ProgramSettings, secret_value

DEFAULT_TOPIC = "cverag.records"


class KafkaClientSettings(ProgramSettings):
    """Bootstrap servers, optional TLS/SASL, and the records and dead-letter topics."""

    kafka_bootstrap: str = Field(
        default="", description="Kafka bootstrap servers (host:port, comma-separated)."
    )
    kafka_security_protocol: str | None = Field(
        default=None, description="librdkafka `security.protocol` (e.g. SASL_SSL); unset means PLAINTEXT."
    )
    kafka_sasl_mechanism: str | None = Field(
        default=None, description="librdkafka `sasl.mechanism` (e.g. PLAIN)."
    )
    kafka_sasl_username: str | None = Field(default=None, description="librdkafka `sasl.username`.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="librdkafka `sasl.password`, from the auth Secret; never logged."
    )
    topic: str = Field(default=DEFAULT_TOPIC, description="The records topic.")
    dlq_topic: str | None = Field(default=None, description="The dead-letter topic; default `<topic>.dlq`.")

    @property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.topic}.dlq"

    def kafka_security(self) -> dict[str, str]:
        """librdkafka settings for the optional TLS/SASL variables that are set."""
        values = {
            "security.protocol": self.kafka_security_protocol,
            "sasl.mechanism": self.kafka_sasl_mechanism,
            "sasl.username": self.kafka_sasl_username,
            "sasl.password": secret_value(self.kafka_sasl_password),
        }
        return {key: value for key, value in values.items() if value}
