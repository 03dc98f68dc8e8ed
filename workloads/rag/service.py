"""The RAG service's work, apart from HTTP: search, ask (whole or streamed), records, history.

``ask`` picks the records (the CVEs the question names, else the best hybrid hits), reads
their facts from the store, and lets the model explain them when one is configured.  With
no model, or when it fails or runs out of time, the answer is built from the records alone
and says so; either way the facts block is the store's, and the citations are the records
the answer was built from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from workloads.index.embedding import Embedder, create_embedder
from workloads.index.settings import open_backend
from workloads.rag.answers import compose
from workloads.rag.answers.select import Answerer, Selection
from workloads.rag.coverage import CoverageCache, IndexCoverage
from workloads.rag.entities import NameCatalog
from workloads.rag.llm import ChatModel, LlmUnavailable
from workloads.rag.records import CveFacts, RecordReader
from workloads.rag.retrieval import Hit, Retriever
from workloads.rag.settings import RagSettings
from workloads.rag.vectors import VectorSearch
from workloads.store import history_query as hq
from workloads.store.models import CveVersion
from workloads.store.query import StoreReader
from workloads.store.search import Filters

NO_MODEL = "none"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: list[dict[str, Any]]
    model: str
    fallback_reason: str | None = None


def open_pool(settings: RagSettings) -> ConnectionPool[Any]:
    schema = settings.index.store.schema

    def configure(conn: Any) -> None:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        conn.execute("SET TIME ZONE 'UTC'")

    return ConnectionPool(
        settings.index.store.dsn,
        min_size=1,
        max_size=settings.db_pool_size,
        configure=configure,
        kwargs={"autocommit": True, "application_name": "cverag-rag"},
        open=True,
    )


class RagService:
    def __init__(self, settings: RagSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.pool = open_pool(settings)
        self.vectors = VectorSearch(
            embedder or create_embedder(settings.index.embedding),
            lambda: open_backend(settings.index),
            size=max(1, settings.db_pool_size // 2),
        )
        self.retriever = Retriever(self.pool, self.vectors, NameCatalog(self.pool))
        self.reader = RecordReader(self.pool)
        self.answers = Answerer(self.pool, self.reader, self.retriever, settings.prompt_budget)
        self.coverage = CoverageCache(self.pool, settings.index.index_name)
        self.llm = (
            ChatModel(
                settings.llm_url,
                settings.llm_model,
                settings.llm_api_key,
                settings.llm_timeout,
                settings.llm_max_tokens,
            )
            if settings.llm_url
            else None
        )

    async def close(self) -> None:
        if self.llm is not None:
            await self.llm.close()
        self.vectors.close()
        self.pool.close()

    async def search(
        self, query: str, top_k: int, filters: Filters, as_of: datetime | None = None
    ) -> list[Hit]:
        """The best hits; with ``as_of``, of the records the store held then, as they were then."""
        return await run_in_threadpool(self.answers.search, query, top_k, filters, as_of)

    async def facts_for(self, question: str, top_k: int, as_of: datetime | None = None) -> Selection:
        """The records and findings of an answer (:class:`~workloads.rag.answers.select.Answerer`):
        at most ``top_k`` records, only as many as fit the model's context, the rest left out."""
        return await run_in_threadpool(self.answers.select, question, top_k, as_of)

    async def index_coverage(self) -> IndexCoverage | None:
        """How much of the store the vector index holds (cached: :mod:`workloads.rag.coverage`)."""
        return await run_in_threadpool(self.coverage.get)

    @staticmethod
    def citations(chosen: Selection) -> list[dict[str, Any]]:
        return compose.citations(chosen)

    def _fallback(self, question: str, chosen: Selection, reason: str) -> Answer:
        return Answer(compose.fallback(question, chosen, reason), self.citations(chosen), NO_MODEL, reason)

    async def ask(self, question: str, top_k: int, as_of: datetime | None = None) -> Answer:
        chosen = await self.facts_for(question, top_k, as_of)
        facts = chosen.facts
        if self.llm is None or not facts:
            return self._fallback(
                question, chosen, "no language model is configured" if facts else "no records"
            )
        try:
            text = await self.llm.complete(compose.messages(question, chosen))
        except LlmUnavailable as exc:
            log.warning("answering without the model: %s", exc)
            return self._fallback(question, chosen, str(exc))
        return Answer(compose.with_model(text, chosen), self.citations(chosen), self.llm.model)

    async def ask_events(
        self, question: str, top_k: int, chosen: Selection | None = None, as_of: datetime | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """``(event, data)`` pairs: ``citations``, then ``delta`` pieces, then ``done`` (the whole
        answer).  The API passes the records (``chosen``) read before the stream starts, so a
        store that fails is an error response, not a stream cut short after its 200."""
        if chosen is None:
            chosen = await self.facts_for(question, top_k, as_of)
        facts = chosen.facts
        citations = self.citations(chosen)
        yield "citations", {"citations": citations}
        if self.llm is None or not facts:
            answer = self._fallback(
                question, chosen, "no language model is configured" if facts else "no records"
            )
            yield "delta", {"text": answer.answer}
            yield "done", _done(answer)
            return
        pieces: list[str] = [compose.lead(chosen)] if chosen.findings else []
        if pieces:
            yield "delta", {"text": pieces[0]}
        try:
            async for piece in self.llm.stream(compose.messages(question, chosen)):
                pieces.append(piece)
                yield "delta", {"text": piece}
        except LlmUnavailable as exc:
            log.warning("streamed answer without the model: %s", exc)
            if "".join(pieces) == compose.lead(chosen):  # nothing from the model yet
                answer = self._fallback(question, chosen, str(exc))
                yield "delta", {"text": answer.answer.removeprefix("".join(pieces))}
                yield "done", _done(answer)
                return
            pieces.append(f"\n\n[The language model stopped: {exc}.]")
            yield "delta", {"text": pieces[-1]}
        tail = compose.tail(chosen)
        yield "delta", {"text": tail}
        yield "done", _done(Answer("".join(pieces).strip() + tail, citations, self.llm.model))

    async def record(self, cve_id: str) -> tuple[CveFacts, dict[str, Any]] | None:
        found = await run_in_threadpool(self.reader.current, [cve_id])
        return found.get(cve_id)

    async def history(self, cve_id: str) -> list[CveVersion]:
        def read() -> list[CveVersion]:
            with StoreReader(self.settings.index.store) as store:
                return store.history(cve_id)

        return await run_in_threadpool(read)

    async def version_at(self, cve_id: str, at: datetime) -> CveVersion | None:
        """The version of ``cve_id`` valid at ``at``, with its record (``None``: none yet then)."""

        def read() -> CveVersion | None:
            with self.pool.connection() as conn:
                return hq.versions_at(conn, [cve_id], at).get(cve_id)

        return await run_in_threadpool(read)

    async def diff(self, cve_id: str, from_ref: str | None, to_ref: str | None) -> hq.VersionDiff | None:
        """What changed between two versions (:func:`~workloads.store.history_query.diff_versions`)."""

        def read() -> hq.VersionDiff | None:
            with self.pool.connection() as conn:
                return hq.diff_versions(conn, cve_id, from_ref, to_ref)

        return await run_in_threadpool(read)

    def _store_answers(self) -> None:
        with self.pool.connection(timeout=5.0) as conn:
            conn.execute("SELECT 1 FROM cves LIMIT 1")

    async def ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        checks["store"] = await _check(self._store_answers)
        checks["index"] = await _check(self.vectors.count)
        return checks


def _done(answer: Answer) -> dict[str, Any]:
    return {"answer": answer.answer, "citations": answer.citations, "model": answer.model}


async def _check(probe: Callable[[], Any]) -> str:
    try:
        await run_in_threadpool(probe)
    except Exception as exc:  # readiness reports any failure as a reason, it never raises
        return f"failing: {type(exc).__name__}"
    return "ok"


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"
