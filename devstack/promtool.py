"""promtool, Prometheus' own rule checker, built from the Go module proxy (``devstack.gotools``).

Prometheus tags its Go module ``v0.<3xx>.<patch>`` for release ``3.<xx>.<patch>``; v0.316.0 is
Prometheus 3.16.0.  ``promtool check rules`` and ``promtool test rules`` run on
bundles/monitoring in tests/observability.
"""

from __future__ import annotations

from pathlib import Path

from devstack.gotools import go_tool

MODULE = "github.com/prometheus/prometheus"
VERSION = "v0.316.0"
PACKAGE = f"{MODULE}/cmd/promtool"


def promtool() -> Path:
    """The promtool binary, compiled on first use into ~/.cache/cverag/gotools/promtool-<version>."""
    return go_tool(MODULE, VERSION, PACKAGE)


if __name__ == "__main__":  # pragma: no cover - `python -m devstack.promtool`
    print(promtool())
