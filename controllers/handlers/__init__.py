"""The reconcilers: one handler module per kind (``feed``, ``store``, ``index``, ``rag``)
plus the parts a kind splits off (``feed_sync``, ``store_consumers``, ``rag_llm``).

Handlers parse a kopf body into the kind's model, act through ``controllers.clients``
(Kubernetes, Secrets, Kafka admin) and ``controllers.dataplane`` (the workloads' façades),
and return an :class:`~controllers.handlers.outcome.Outcome`; ``controllers.main`` turns
that into status.
"""
