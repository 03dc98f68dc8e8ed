"""The operator's own settings: one ``pydantic-settings`` class, variables ``CVERAG_*``.

These are the variables of ``python -m controllers`` itself (its Deployment sets them), not
the data plane's: those are the workloads' settings classes, which the operator reaches only
through :mod:`controllers.dataplane.contract`.  docs/configuration.md lists both, generated
from the classes.  :func:`current` reads the environment once per process; kopf needs the
tick when the handlers are registered, at import.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from controllers.api.version import IMAGE


class OperatorSettings(BaseSettings):
    """How often the operator looks, where it serves its probes and metrics, what it watches."""

    model_config = SettingsConfigDict(
        env_prefix="CVERAG_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    namespace: str | None = Field(
        default=None,
        description="Watch only these namespaces: names (`a,b`, served with Roles only) or a kopf "
        "glob pattern (`team-*, !team-x`, needs the namespace watch); unset, the whole cluster.",
    )
    tick_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often every object is re-examined; a feed's own `pollInterval` decides "
        "when its source is asked.",
    )
    sync_retry_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Wait before retrying a failed sync Job; doubles per failure, at most an hour.",
    )
    metrics_port: int = Field(
        default=9090, ge=0, description="Port of the Prometheus `/metrics` endpoint; 0 disables it."
    )
    liveness: str = Field(
        default="http://0.0.0.0:8080/healthz", description="Where kopf serves its liveness probe."
    )
    verbose: bool = Field(default=False, description="Debug logging (kopf's verbose mode).")
    workloads_image: str = Field(
        default=IMAGE,
        description="Image of the store's pods (migration, consumers, retention); a CveFeed, "
        "CveIndex or RagEndpoint names its own.",
    )

    @property
    def tick_backoff(self) -> float:
        """A timer that raised runs again after this many seconds (kopf's default would be 60)."""
        return min(60.0, max(2.0, 2 * self.tick_seconds))


@cache
def current() -> OperatorSettings:
    return OperatorSettings()
