"""The cverag operator: kopf handlers that turn the four ``cverag.io`` kinds into infrastructure.

Layers, each importing only from the ones below it:

* ``api`` — the pydantic models of every custom resource (the single source of truth for
  ``crds/``) and the CRD generator;
* ``machinery`` — what every controller shares: settings, conditions, events, metrics;
* ``manifests`` — pure spec-to-manifest functions, used by the handlers and by the tests;
* ``handlers`` — one module per kind; ``main`` wires them to kopf.
"""
