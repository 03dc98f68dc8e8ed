"""Building blocks shared by all four kinds: references, conditions, resources, policies.

Models use camelCase aliases, as Kubernetes APIs do, while Python code reads snake_case.
``extra="forbid"`` mirrors the API server's strict field validation, so a body the
controller cannot understand fails loudly instead of being half-read.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from controllers.api.times import DURATION_PATTERN

# A Kubernetes resource quantity ("500m", "2Gi", 4): an int-or-string in the schema.
Quantity = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]
# Go-style duration as Kubernetes spells them ("30s", "5m", "1h30m"); read by times.seconds.
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)]
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ResourceName = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL)]


def cel(rule: str, message: str, **extra: Any) -> dict[str, Any]:
    """One ``x-kubernetes-validations`` entry: a CEL rule and the message users see."""
    return {"rule": rule, "message": message, **extra}


def immutable(what: str) -> dict[str, Any]:
    """Schema extra that forbids changing a field once the resource exists."""
    return {"x-kubernetes-validations": [cel("self == oldSelf", f"{what} is immutable")]}


class CrdModel(BaseModel):
    """Base of every model in the API: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


class DeletionPolicy(StrEnum):
    """What happens to external state (topics, schemas, indexes) when a resource is deleted."""

    RETAIN = "Retain"
    DELETE = "Delete"


class SecretKeyRef(CrdModel):
    """A key of a Secret in the resource's namespace: the only way cverag takes credentials."""

    name: ResourceName
    """Name of the Secret."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """Key inside the Secret whose value is used."""


class NetworkPolicies(CrdModel):
    """Which traffic the resource's pods may send and receive (controllers/manifests/network.py).

    Enforced only by a CNI that implements NetworkPolicy (Calico, Cilium, ...)."""

    enabled: bool = True
    """Make a NetworkPolicy per workload admitting only its known peers; false opts out (policies
    managed elsewhere, or a cluster whose CNI enforces none)."""
    monitoring_namespaces: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(
        default_factory=lambda: ["monitoring"], max_length=16
    )
    """Namespaces (by their kubernetes.io/metadata.name) allowed to scrape the pods' /metrics."""
    istio: bool = False
    """Also make Istio objects for the same edges: PeerAuthentication (mTLS STRICT, the metrics
    port PERMISSIVE for Prometheus) and AuthorizationPolicies; needs Istio's CRDs."""


class SecretRef(CrdModel):
    """A whole Secret in the resource's namespace, whose documented keys are read."""

    name: ResourceName
    """Name of the Secret."""


class LocalRef(CrdModel):
    """A reference to another cverag resource in the same namespace."""

    name: ResourceName
    """Name of the referenced resource."""


class Resources(CrdModel):
    """Compute resources of a container, as in a Pod spec."""

    requests: dict[str, Quantity] | None = None
    """Minimum resources, e.g. {cpu: 250m, memory: 256Mi}."""
    limits: dict[str, Quantity] | None = None
    """Maximum resources, e.g. {memory: 1Gi}."""


class Toleration(CrdModel):
    """A Pod toleration (lets pods run on tainted nodes such as GPU pools)."""

    key: str | None = None
    """Taint key the toleration applies to; empty with operator Exists matches every key."""
    operator: Annotated[str, Field(pattern="^(Exists|Equal)$")] = "Equal"
    """Exists or Equal."""
    value: str | None = None
    """Taint value to match when operator is Equal."""
    effect: Annotated[str, Field(pattern="^(NoSchedule|PreferNoSchedule|NoExecute)?$")] | None = None
    """Taint effect to match; empty matches all effects."""
    toleration_seconds: int | None = None
    """For NoExecute: how long the pod stays bound after the taint appears."""


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CrdModel):
    """The metav1.Condition shape, so kubectl, kstatus and Argo CD read cverag's status."""

    model_config = ConfigDict(extra="ignore")

    type: Annotated[str, Field(max_length=316, pattern=r"^[A-Za-z][A-Za-z0-9]*$")]
    """Condition type, e.g. Ready, Reconciling, Stalled, TopicReady."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[str, Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")]
    """A CamelCase word saying why the condition has its status, e.g. KafkaUnreachable."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """A sentence for people, with what to do about it."""
    last_transition_time: datetime
    """When the status last changed (not when the condition was last written)."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The metadata.generation the condition was computed from."""


class BaseStatus(CrdModel):
    """Status fields common to every kind."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = None
    """The metadata.generation last reconciled."""
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Current conditions: Ready, Reconciling, Stalled and kind-specific ones."""


class ObjectMeta(BaseModel):
    """The parts of metadata the controllers read."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    namespace: str = ""
    uid: str = ""
    generation: int = 0


def column(
    name: str, path: str, type_: str = "string", description: str = "", priority: int = 0
) -> dict[str, Any]:
    """One ``additionalPrinterColumns`` entry for ``kubectl get``."""
    col: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path}
    if description:
        col["description"] = description
    if priority:
        col["priority"] = priority
    return col


READY_COLUMNS = (
    column("Ready", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition"),
    column("Reason", '.status.conditions[?(@.type=="Ready")].reason', description="Why it is (not) ready"),
)
AGE_COLUMN = column("Age", ".metadata.creationTimestamp", "date")


class Kind(BaseModel):
    """A whole custom resource: metadata, spec and status, plus what the CRD needs to know.

    Handlers parse the body they receive into a ``Kind`` subclass (``from_body``) and work on
    typed fields from there on.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    kind: ClassVar[str]
    plural: ClassVar[str]
    short_names: ClassVar[tuple[str, ...]]
    extra_columns: ClassVar[tuple[dict[str, Any], ...]] = ()

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @classmethod
    def printer_columns(cls) -> list[dict[str, Any]]:
        return [*READY_COLUMNS, *cls.extra_columns, AGE_COLUMN]

    @classmethod
    def from_body(cls, body: Any) -> Self:
        """Parse a kopf body (or any mapping) into the model: typed from here on, status included."""
        return cls.model_validate(
            {
                "metadata": body.get("metadata", {}),
                "spec": body.get("spec", {}),
                "status": body.get("status") or {},
            }
        )
