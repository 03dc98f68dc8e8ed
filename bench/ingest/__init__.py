"""Ingest benchmark of the store (``python -m bench.ingest``); see ``__main__`` for the method."""
