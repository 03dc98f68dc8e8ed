"""kopf settings for every cverag controller, applied by the startup handler.

* Progress and the last-handled spec live in annotations under ``cverag.io/``: the CRDs'
  status schemas are structural, so kopf's default ``status.kopf`` would be pruned.
* Watches time out on the server after ``server_timeout`` and on the client a little later:
  without both, a silently dropped watch connection (seen with some load balancers) stalls
  kopf forever with no error.
* The operator runs as one replica (Deployment strategy Recreate) in standalone mode; two
  replicas would need kopf peering and a ClusterKopfPeering object, which we do not ship.
"""

from __future__ import annotations

import logging

import kopf

FINALIZER = "cverag.io/finalizer"
ANNOTATION_PREFIX = "cverag.io"


def configure(settings: kopf.OperatorSettings) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.watching.connect_timeout = 30
    settings.peering.standalone = True
    # kopf turns handler log lines into Events by default; we post our own, meaningful ones.
    settings.posting.level = logging.WARNING
    settings.networking.error_backoffs = [5, 10, 30, 60]
    settings.batching.error_delays = [5, 10, 30, 60]
    # A timer caught mid-run by a deletion cannot be interrupted (handlers run in threads);
    # kopf then re-checks before releasing the finalizer, by default only after 60 s.
    settings.background.cancellation_polling = 3
