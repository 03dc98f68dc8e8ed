"""The atheris fuzz target of the record path, run for a bounded time, and its corpus replayed.

``tests/fuzz/corpus/`` holds inputs that once broke the record path (found by this target
or the property tests); each is replayed as a regression case.  The fuzzer starts from them,
from real records and from the hostile builders, with a dictionary of CVE JSON tokens
(``json.dict``) so its mutations stay near the record shape.  A crash it finds fails the test
and names the input file to add to the corpus.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.record_path import TRIED, through_record_path
from tests.support import hostile

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
SECONDS = int(os.environ.get("CVERAG_FUZZ_SECONDS", "20"))


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*")), ids=lambda p: p.name)
def test_corpus_input_gets_a_verdict(path: Path) -> None:
    through_record_path(path.read_bytes(), "corpus replay")


def _seeds(shared_data: Path, into: Path) -> None:
    with gzip.open(shared_data / "cve-records.jsonl.gz") as stream:
        for number, line in enumerate(itertools.islice(stream, 0, 4000, 500)):
            (into / f"real-{number}").write_bytes(line.rstrip(b"\n"))
    (into / "deep").write_bytes(hostile.deep("CVE-2099-0001", 70))
    (into / "future").write_bytes(hostile.future("CVE-2099-0002"))
    (into / "nvd").write_bytes(b'{"cve": {"id": "CVE-2099-0004", "lastModified": "2999-01-01T00:00:00"}}')
    for path in CORPUS.glob("*"):
        (into / f"corpus-{path.name}").write_bytes(path.read_bytes())


@pytest.mark.slow
def test_fuzz_the_record_path_for_a_bounded_time(shared_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "corpus"
    work.mkdir()
    _seeds(shared_data, work)
    command = [
        sys.executable,
        str(HERE / "record_target.py"),
        f"-max_total_time={SECONDS}",
        "-max_len=65536",
        "-rss_limit_mb=2048",
        "-timeout=10",
        f"-dict={HERE / 'json.dict'}",
        f"-artifact_prefix={tmp_path}/",
        str(work),
    ]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=SECONDS + 120, check=False
    )
    runs = re.search(r"Done (\d+) runs in (\d+) second", done.stderr)
    if runs:
        TRIED["atheris: runs"] += int(runs[1])
    found = sorted(p.name for p in tmp_path.glob("crash-*")) + sorted(
        p.name for p in tmp_path.glob("timeout-*")
    )
    assert done.returncode == 0 and not found, (
        f"the fuzzer broke the record path ({found}); copy the inputs from {tmp_path} into "
        f"tests/fuzz/corpus/ and fix:\n{done.stderr[-4000:]}"
    )
    assert runs and int(runs[1]) > 1000, done.stderr[-2000:]
