"""Which records an answer is built from, and the findings said before any explanation.

For a question naming CVE ids: the ids' records (as of ``as_of``, or a date the question
names), notes for what is not there (:mod:`.unknown`), and for each named CVE the families
the question asks (:mod:`.intent`): exploitation evidence, the KEV addition, a field's course
or the last update from the version log.  A question naming a vendor and a window ("which
Cisco CVEs changed this week") lists the versions written in it.  Anything else is a search,
narrowed to what the store held at ``as_of`` when one is given.  Findings are deterministic:
the model may explain them, never replace them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg_pool import ConnectionPool

from workloads.rag import prompt
from workloads.rag.answers import exploitation, intent, timeline, unknown
from workloads.rag.answers.asof import facts_at, hits_as_of
from workloads.rag.answers.intent import Intent
from workloads.rag.records import CveFacts, RecordReader
from workloads.rag.retrieval import Hit, Retriever
from workloads.rag.understand import cve_ids
from workloads.store import history_query as hq
from workloads.store.models import CveVersion
from workloads.store.search import Filters

MAX_EXPLAINED = 3  # named CVEs whose version log one answer walks
AS_OF_CANDIDATES = 100


@dataclass(frozen=True)
class Selection:
    """The records an answer is built from, the ids left out (top_k, the model's context), the
    findings said first, and the versions those findings cite."""

    facts: list[CveFacts]
    left_out: list[str]
    findings: list[str] = field(default_factory=list)
    versions: list[CveVersion] = field(default_factory=list)


@dataclass
class _Read:
    facts: list[CveFacts] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    versions: list[CveVersion] = field(default_factory=list)


class Answerer:
    def __init__(
        self, pool: ConnectionPool[Any], reader: RecordReader, retriever: Retriever, budget: int
    ) -> None:
        self.pool, self.reader, self.retriever, self.budget = pool, reader, retriever, budget

    def search(self, query: str, top_k: int, filters: Filters, as_of: datetime | None) -> list[Hit]:
        if as_of is None:
            return self.retriever.search(query, top_k, filters)
        hits = self.retriever.search(query, max(top_k * 5, AS_OF_CANDIDATES), Filters())
        with self.pool.connection() as conn:
            return hits_as_of(conn, hits, as_of, filters, top_k)

    def select(self, question: str, top_k: int, as_of: datetime | None = None) -> Selection:
        asked = intent.read(question, as_of)
        named = cve_ids(question)
        at = as_of or (hq.moment(asked.day) if asked.day and named else None)
        read = _Read()
        with self.pool.connection() as conn:
            read.notes.extend(self._malformed(conn, asked))
            if named:
                self._named(conn, named, at, read)
                self._explain(conn, asked, read, at)
        entities = self.retriever.catalog.find(question) if asked.window and not named else None
        if entities is not None and not entities.empty:
            self._changed(asked, entities.vendors, entities.products, read)
        elif not named and not read.notes:
            self._searched(question, top_k, as_of, read)
        kept, rest = prompt.fit(question, read.facts[:top_k], self.budget)
        left_out = [f.cve_id for f in rest + read.facts[top_k:]]
        return Selection(kept, left_out, read.notes, _unique(read.versions))

    def _malformed(self, conn: Any, asked: Intent) -> list[str]:
        if not asked.malformed:
            return []
        padded = [p for p in map(unknown.padded_id, asked.malformed) if p]
        rows = conn.execute("SELECT cve_id FROM cves WHERE cve_id = ANY(%s)", [padded]).fetchall()
        known = {str(r[0]) for r in rows}
        return [unknown.malformed(text, known) for text in asked.malformed]

    def _named(self, conn: Any, named: list[str], at: datetime | None, read: _Read) -> None:
        if at is None:
            found = {c: (fact, record) for c, (fact, record) in self.reader.current(named).items()}
        else:
            found = {c: (fact, record) for c, (fact, record, _) in facts_at(conn, named, at).items()}
        absent = [c for c in named if c not in found]
        chains = hq.versions(conn, absent) if absent and at is not None else {}
        published = _published(conn, list(chains))
        for cve in absent:
            chain = chains.get(cve)
            if chain and at is not None:
                read.notes.append(unknown.not_yet(cve, at, published.get(cve), chain[0]))
                read.versions.append(chain[0])
            else:
                read.notes.append(unknown.missing(cve))
        for cve in named:
            if cve in found:
                fact, record = found[cve]
                read.facts.append(fact)
                read.records[cve] = record
                if fact.state == "REJECTED":
                    read.notes.append(
                        unknown.rejected(cve, fact.fields, record, f"{cve}@v{fact.fields['version']}")
                    )

    def _explain(self, conn: Any, asked: Intent, read: _Read, at: datetime | None) -> None:
        chosen = read.facts[:MAX_EXPLAINED]
        wants_log = asked.kev_added or asked.timeline or asked.last_update or asked.topics or asked.versions
        chains = hq.versions(conn, [f.cve_id for f in chosen], with_records=True) if wants_log else {}
        loads = hq.enrichment_versions(conn) if asked.exploitation or asked.kev_added else {}
        catalog = _kev_catalog(conn, [f.cve_id for f in chosen]) if asked.kev_added else {}
        day = at.date().isoformat() if at else None
        for fact in chosen:
            chain = [v for v in chains.get(fact.cve_id, []) if at is None or v.valid_from <= at]
            if asked.exploitation:
                read.notes.extend(exploitation.lines(fact, read.records[fact.cve_id], loads, day))
            parts: list[tuple[list[str], list[CveVersion]]] = []
            if chain and asked.kev_added:
                parts.append(timeline.kev_lines(chain, catalog.get(fact.cve_id), loads.get("kev")))
            if chain and asked.versions:
                parts.append(_between(conn, fact.cve_id, *asked.versions))
            elif chain:
                parts.extend(timeline.topic_lines(chain, t) for t in asked.topics)
                if asked.timeline and not asked.topics and not asked.kev_added:
                    parts.append(timeline.changes_lines(chain))
                if asked.last_update:
                    parts.append(timeline.last_update_lines(chain))
            for lines, cited in parts:
                read.notes.extend(lines)
                read.versions.extend(cited)
            if at is not None and not parts:
                read.notes.append(_as_of_line(fact, at))

    def _changed(self, asked: Intent, vendors: list[str], products: list[str], read: _Read) -> None:
        assert asked.window is not None
        since, until = asked.window
        with self.pool.connection() as conn:
            changed = hq.changed_between(conn, since, until, vendors, products)
        names = ", ".join(dict.fromkeys(vendors + products))
        span = f"{since.date()} to {until.strftime('%Y-%m-%d %H:%M UTC')}"
        if not changed:
            read.notes.append(f"No CVE record naming {names} changed from {span}.")
            return
        cves = list(dict.fromkeys(c.cve_id for c in changed))
        read.notes.append(
            f"{len(cves)} CVE record(s) naming {names} changed from {span} ({len(changed)} version(s)):"
        )
        for c in changed[:30]:
            what = ", ".join(timeline.TOPIC_NAMES.get(x, x) for x in c.changes)
            read.notes.append(f"  {c.cve_id}@v{c.version} (valid from {timeline.when(c.valid_from)}): {what}")
        current = self.reader.current(cves)
        read.facts.extend(current[c][0] for c in cves if c in current)

    def _searched(self, question: str, top_k: int, as_of: datetime | None, read: _Read) -> None:
        hits = self.search(question, top_k, Filters(), as_of)
        if as_of is None:
            records = self.reader.current([h.cve_id for h in hits])
            read.facts.extend(records[h.cve_id][0] for h in hits if h.cve_id in records)
            return
        with self.pool.connection() as conn:
            then = facts_at(conn, [h.cve_id for h in hits], as_of)
        read.facts.extend(then[h.cve_id][0] for h in hits if h.cve_id in then)
        read.notes.append(
            f"As of {as_of.date()}: records the store held then, as they read then ({len(read.facts)} found)."
        )


def _between(conn: Any, cve_id: str, first: int, second: int) -> tuple[list[str], list[CveVersion]]:
    try:
        found = hq.diff_versions(conn, cve_id, f"v{first}", f"v{second}")
    except hq.NoSuchVersion as exc:
        return [f"{exc}."], []
    return timeline.diff_lines(found) if found else ([], [])


def _as_of_line(fact: CveFacts, at: datetime) -> str:
    valid_from = fact.fields.get("valid_from")
    when = timeline.when(valid_from) if isinstance(valid_from, datetime) else "?"
    return f"As of {at.date()} the store held {fact.cve_id}@v{fact.fields['version']} (valid from {when})."


def _published(conn: Any, cve_ids: list[str]) -> dict[str, datetime]:
    if not cve_ids:
        return {}
    rows = conn.execute(
        "SELECT cve_id, date_published FROM cves WHERE cve_id = ANY(%s)", [cve_ids]
    ).fetchall()
    return {str(r[0]): r[1] for r in rows if r[1] is not None}


def _kev_catalog(conn: Any, cve_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT cve_id, date_added, due_date FROM kev_catalog WHERE cve_id = ANY(%s)", [cve_ids]
    ).fetchall()
    return {str(r[0]): {"date_added": r[1], "due_date": r[2]} for r in rows}


def _unique(versions: list[CveVersion]) -> list[CveVersion]:
    seen: dict[tuple[str, int], CveVersion] = {}
    for v in versions:
        seen.setdefault((v.cve_id, v.version), v)
    return list(seen.values())


def now() -> datetime:
    return datetime.now(UTC)
