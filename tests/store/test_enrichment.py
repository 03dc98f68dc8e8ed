"""KEV catalog and EPSS loaders, from a file and from a URL, through the command line."""

from __future__ import annotations

import csv
import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.store.helpers import store_cli
from workloads.store import StoreReader, StoreTarget
from workloads.store.db import connect

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def served(shared_data: Path) -> Iterator[str]:
    """The shared data directory over HTTP on a free local port (for the URL code path)."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(shared_data))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_load_kev_from_file(postgres: Any, store: StoreTarget, shared_data: Path) -> None:
    catalog = json.loads((shared_data / "kev.json").read_text())
    summary = store_cli(postgres.dsn, store.schema, "load-kev", str(shared_data / "kev.json"))
    assert summary["_exit"] == 0 and summary["rows"] == len(catalog["vulnerabilities"]) == catalog["count"]
    assert summary["version"] == catalog["catalogVersion"]
    sample = catalog["vulnerabilities"][::97]
    with connect(store) as conn:
        rows = dict(
            conn.execute(
                "SELECT cve_id, date_added::text FROM kev_catalog WHERE cve_id = ANY(%s)",
                [[v["cveID"] for v in sample]],
            ).fetchall()
        )
    assert rows == {v["cveID"]: v["dateAdded"] for v in sample}
    again = store_cli(postgres.dsn, store.schema, "load-kev", str(shared_data / "kev.json"))
    assert again["rows"] == summary["rows"], "a reload replaces, it does not add"
    with StoreReader(store) as query:
        assert query.stats().enrichment["kev"]["rows"] == summary["rows"]


def test_load_epss_from_url(postgres: Any, store: StoreTarget, shared_data: Path, served: str) -> None:
    name = "epss-scores-2026-08-16.csv.gz"
    with gzip.open(shared_data / name, "rt") as stream:
        rows = [r for r in csv.reader(stream, delimiter=";") if r and not r[0].startswith("#")][1:]
    summary = store_cli(postgres.dsn, store.schema, "load-epss", f"{served}/{name}")
    assert summary["_exit"] == 0, summary["_stderr"]
    assert summary["rows"] == len(rows) == 360_142 and summary["version"] == "2026-08-16"
    sample = rows[::5003]
    with connect(store) as conn:
        stored = {
            cve: (epss, pct)
            for cve, epss, pct in conn.execute(
                "SELECT cve_id, epss, percentile FROM epss_scores WHERE cve_id = ANY(%s)",
                [[r[0] for r in sample]],
            )
        }
    assert stored == {r[0]: (float(r[1]), float(r[2])) for r in sample}


def test_not_a_catalog_is_a_clear_error(postgres: Any, store: StoreTarget, tmp_path: Path) -> None:
    bogus = tmp_path / "kev.json"
    bogus.write_text('{"hello": "world"}')
    summary = store_cli(postgres.dsn, store.schema, "load-kev", str(bogus))
    assert summary["_exit"] == 2 and "not a KEV catalog" in summary["error"]
    bad_csv = tmp_path / "epss.csv"
    bad_csv.write_text("id,score\nCVE-1,0.1\n")
    summary = store_cli(postgres.dsn, store.schema, "load-epss", str(bad_csv))
    assert summary["_exit"] == 2 and "expected header" in summary["error"]
