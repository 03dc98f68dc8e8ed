"""The operator's one door into ``workloads``.

The data-plane programs already know how to list a source's releases, read a store, build
an index and tell a wrong Kafka password from a dead broker; the operator asks them through
these modules instead of re-implementing any.  Nothing else in ``controllers`` imports
``workloads`` (an import-linter contract in ``make lint``).
"""
