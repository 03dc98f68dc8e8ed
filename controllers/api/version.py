"""The one version string, and the image reference every default is derived from.

pyproject's ``version`` is the only place a release number is written.  The installed
package's metadata carries it (the image's venv, the dev venv's editable install), so the CRD
defaults, the operator's ``workloadsImage``, ``crds/`` and the bundle all follow it, and
``tests/image/test_version.py`` fails when a hand-written reference (the bundle's Deployment)
does not.  One image holds the operator and every workload.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

IMAGE_REPOSITORY = "ghcr.io/cverag/cverag"


def _version() -> str:
    try:
        return metadata.version("cverag")
    except metadata.PackageNotFoundError:
        # A source tree that was never installed (PYTHONPATH=.): read the same field directly.
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])


VERSION = _version()
IMAGE = f"{IMAGE_REPOSITORY}:{VERSION}"
