"""The change stream and the export, on a store of their own (they write to it).

Every expectation is read from the store itself (the version log in ``seq`` order, the
current rows), so the tests check that the API hands out exactly what the store holds:
each version once, in commit order, whatever the page size, the filters or the restarts.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from devstack import proc, scratch
from devstack.corpus import edited, sample, write
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.settings import IndexSettings
from workloads.rag import changes_cursor
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.rag.settings import RagSettings
from workloads.store.db import StoreTarget, connect, lock_name
from workloads.store.migrate import migrate

EVERY = 2500  # 26 real records


@pytest.fixture(scope="module", name="docs")
def docs_fixture(shared_data: Path) -> list[dict[str, Any]]:
    return sample(shared_data, EVERY)


@pytest.fixture(name="store")
def store_fixture(postgres: Any, docs: list[dict[str, Any]]) -> Iterator[StoreTarget]:
    target = StoreTarget(postgres.dsn, f"changes_{uuid.uuid4().hex[:10]}")
    migrate(target)
    write(target, docs[:20])
    write(target, [edited(d, description=f"edited {n}") for n, d in enumerate(docs[:5])])
    yield target
    scratch.drop_schema(postgres.dsn, target.schema)


def settings_for(target: StoreTarget, **overrides: Any) -> RagSettings:
    index = IndexSettings.for_store(target, table="cve_embeddings")
    return RagSettings.for_index(index, **{"rate_limit_per_minute": 0, **overrides})


@pytest.fixture
def client(store: StoreTarget, rag_embedder: LocalEmbedder) -> Iterator[TestClient]:
    settings = settings_for(store)
    with TestClient(create_app(settings, RagService(settings, embedder=rag_embedder))) as c:
        yield c


def logged(target: StoreTarget) -> list[tuple[str, int]]:
    """Every version the store holds, in commit order: what a follower must see."""
    with connect(target, autocommit=True) as conn:
        rows = conn.execute("SELECT cve_id, version FROM cve_versions ORDER BY seq").fetchall()
    return [(str(c), int(v)) for c, v in rows]


def read_all(client: TestClient, limit: int, **params: Any) -> tuple[list[tuple[str, int]], str]:
    seen: list[tuple[str, int]] = []
    cursor: str | None = None
    while True:
        body = client.get(
            "/v1/changes", params={"limit": limit, **params, **({"since": cursor} if cursor else {})}
        )
        assert body.status_code == 200, body.text
        page = body.json()
        seen += [(c["cve_id"], c["version"]) for c in page["changes"]]
        assert len(page["changes"]) <= limit
        cursor = page["cursor"]
        if not page["more"]:
            return seen, cursor


@pytest.mark.parametrize("limit", [1, 7, 1000])
def test_pages_hand_out_every_version_once_in_commit_order(
    client: TestClient, store: StoreTarget, limit: int
) -> None:
    seen, cursor = read_all(client, limit)
    assert seen == logged(store)
    assert len(seen) == 25 and len(set(seen)) == 25
    again = client.get("/v1/changes", params={"since": cursor}).json()
    assert again == {"changes": [], "cursor": cursor, "more": False}


def test_a_page_says_what_changed(client: TestClient, store: StoreTarget, docs: list[dict[str, Any]]) -> None:
    changes = client.get("/v1/changes", params={"limit": 1000}).json()["changes"]
    first = docs[0]["cveMetadata"]["cveId"]
    mine = [c for c in changes if c["cve_id"] == first]
    assert [(c["version"], c["changes"][0]) for c in mine] == [(1, "created"), (2, "description")]
    assert mine[0]["cursor"] != mine[1]["cursor"]
    after_first = client.get("/v1/changes", params={"since": mine[0]["cursor"], "limit": 1000}).json()[
        "changes"
    ]
    assert after_first == changes[changes.index(mine[0]) + 1 :]


def _expected(target: StoreTarget, where: str, params: list[Any]) -> list[tuple[str, int]]:
    """Versions of CVEs whose current row matches; the edits here change none of the filtered fields."""
    with connect(target, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT v.cve_id, v.version FROM cve_versions v JOIN cves c USING (cve_id)"
            " LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id WHERE " + where + " ORDER BY v.seq",
            params,
        ).fetchall()
    return [(str(c), int(v)) for c, v in rows]


def test_filters_select_by_vendor_product_severity_and_kev(client: TestClient, store: StoreTarget) -> None:
    with connect(store, autocommit=True) as conn:
        vendor, product = conn.execute(
            "SELECT vendors[1], products[1] FROM cves WHERE cardinality(vendors) > 0 ORDER BY cve_id LIMIT 1"
        ).fetchone() or (None, None)
    assert vendor and product
    cases = [
        ({"vendor": vendor.upper()}, "c.vendors @> ARRAY[%s]", [vendor]),
        ({"product": product}, "c.products @> ARRAY[%s]", [product]),
        ({"severity": "high"}, "c.base_severity IN ('HIGH', 'CRITICAL')", []),
        ({"kev": "false"}, "c.kev_date_added IS NULL AND k.cve_id IS NULL", []),
    ]
    for params, where, values in cases:
        expected = _expected(store, where, values)
        assert expected, params
        assert read_all(client, 3, **params)[0] == expected, params
    assert read_all(client, 3, severity="high", kev="false")[0] == _expected(
        store, "c.base_severity IN ('HIGH', 'CRITICAL') AND c.kev_date_added IS NULL AND k.cve_id IS NULL", []
    )


def test_bad_cursors_are_400_problems(client: TestClient, store: StoreTarget) -> None:
    other = changes_cursor.encode("some_other_store", 3)
    good = changes_cursor.encode(store.schema, 3)
    for bad in ["nonsense", "c1.!!!", good[:-2], good[:-1] + ("A" if good[-1] != "A" else "B"), other]:
        for path in ("/v1/changes", "/v1/export"):
            answer = client.get(path, params={"since": bad})
            assert answer.status_code == 400, (bad, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "invalid_cursor"
    assert client.get("/v1/changes", params={"since": good}).status_code == 200
    assert client.get("/v1/changes", params={"limit": 0}).json()["code"] == "invalid_request"
    assert client.get("/v1/changes", params={"severity": "dire"}).json()["code"] == "invalid_request"


def test_cursors_are_stable_and_opaque(store: StoreTarget) -> None:
    assert changes_cursor.encode(store.schema, 42) == changes_cursor.encode(store.schema, 42)
    assert changes_cursor.decode(store.schema, changes_cursor.encode(store.schema, 42)) == 42
    assert "42" not in changes_cursor.encode(store.schema, 42).removeprefix(changes_cursor.PREFIX)


def test_since_now_follows_only_what_comes_next(
    client: TestClient, store: StoreTarget, docs: list[dict[str, Any]]
) -> None:
    now = client.get("/v1/changes", params={"since": "now"}).json()
    assert now["changes"] == [] and not now["more"]
    write(store, docs[20:22])
    later = client.get("/v1/changes", params={"since": now["cursor"]}).json()
    assert [(c["cve_id"], c["version"]) for c in later["changes"]] == logged(store)[-2:]


def test_a_reader_waits_for_batches_in_flight(
    client: TestClient, store: StoreTarget, docs: list[dict[str, Any]]
) -> None:
    """A batch that drew a lower seq but commits after a later one is not skipped: the reader
    waits for it (it holds the seq lock shared, as every batch does) and hands out both, in order."""
    start = client.get("/v1/changes", params={"since": "now"}).json()["cursor"]
    slow = connect(store)  # a batch transaction that stays open
    slow.execute("SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))", [lock_name(store, "seq")])
    doc = docs[21]
    slow.execute(
        "INSERT INTO cve_versions (cve_id, version, sha256, kind, state, valid_from, changes, record)"
        " VALUES (%s, 1, 'x', 'cve5', 'PUBLISHED', now(), ARRAY['created'], %s)",
        [doc["cveMetadata"]["cveId"], orjson.dumps(doc).decode()],
    )
    write(store, [docs[22]])  # commits now, with a higher seq
    answer: dict[str, Any] = {}
    reader = threading.Thread(
        target=lambda: answer.update(client.get("/v1/changes", params={"since": start}).json())
    )
    reader.start()
    with connect(store, autocommit=True) as watcher:

        def reader_waits() -> bool:
            row = watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = 'ExclusiveLock'"
            ).fetchone()
            return bool(row and row[0])

        proc.wait_until(reader_waits, what="the reader to wait for the open batch", timeout=60)
    assert not answer
    slow.commit()
    slow.close()
    reader.join(60)
    assert [(c["cve_id"], c["version"]) for c in answer["changes"]] == [
        (docs[21]["cveMetadata"]["cveId"], 1),
        (docs[22]["cveMetadata"]["cveId"], 1),
    ]


def ndjson(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    with client.stream("GET", "/v1/export", params=params) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in answer.iter_lines() if line]


def test_export_is_the_current_store_then_a_cursor_to_follow(
    client: TestClient, store: StoreTarget, docs: list[dict[str, Any]]
) -> None:
    lines = ndjson(client)
    records, end = lines[:-1], lines[-1]
    with connect(store, autocommit=True) as conn:
        current = conn.execute("SELECT cve_id, version, record FROM cve_current ORDER BY cve_id").fetchall()
    assert [(r["type"], r["cve_id"], r["version"], r["record"]) for r in records] == [
        ("record", c, v, rec) for c, v, rec in current
    ]
    assert end == {"type": "end", "cursor": end["cursor"], "count": len(current)}
    write(store, [edited(docs[7], description="after the export"), docs[23]])
    follow, _ = read_all(client, 100, since=end["cursor"])
    assert follow == logged(store)[-2:]
    changes = ndjson(client, since=end["cursor"])
    assert [(c["type"], c["cve_id"], c["version"]) for c in changes[:-1]] == [
        ("change", c, v) for c, v in follow
    ]
    assert changes[0]["record"]["containers"]["cna"]["descriptions"][0]["value"] == "after the export"
    assert changes[-1]["type"] == "end" and changes[-1]["count"] == 2
    assert client.get("/v1/changes", params={"since": changes[-1]["cursor"]}).json()["changes"] == []


def test_export_filters_like_search(client: TestClient, store: StoreTarget) -> None:
    lines = ndjson(client, severity="critical")
    expected = _expected(store, "c.base_severity = 'CRITICAL' AND v.version = c.version", [])
    assert expected
    assert sorted((r["cve_id"], r["version"]) for r in lines[:-1]) == sorted(expected)


def test_changes_need_the_key_when_keys_are_set(store: StoreTarget, rag_embedder: LocalEmbedder) -> None:
    settings = settings_for(store, api_keys=frozenset({"k1"}))
    with TestClient(create_app(settings, RagService(settings, embedder=rag_embedder))) as c:
        for path in ("/v1/changes", "/v1/export"):
            assert c.get(path).json()["code"] == "missing_api_key"
            assert c.get(path, headers={"Authorization": "Bearer nope"}).json()["code"] == "invalid_api_key"
        assert c.get("/v1/changes", headers={"Authorization": "Bearer k1"}).status_code == 200
