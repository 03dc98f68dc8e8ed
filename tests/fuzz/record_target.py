"""Coverage-guided fuzz target of the record path (atheris, libFuzzer's engine for Python).

Run by ``tests/fuzz/test_fuzz_record_path.py`` for a bounded time, or by hand::

    .venv/bin/python tests/fuzz/record_target.py -max_total_time=60 /tmp/corpus tests/fuzz/corpus

An input that breaks an invariant of :func:`~tests.fuzz.record_path.through_record_path`
(or makes anything raise) is written by libFuzzer as ``crash-<sha1>``; such inputs belong
in ``tests/fuzz/corpus/``, where the test suite replays every one as a regression case.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["workloads"]):
    from tests.fuzz.record_path import through_record_path


def one_input(data: bytes) -> None:
    through_record_path(data, "atheris")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
