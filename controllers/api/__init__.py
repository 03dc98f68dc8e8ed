"""The ``cverag.io/v1alpha1`` API: one pydantic model per custom resource.

Every field is declared once here, with its description (what ``kubectl explain`` prints),
default, bounds and cross-field CEL rules; ``controllers.api.crdgen`` turns these models
into the files under ``crds/`` and a test fails when the two drift apart.
"""

from controllers.api.feed import CveFeed
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore

GROUP = "cverag.io"
VERSION = "v1alpha1"
KINDS = (CveFeed, CveStore, CveIndex, RagEndpoint)

__all__ = ["GROUP", "KINDS", "VERSION", "CveFeed", "CveIndex", "CveStore", "RagEndpoint"]
