"""One handler module per kind (``feed``, ``store``) plus what they share.

Handlers parse a kopf body into the kind's model, act on Kafka, PostgreSQL and child
objects, and return an :class:`~controllers.handlers.outcome.Outcome`; ``controllers.main``
turns that into status.  ``dataplane`` is the only module that imports ``workloads``.
"""
