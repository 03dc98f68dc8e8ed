"""Which embedding models produce vectors how wide: a registry with no runtime behind it.

The operator checks a CveIndex's ``embedding.dimension`` against its model before it creates
an index of that width; it must be able to do so without loading onnxruntime, numpy or the
weights, so this module imports nothing of the kind and the embedders read their model name
from here.
"""

from __future__ import annotations

# The model the in-process ("local") provider always runs.
LOCAL_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Output widths of common sentence-embedding models.  A model not listed is trusted to
# produce the configured dimension (the sync pod then fails loudly if it does not).
DIMENSIONS: dict[str, int] = {
    LOCAL_MODEL: 384,
    "sentence-transformers/all-MiniLM-L12-v2": 384,
    "sentence-transformers/multi-qa-MiniLM-L6-cos-v1": 384,
    "sentence-transformers/all-mpnet-base-v2": 768,
    "BAAI/bge-small-en-v1.5": 384,
    "BAAI/bge-base-en-v1.5": 768,
    "BAAI/bge-large-en-v1.5": 1024,
    "intfloat/e5-small-v2": 384,
    "intfloat/e5-base-v2": 768,
    "intfloat/e5-large-v2": 1024,
    "thenlper/gte-small": 384,
    "thenlper/gte-base": 768,
    "nomic-ai/nomic-embed-text-v1.5": 768,
}


def dimension(model: str) -> int | None:
    """The width of ``model``'s vectors, or ``None`` when the registry does not know it."""
    return DIMENSIONS.get(model)
