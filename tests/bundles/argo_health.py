"""Run an Argo CD health check the way Argo CD does: the Lua script with the live object as the
global ``obj`` (a JSON object as nested Lua tables, arrays 1-based), on Lua 5.1 as in Argo CD's
gopher-lua, returning its ``hs.status`` and ``hs.message``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

lua51 = pytest.importorskip("lupa.lua51", reason="lupa (the dev extra) runs the Lua health checks")

HEALTH = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")


def health(script: str, obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script)
    status, message = result["status"], result["message"]
    assert status in HEALTH, f"not an Argo CD health status: {status!r}"
    return str(status), str(message or "")


def argo_tests(kind_dir: Path) -> list[tuple[Path, str, str]]:
    """(input, status, message) of every case in ``health_test.yaml`` (Argo CD's layout)."""
    spec = yaml.safe_load((kind_dir / "health_test.yaml").read_text())
    return [
        (
            kind_dir / case["inputPath"],
            case["healthStatus"]["status"],
            case["healthStatus"].get("message", ""),
        )
        for case in spec["tests"]
    ]
