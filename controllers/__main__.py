"""``python -m controllers``: run the operator with JSON logs, /healthz and /metrics."""

from __future__ import annotations

import os

import kopf

import controllers.main  # noqa: F401  (registers the handlers)


def main() -> None:
    kopf.configure(log_format=kopf.LogFormat.JSON, verbose=os.environ.get("CVERAG_VERBOSE") == "1")
    kopf.run(
        clusterwide=os.environ.get("CVERAG_NAMESPACE") is None,
        namespaces=[os.environ["CVERAG_NAMESPACE"]] if os.environ.get("CVERAG_NAMESPACE") else [],
        liveness_endpoint=os.environ.get("CVERAG_LIVENESS", "http://0.0.0.0:8080/healthz"),
        standalone=True,
    )


if __name__ == "__main__":
    main()
