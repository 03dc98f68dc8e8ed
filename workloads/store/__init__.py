"""The versioned PostgreSQL store of CVE records, fed from Kafka.

``python -m workloads.store consume`` applies the records topic in batches, each in one
transaction together with the consumed positions; :class:`StoreReader` is the query API
(``get``/``history``/``search``/``stats``) used by the RAG API.  See :mod:`versioning`
for what makes a new version and :mod:`writer` for the exactly-once argument.
"""

from workloads.store.db import StoreTarget
from workloads.store.models import CveVersion, SearchHit, Snapshot, StoreStats
from workloads.store.query import StoreReader, UnknownSnapshot

__all__ = [
    "CveVersion",
    "SearchHit",
    "Snapshot",
    "StoreReader",
    "StoreStats",
    "StoreTarget",
    "UnknownSnapshot",
]
