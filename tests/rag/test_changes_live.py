"""Live followers of the change stream (server-sent events) over real sockets: one on a served
app, one on a real ``python -m workloads.rag`` process killed and started again mid-stream
while records are written, which must resume from its cursor with nothing missed or doubled."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devstack import proc, served
from devstack.corpus import edited, write
from tests.rag.test_changes import docs_fixture, logged, settings_for, store_fixture
from workloads.common.records import DocumentKind
from workloads.index.embedding.local import LocalEmbedder
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.store.db import StoreTarget
from workloads.store.normalise import normalise

KEY = "follower-key"
__all__ = ["docs_fixture", "store_fixture"]  # the fixtures these tests share with test_changes


def events(response: httpx.Response) -> Iterator[dict[str, str]]:
    """Server-sent events as ``{field: value}`` (one-line data, as the API sends)."""
    event: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


@dataclass
class Follower:
    """An EventSource-like client in a thread: on a dropped stream it reconnects with
    ``Last-Event-ID`` set to the last id it got, as browsers do."""

    url: str
    params: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, int]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    last_id: str | None = None
    connections: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client = httpx.Client(timeout=httpx.Timeout(10, read=30))

    def halt(self) -> None:
        self.stop.set()
        self.client.close()  # ends a stream the thread is blocked on

    def run(self) -> None:
        try:
            self._follow()
        except Exception:
            if not self.stop.is_set():  # halt() closing the client ends a read with an error
                raise

    def _follow(self) -> None:
        while not self.stop.is_set():
            headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {KEY}"}
            if self.last_id:
                headers["Last-Event-ID"] = self.last_id
            try:
                with self.client.stream(
                    "GET", f"{self.url}/v1/changes", params=self.params, headers=headers
                ) as r:
                    if r.status_code != 200:
                        self.stop.wait(0.2)
                        continue
                    self.connections += 1
                    for event in events(r):
                        self._got(event)
            except httpx.HTTPError:
                self.stop.wait(0.2)  # the API is down: try again, as an EventSource does

    def _got(self, event: dict[str, str]) -> None:
        if "id" in event:
            self.last_id = event["id"]
        self.kinds.append(event.get("event", ""))
        if event.get("event") == "change":
            data = json.loads(event["data"])
            assert data["cursor"] == event["id"]
            self.seen.append((data["cve_id"], data["version"]))

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


def vendors(doc: dict[str, Any]) -> list[str]:
    """The vendors the store files ``doc`` under (what the vendor filter matches)."""
    return normalise(doc, DocumentKind.CVE_RECORD, doc["cveMetadata"]["cveId"]).vendors


def _until_seen(follower: Follower, expected: list[tuple[str, int]], what: str) -> None:
    proc.wait_until(lambda: len(follower.seen) >= len(expected), what=what, timeout=120)


def test_a_live_follower_gets_new_versions_and_only_those_its_filter_wants(
    store: StoreTarget, docs: list[dict[str, Any]], rag_embedder: LocalEmbedder
) -> None:
    settings = settings_for(store, api_keys=frozenset({KEY}))
    vendor = next(v for d in docs[20:] for v in vendors(d))
    matching = [d for d in docs[20:] if vendor in vendors(d)]
    others = [d for d in docs[20:] if vendor not in vendors(d)]
    assert len(others) >= 2
    with served.serving(create_app(settings, RagService(settings, embedder=rag_embedder))) as url:
        everything = Follower(url)
        wanted = Follower(url, params={"vendor": vendor, "since": "now"})
        threads = [everything.start(), wanted.start()]
        _until_seen(everything, logged(store), "the follower to catch up with the store")
        proc.wait_until(lambda: wanted.connections > 0, what="the filtered follower to connect", timeout=60)
        write(store, [others[0], matching[0]])
        _until_seen(everything, logged(store), "the new versions to arrive")
        _until_seen(wanted, [(matching[0]["cveMetadata"]["cveId"], 1)], "the matching version to arrive")
        before = wanted.last_id
        write(store, [others[1]])  # filtered out: the follower's cursor still moves past it
        proc.wait_until(lambda: wanted.last_id != before, what="a progress event", timeout=60)
        assert wanted.kinds[-1] == "progress"
        for follower in (everything, wanted):
            follower.halt()
        for thread in threads:
            thread.join(60)
    assert everything.seen == logged(store)
    assert wanted.seen == [(matching[0]["cveMetadata"]["cveId"], 1)]


def _start_api(env: dict[str, str], log: Path) -> Any:
    api = proc.spawn([sys.executable, "-m", "workloads.rag"], log, env=env)
    url = f"http://127.0.0.1:{env['CVERAG_PORT']}"
    proc.wait_until(
        lambda: httpx.get(f"{url}/healthz", timeout=5).status_code == 200,
        what="the RAG API",
        timeout=180,
        log=log,
        process=api,
    )
    return api


def test_a_follower_resumes_after_an_api_restart_with_nothing_missed_or_doubled(
    store: StoreTarget, docs: list[dict[str, Any]], rag_embedder: LocalEmbedder, tmp_path: Path
) -> None:
    port = proc.free_port()
    env = {
        "CVERAG_PG_DSN": store.dsn,
        "CVERAG_PG_SCHEMA": store.schema,
        "CVERAG_HOST": "127.0.0.1",
        "CVERAG_PORT": str(port),
        "CVERAG_API_KEYS": KEY,
        "CVERAG_RATE_LIMIT_PER_MINUTE": "0",
    }
    log = tmp_path / "rag.log"
    api = _start_api(env, log)
    follower = Follower(f"http://127.0.0.1:{port}")
    thread = follower.start()
    try:
        _until_seen(follower, logged(store), "the follower to read the store")
        write(store, docs[20:22])
        _until_seen(follower, logged(store), "versions written while the API runs")
        api.kill()  # mid-stream: the follower's connection drops without a goodbye
        api.wait(60)
        write(store, [edited(d, description="while the API was down") for d in docs[:3]] + docs[22:24])
        api = _start_api(env, log)
        _until_seen(follower, logged(store), "versions written while the API was down")
        write(store, [docs[24], edited(docs[0], description="after the restart")])
        _until_seen(follower, logged(store), "versions written after the restart")
    finally:
        follower.halt()
        api.kill()
        api.wait(60)
        thread.join(60)
    assert follower.connections >= 2
    assert follower.seen == logged(store)
    assert len(set(follower.seen)) == len(follower.seen) == 25 + 2 + 5 + 2
