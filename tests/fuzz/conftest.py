"""Reports how many inputs the property tests and the fuzz target tried (``make test`` output)."""

from __future__ import annotations

import pytest

from tests.fuzz.record_path import TRIED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TRIED:
        return
    terminalreporter.section("record path: inputs tried")
    for name, count in sorted(TRIED.items()):
        terminalreporter.write_line(f"{count:>8,}  {name}")
