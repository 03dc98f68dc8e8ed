"""Build one Go command (helm, promtool, ...) from the Go module proxy, once, into the cache.

The machines cverag is tested on have no release-binary downloads but do reach the Go module
proxy, so tools the tests run for real are compiled from their modules, the way
``devstack.k8s_build`` compiles the control plane: inside a throwaway wrapper module that
requires the tool's module (``go install pkg@version`` refuses modules with ``replace``
directives), with any local-path replace re-pointed at the published module.  The binary lands
in ``~/.cache/cverag/gotools/<name>-<version>/bin/<name>`` and is built only when missing; the
build lock keeps two concurrent test sessions from compiling it twice.

    helm = go_tool("helm.sh/helm/v3", "v3.22.0", "helm.sh/helm/v3/cmd/helm")
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from devstack import k8s_build, proc


@dataclass(frozen=True)
class _GoTool(k8s_build.GoComponent):
    """A GoComponent kept under ``gotools/`` so tools do not mix with the control plane's dirs."""

    @property
    def home(self) -> Path:
        path = proc.CACHE_ROOT / "gotools" / f"{self.name}-{self.version}"
        path.mkdir(parents=True, exist_ok=True)
        return path


def go_tool(
    module: str, version: str, package: str, *, name: str | None = None, ldflags: str = "-s -w"
) -> Path:
    """The path of ``package``'s binary from ``module@version``, compiled first if missing.

    ``name`` defaults to the package's last path element (``.../cmd/helm`` -> ``helm``);
    ``ldflags`` lets a caller stamp a version the tool reports (``-X ...=v3.22.0``).
    """
    command = name or package.rstrip("/").rsplit("/", 1)[-1]
    tool = _GoTool(name=command, module=module, version=version, commands={command: package}, ldflags=ldflags)
    k8s_build.build(tool)
    return tool.binary(command)


if __name__ == "__main__":  # pragma: no cover - `python -m devstack.gotools MODULE VERSION PACKAGE`
    print(go_tool(*sys.argv[1:4]))
