"""A real Helm, compiled from ``helm.sh/helm/v3`` on the Go module proxy, for the chart tests.

The version stamps are the ones Helm's Makefile sets, so ``helm version`` reports v3.22.0 and
``helm template`` renders for the Kubernetes version the control plane runs (not Helm's old
built-in default), the same capabilities ``helm install`` reads from the live API server.

    python -m devstack.helm lint bundles/helm/cverag
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack import gotools, k8s_build

HELM_VERSION = "v3.22.0"
_KUBE_MINOR = k8s_build.KUBERNETES_VERSION.split(".")[1]
_LDFLAGS = " ".join(
    [
        "-s -w",
        f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
        "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1",
        f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={_KUBE_MINOR}",
    ]
)


def binary() -> Path:
    """The helm binary, built on first use (a few minutes cold, then cached)."""
    return gotools.go_tool("helm.sh/helm/v3", HELM_VERSION, "helm.sh/helm/v3/cmd/helm", ldflags=_LDFLAGS)


def run(
    args: Sequence[str], *, kubeconfig: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run helm with its state (cache, config, plugins) kept out of the user's home directory."""
    home = binary().parent.parent / "home"
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    done = subprocess.run([str(binary()), *args], env=env, text=True, capture_output=True, check=False)
    if check and done.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr}")
    return done


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries its stderr (which names the bad value)."""


if __name__ == "__main__":  # pragma: no cover - a convenience wrapper for people
    done = run(sys.argv[1:], check=False)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    raise SystemExit(done.returncode)
