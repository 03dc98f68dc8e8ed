"""``python -m workloads.rag``: serve the API on 0.0.0.0:$CVERAG_PORT (default 8000) with uvicorn.

All configuration is environment (see :mod:`workloads.rag.settings`).  Exit status 2 when
the configuration is invalid, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from workloads.rag.api import create_app
from workloads.rag.settings import RagSettings


def parser() -> argparse.ArgumentParser:
    """No flags: ``--help`` says where the configuration comes from, then the API serves."""
    return argparse.ArgumentParser(
        prog="python -m workloads.rag",
        description=__doc__.splitlines()[0],
        epilog="Settings: the CVERAG_* environment variables of workloads.rag.settings.",
    )


def main(argv: list[str] | None = None) -> int:
    parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = RagSettings.from_env()
    except ValueError as exc:
        print(f"rag: invalid configuration: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings), host="0.0.0.0", port=settings.port, log_level="info", proxy_headers=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
