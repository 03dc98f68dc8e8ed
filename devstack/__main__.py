"""``python -m devstack {build,up,down,status,env} [cluster kafka postgres]``.

The same functions the pytest fixtures call, for people: ``make dev-up`` starts everything
and prints how to reach it; ``make infra-down`` stops it by pid.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from types import ModuleType

from devstack import proc

COMPONENTS = ("postgres", "kafka", "cluster")
# Built by `build` too: the llama.cpp server the LLM tests talk to (a long compile, cached).
BUILD_ALSO = ("llm",)
# Started only when named (`up node`: a real kubelet, after the cluster; `up kind`: a kind
# cluster in a Docker engine); a plain `build` builds them and a plain `down` stops them first.
OPTIONAL = ("node", "kind")
# Only built (`build image`, also by a plain `build`): the cverag image's OCI archive (devstack/image.py).
BUILD_ONLY = ("image",)


def _defaults(command: str) -> list[str]:
    if command == "build":
        return [*COMPONENTS, *BUILD_ALSO, *OPTIONAL, *BUILD_ONLY]
    if command in ("down", "status"):
        return [*OPTIONAL, *COMPONENTS]
    return list(COMPONENTS)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"devstack.{name}")


def _env_lines(name: str, info: object) -> list[str]:
    if name in ("cluster", "kind"):
        return [f"export KUBECONFIG={info.kubeconfig}"]  # type: ignore[attr-defined]
    if name == "node":
        return [f"node {info.name}: nodeSelector {info.node_selector}, tolerations {info.tolerations}"]  # type: ignore[attr-defined]
    if name == "llm":
        return [f"export CVERAG_LLM_URL={info.base_url}"]  # type: ignore[attr-defined]
    if name == "kafka":
        return [f"export CVERAG_KAFKA_BOOTSTRAP={info.bootstrap}"]  # type: ignore[attr-defined]
    return [f"export CVERAG_PG_DSN='{info.dsn}'"]  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["build", "up", "down", "status"])
    parser.add_argument(
        "components", nargs="*", help=f"any of {', '.join((*COMPONENTS, *OPTIONAL))} (default: all but node)"
    )
    args = parser.parse_args(argv)
    names = args.components or _defaults(args.command)
    known = {*COMPONENTS, *BUILD_ALSO, *OPTIONAL, *(BUILD_ONLY if args.command == "build" else ())}
    if unknown := set(names) - known:
        parser.error(f"unknown component(s): {', '.join(sorted(unknown))}")
    try:
        for name in names:
            module = _module(name)
            started = time.monotonic()
            if args.command == "build":
                module.build()
                print(f"{name}: built ({time.monotonic() - started:.1f}s)")
            elif args.command == "up":
                info, fresh = module.ensure_running()
                verb = "started" if fresh else "already running"
                print(f"{name}: {verb} ({time.monotonic() - started:.1f}s)")
                print("\n".join("  " + line for line in _env_lines(name, info)))
            elif args.command == "down":
                module.stop()
                print(f"{name}: stopped")
            else:
                print(proc.ServiceDir(name).describe())
    except proc.ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
