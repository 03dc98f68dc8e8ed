"""``python -m controllers``: run the operator with JSON logs, /healthz and /metrics.

A fatal signal prints every thread's stack (``faulthandler``), and ``SIGUSR1`` prints them
on demand without stopping anything: an operator that has gone quiet can be asked where
each handler thread waits (``kill -USR1 <pid>``) before anyone restarts it.  Both are set
up before the heavy imports, because SIGUSR1's default action is to terminate the process.
"""

from __future__ import annotations

import faulthandler
import signal
import sys

faulthandler.enable(all_threads=True)
faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)

# kopf imports the official client and pykube whenever they are installed, only to recognise
# their model classes (and to log in through them).  The operator uses neither (it speaks
# plain JSON through controllers.machinery.rest), and the client alone is about 34 MB of
# resident memory: with the imports blocked kopf falls back to its own aiohttp connection.
for _unused in ("kubernetes", "pykube"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]  # None blocks the import (docs: sys.modules)

import argparse  # noqa: E402  (after the handlers above, on purpose)

import kopf  # noqa: E402

import controllers.main  # noqa: E402, F401  (registers the handlers)
from controllers.machinery import config, logging_json  # noqa: E402


def parser() -> argparse.ArgumentParser:
    """No flags: ``--help`` names the environment the operator reads, then it runs."""
    return argparse.ArgumentParser(
        prog="python -m controllers",
        description=__doc__.splitlines()[0],
        epilog="Settings: the CVERAG_* variables of controllers.machinery.config.OperatorSettings "
        "(docs/configuration.md), e.g. CVERAG_NAMESPACE=a,b to watch two namespaces.",
    )


def watched(pattern: str | None) -> list[str]:
    """kopf's namespaces for CVERAG_NAMESPACE.  A list of plain names (``a,b``, what the Helm
    chart's ``watchNamespaces`` sets) becomes one entry each: kopf then serves exactly those with
    only Roles there, while a glob (``team-*, !team-x``) needs the cluster-wide namespace watch and
    stays one kopf pattern, its commas and negations intact."""
    if not pattern:
        return []
    names = [part.strip() for part in pattern.split(",") if part.strip()]
    return [pattern] if any(c in pattern for c in "!*?") else names


def main(argv: list[str] | None = None) -> None:
    parser().parse_args(argv)
    settings = config.current()
    kopf.configure(log_format=kopf.LogFormat.JSON, verbose=settings.verbose)
    logging_json.install()  # the one log shape of every cverag program
    kopf.run(
        clusterwide=settings.namespace is None,
        namespaces=watched(settings.namespace),
        liveness_endpoint=settings.liveness,
        standalone=True,
    )


if __name__ == "__main__":
    main()
