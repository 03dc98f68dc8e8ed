"""Who the client is: forwarding headers count only from trusted proxies, and guessing keys is limited.

The real app is served over a real socket as ``python -m workloads.rag`` serves it
(:func:`workloads.rag.server.config`), because forwarding headers are the server's business,
not the app's.  A client on loopback rotating ``X-Forwarded-For`` must stay in one bucket
unless loopback is configured as a trusted proxy; a client sending wrong keys must get 429
after its small budget of failures, for every request, a right key included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from devstack.served import serving
from tests.rag.conftest import Corpus
from workloads.rag.api import create_app
from workloads.rag.service import RagService

pytestmark = [pytest.mark.postgres]
QUERY = {"query": "xss"}


@contextmanager
def served(corpus: Corpus, **overrides: Any) -> Iterator[httpx.Client]:
    settings = corpus.settings(**overrides)
    app = create_app(settings, RagService(settings, embedder=corpus.embedder))
    with serving(app, settings=settings) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def _forwarded(client: httpx.Client, n: int, **headers: str) -> list[int]:
    return [
        client.post(
            "/v1/search", json=QUERY, headers={"X-Forwarded-For": f"203.0.113.{i}", **headers}
        ).status_code
        for i in range(n)
    ]


def test_forwarded_for_from_an_untrusted_peer_does_not_escape_the_rate_limit(corpus: Corpus) -> None:
    with served(corpus, rate_limit_per_minute=3) as client:
        assert _forwarded(client, 4) == [200, 200, 200, 429]


def test_forwarded_for_from_a_trusted_proxy_names_the_client(corpus: Corpus) -> None:
    with served(corpus, rate_limit_per_minute=1, trusted_proxies="127.0.0.0/8") as client:
        assert _forwarded(client, 4) == [200, 200, 200, 200]  # four clients behind the proxy
        assert _forwarded(client, 1) == [429]  # the first of them again


def test_failed_authentication_is_rate_limited_per_address(corpus: Corpus) -> None:
    with served(corpus, api_keys="right", auth_failures_per_minute=4, rate_limit_per_minute=100) as client:
        wrong = [
            client.post("/v1/search", json=QUERY, headers={"Authorization": f"Bearer guess-{i}"})
            for i in range(6)
        ]
        assert [r.status_code for r in wrong] == [401, 401, 401, 401, 429, 429]
        assert wrong[-1].json()["code"] == "rate_limited" and int(wrong[-1].headers["retry-after"]) >= 1
        assert "4 failed authentications per minute" in wrong[-1].json()["detail"]
        missing = client.post("/v1/search", json=QUERY)
        right = client.post("/v1/search", json=QUERY, headers={"Authorization": "Bearer right"})
        assert (missing.status_code, right.status_code) == (429, 429)  # a hit must not be told apart
        assert client.get("/healthz").status_code == 200
