"""The file source over JSON lines (plain/gzip), zips, directories and URLs."""

from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path

import pytest

from tests.fakes.cvelist_layout import baseline_zip, record_path, shared_records
from tests.fakes.server import FakeServer, Request, Response
from workloads.feed.fetch import Fetcher, RetryPolicy
from workloads.feed.files import FileSource
from workloads.feed.model import RawRecord, SourceFault, SourceUnavailable


def _lines(shared_data: Path, count: int) -> list[bytes]:
    return [data for _, data in shared_records(shared_data / "cve-records.jsonl.gz", count)]


def _read(location: str | Path, fetcher: Fetcher | None = None) -> tuple[list[RawRecord], list[SourceFault]]:
    items = list(FileSource(str(location), fetcher).items())
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, SourceFault)]


def test_the_shared_jsonl_gz_streams_every_record_unchanged(shared_data: Path) -> None:
    records, faults = _read(shared_data / "cve-records.jsonl.gz")
    assert faults == []
    assert len(records) == 62_928
    assert records[0].data == _lines(shared_data, 1)[0]
    assert {r.release for r in records} == {"file:cve-records.jsonl.gz"}


def test_plain_jsonl_with_blank_lines_and_no_final_newline(tmp_path: Path, shared_data: Path) -> None:
    lines = _lines(shared_data, 5)
    path = tmp_path / "records.jsonl"
    path.write_bytes(b"\n".join([lines[0], b"", *lines[1:]]))
    records, faults = _read(path)
    assert [r.data for r in records] == lines
    assert faults == []


def test_truncated_gzip_keeps_every_complete_line_and_reports_the_rest(
    tmp_path: Path, shared_data: Path
) -> None:
    whole = gzip.compress(b"\n".join(_lines(shared_data, 2000)) + b"\n")
    cut = whole[: len(whole) * 2 // 3]
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut)
    survived = zlib.decompressobj(wbits=31).decompress(cut)
    complete = survived.split(b"\n")[:-1]
    records, faults = _read(path)
    assert [r.data for r in records] == complete
    assert len(faults) == 1
    assert faults[0].data == survived.split(b"\n")[-1]
    assert f"after line {len(complete)}" in faults[0].detail


def test_directory_in_cvelist_layout_skips_delta_files(tmp_path: Path, shared_data: Path) -> None:
    records = list(shared_records(shared_data / "cve-records.jsonl.gz", 30))
    for cve_id, data in records:
        target = tmp_path / record_path(cve_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (tmp_path / "cves" / "delta.json").write_text("{}")
    (tmp_path / "cves" / "deltaLog.json").write_text("[]")
    got, faults = _read(tmp_path)
    assert faults == []
    assert sorted((r.filename_id, r.data) for r in got) == sorted(records)


@pytest.mark.parametrize("nested", [True, False])
def test_zip_nested_or_direct(tmp_path: Path, shared_data: Path, nested: bool) -> None:
    records = list(shared_records(shared_data / "cve-records.jsonl.gz", 50))
    path = tmp_path / "2024-01-16_all_CVEs_at_midnight.zip"
    baseline_zip(path, records, nested=nested)
    source = FileSource(str(path))
    got = list(source.items())
    assert sorted((r.filename_id, r.data) for r in got if isinstance(r, RawRecord)) == sorted(records)
    assert source.total() == 50


def test_corrupt_zip_member_is_a_fault_and_the_others_still_come(tmp_path: Path, shared_data: Path) -> None:
    records = list(shared_records(shared_data / "cve-records.jsonl.gz", 3))
    path = tmp_path / "records.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for cve_id, data in records:
            archive.writestr(record_path(cve_id), data)
    with zipfile.ZipFile(path) as archive:
        second = archive.infolist()[1]
    raw = bytearray(path.read_bytes())
    offset = second.header_offset + 30 + len(second.filename) + 100
    raw[offset : offset + 4] = b"####"  # corrupt the second member's data: its CRC no longer matches
    path.write_bytes(bytes(raw))
    got, faults = _read(path)
    assert [r.filename_id for r in got] == [records[0][0], records[2][0]]
    assert len(faults) == 1 and records[1][0] in faults[0].origin


def test_missing_path_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="does not exist"):
        _read(tmp_path / "nope.jsonl")


class _FileServer(FakeServer):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def route(self, request: Request) -> Response:
        return Response(200, {"Content-Type": "application/octet-stream"}, file=self.path)


def test_url_download_retries_a_truncated_transfer(tmp_path: Path, shared_data: Path) -> None:
    lines = _lines(shared_data, 200)
    served = tmp_path / "served.jsonl.gz"
    served.write_bytes(gzip.compress(b"\n".join(lines)))
    with _FileServer(served) as server:
        server.faults.truncate("api", times=2, fraction=0.4)
        records, faults = _read(
            f"{server.base_url}/x/records.jsonl.gz", Fetcher(policy=RetryPolicy(base_delay=0.01))
        )
        assert len(server.requests) == 3
    assert [r.data for r in records] == lines
    assert faults == []
    assert {r.release for r in records} == {"file:records.jsonl.gz"}
