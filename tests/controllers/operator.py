"""The operator under test: ``python -m controllers`` as a subprocess, as its ServiceAccount.

The ServiceAccount, ClusterRole and binding come from ``bundles/operator/rbac.yaml``
unchanged; the kubeconfig carries a token from the TokenRequest API for that account, so
the operator has exactly the permissions it ships with (a missing verb shows up as a 403 in
its log, which :meth:`Operator.forbidden_since` reports).  The process can be killed and
started again at any moment, as a crashed pod would be.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import yaml
from kubernetes import client

from devstack.operator_process import COMMAND, STARTED, operator_env
from tests.support.kube import kubectl

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "bundles" / "operator"
ACCOUNT, ACCOUNT_NS = "cverag-operator", "cverag-system"


def install_rbac(kubeconfig: Path) -> None:
    """The shipped namespace, ServiceAccount, ClusterRole and binding, as they are."""
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(BUNDLE / "namespace.yaml"))
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(BUNDLE / "rbac.yaml"))


def service_account_kubeconfig(api: client.ApiClient, server: str, ca_cert: Path, dest: Path) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount (token valid for 12 h)."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=43200)
    )
    token = (
        client.CoreV1Api(api)
        .create_namespaced_service_account_token(ACCOUNT, ACCOUNT_NS, request)
        .status.token
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca_cert)}}],
        "users": [{"name": ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": ACCOUNT, "context": {"cluster": "local", "user": ACCOUNT}}],
        "current-context": ACCOUNT,
    }
    dest.write_text(yaml.safe_dump(config))
    dest.chmod(0o600)
    return dest


class Operator:
    """One operator process at a time, watching the namespaces matching ``namespaces`` (a glob);
    its output is appended to ``log``."""

    def __init__(self, kubeconfig: Path, log: Path, namespaces: str, extra_env: dict[str, str]) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = namespaces
        self.log = log
        self.extra_env = extra_env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._started_at = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "operator already running"
        env = operator_env(self.kubeconfig, self.namespaces, self.extra_env)
        self.starts += 1
        self._started_at = self.log_size()
        with self.log.open("ab") as out:
            out.write(f"----- operator start #{self.starts} -----\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                list(COMMAND), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as when a node dies under the operator's pod."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def state(self) -> str:
        """ "running (pid N)" or how the process ended, for failure reports."""
        if self.process is None:
            return "never started"
        code = self.process.poll()
        if code is None:
            return f"running (pid {self.process.pid})"
        return f"exited with code {code}" + (f" ({signal.Signals(-code).name})" if code < 0 else "")

    def dump_stacks(self) -> None:
        """Ask a running operator to print every thread's stack into its log (SIGUSR1).

        Only once it has logged its startup: until ``controllers.__main__`` has installed
        the handler, SIGUSR1 would terminate it (the signal's default action).
        """
        if self.alive() and STARTED in self.log_since(self._started_at):
            assert self.process is not None
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(1.0)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as stream:
            stream.seek(offset)
            return stream.read().decode(errors="replace")

    def forbidden_since(self, offset: int) -> list[str]:
        """Log lines where the API server refused the operator (a verb its ClusterRole lacks)."""
        return [
            line
            for line in self.log_since(offset).splitlines()
            if any(sign in line.lower() for sign in ("forbidden", "not enough permissions", '"code": 403'))
        ]
