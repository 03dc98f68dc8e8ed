"""``python -m controllers``: run the operator with JSON logs, /healthz and /metrics.

A fatal signal prints every thread's stack (``faulthandler``), and ``SIGUSR1`` prints them
on demand without stopping anything: an operator that has gone quiet can be asked where
each handler thread waits (``kill -USR1 <pid>``) before anyone restarts it.  Both are set
up before the heavy imports, because SIGUSR1's default action is to terminate the process.
"""

from __future__ import annotations

import faulthandler
import signal

faulthandler.enable(all_threads=True)
faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)

import argparse  # noqa: E402  (after the handlers above, on purpose)
import os  # noqa: E402

import kopf  # noqa: E402

import controllers.main  # noqa: E402, F401  (registers the handlers)


def parser() -> argparse.ArgumentParser:
    """No flags: ``--help`` names the environment the operator reads, then it runs."""
    return argparse.ArgumentParser(
        prog="python -m controllers",
        description=__doc__.splitlines()[0],
        epilog="Settings: CVERAG_NAMESPACE (watch one namespace; unset: the whole cluster), "
        "CVERAG_LIVENESS (default http://0.0.0.0:8080/healthz), CVERAG_VERBOSE=1, and the "
        "CVERAG_* variables that controllers.main reads.",
    )


def main(argv: list[str] | None = None) -> None:
    parser().parse_args(argv)
    kopf.configure(log_format=kopf.LogFormat.JSON, verbose=os.environ.get("CVERAG_VERBOSE") == "1")
    kopf.run(
        clusterwide=os.environ.get("CVERAG_NAMESPACE") is None,
        namespaces=[os.environ["CVERAG_NAMESPACE"]] if os.environ.get("CVERAG_NAMESPACE") else [],
        liveness_endpoint=os.environ.get("CVERAG_LIVENESS", "http://0.0.0.0:8080/healthz"),
        standalone=True,
    )


if __name__ == "__main__":
    main()
