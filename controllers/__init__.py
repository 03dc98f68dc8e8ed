"""The cverag operator: kopf handlers that turn the four ``cverag.io`` kinds into infrastructure.

Layers, each importing only from the ones below it (``.importlinter`` holds the contract and
``make lint`` checks it):

* ``api`` — the pydantic models of every custom resource (the single source of truth for
  ``crds/``), the CRD generator, and how time is read and written (``times``);
* ``machinery`` — what every controller shares: kopf settings, conditions, events, metrics;
* ``dataplane`` — the only door into ``workloads``: the façades the data-plane programs
  export for the operator (releases, store facts, index backends, Kafka login errors);
* ``clients`` — the Kubernetes API (``kube``, one client for every call), Secrets, Kafka admin;
* ``manifests`` — pure spec-to-manifest functions, used by the handlers and by the tests;
* ``handlers`` — one reconciler per kind, returning a typed :class:`~controllers.handlers.outcome.Outcome`;
* ``main`` — wires the handlers to kopf and writes their outcomes into status.
"""
