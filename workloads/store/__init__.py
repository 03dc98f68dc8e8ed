"""The versioned PostgreSQL store of CVE records, fed from Kafka.

``python -m workloads.store consume`` applies the records topic in batches, each in one
transaction together with the consumed positions; :class:`CveStore` is the query API
(``get``/``history``/``search``/``stats``) used by the RAG API.  See :mod:`versioning`
for what makes a new version and :mod:`writer` for the exactly-once argument.
"""

from workloads.store.db import StoreTarget
from workloads.store.models import CveVersion, SearchHit, Snapshot, StoreStats
from workloads.store.query import CveStore, UnknownSnapshot

__all__ = ["CveStore", "CveVersion", "SearchHit", "Snapshot", "StoreStats", "StoreTarget", "UnknownSnapshot"]
