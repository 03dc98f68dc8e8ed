"""``python -m workloads.rag``: serve the API on $CVERAG_HOST:$CVERAG_PORT (0.0.0.0:8000) with uvicorn.

All configuration is environment (:class:`~workloads.rag.settings.RagSettings`;
``--check-config`` validates it, prints it with secrets masked and exits; how it is served,
forwarding headers and timeouts, is :mod:`workloads.rag.server`).  Exit status 2
when the configuration is invalid, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import uvicorn

from workloads.common import logs
from workloads.rag import server
from workloads.rag.api import create_app
from workloads.rag.settings import RagSettings


def parser() -> argparse.ArgumentParser:
    """Configuration is the environment; ``--help`` says so, ``--check-config`` checks it."""
    p = argparse.ArgumentParser(
        prog="python -m workloads.rag",
        description=__doc__.splitlines()[0],
        epilog="Settings: the CVERAG_* environment variables of workloads.rag.settings.RagSettings.",
    )
    p.add_argument(
        "--check-config", action="store_true", help="validate and print the configuration, then exit"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = RagSettings.from_env()
    except ValueError as exc:
        print(f"rag: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(json.dumps({"event": "config", "settings": settings.describe()}), flush=True)
        return 0
    # Once logs.configure has run (as a program), uvicorn's loggers go to the root's JSON handler.
    quiet = {"log_config": None} if logs.configured() else {}
    uvicorn.Server(server.config(create_app(settings), settings, **quiet)).run()
    return 0


if __name__ == "__main__":
    logs.configure("workloads.rag")  # as a program only: tests calling main() keep their capture
    sys.exit(main())
