"""The reconcilers: one handler module per kind (``feed``, ``store``, ``index``, ``rag``)
plus the parts a kind splits off (``feed_sync``, ``store_consumers``, ``rag_llm``).

Handlers parse a kopf body into the kind's model, act through ``controllers.clients``
(Kubernetes, Secrets, Kafka admin) and ``controllers.dataplane`` (the workloads' façades),
and return an :class:`~controllers.handlers.outcome.Outcome` holding the kind's Status model;
``controllers.main`` turns that into status.  Helpers return what they observed (a condition
and the status fields it was judged from) rather than filling in a status they are handed.
"""
