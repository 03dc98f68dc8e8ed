"""Full-text candidates for a natural-language question, fast on a large store.

A question is not a keyword query: requiring every word (``websearch_to_tsquery``) finds
nothing, and accepting any word turns "cross site scripting in the wp-cufon WordPress
plugin" into most of the table, every row of which must then be ranked.  So candidates are
the rows containing at least one *distinctive* word, and the ranking still counts every
word of the question (rows with more of them first, then cover density).

Which words are common comes from PostgreSQL's own statistics: ANALYZE keeps the most
common lexemes of a tsvector column with their frequencies (``pg_stats.most_common_elems``),
refreshed here every few minutes.  A word all of whose lexemes occur in more than
:data:`COMMON` of the rows is not used to find candidates.  If every word is common, the
:data:`RAREST` least common of them find the candidates (requiring all of them, as before,
lost near-exact titles whose paraphrase changed one word); before the first ANALYZE every
word counts.

Ranking is bounded (issue 13): the rows with *every* finding word come first, then at most
:data:`SAMPLE` rows with any of them, and only those are ranked, so a word in 10% of a
315,000-row store costs a few thousand rank computations, not 30,000.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from workloads.common.cache import Refreshed
from workloads.common.pacing import Clock

COMMON = 0.02
RAREST = 3
SAMPLE = 1500
_CANDIDATES = (
    ", every AS (SELECT c.cve_id, c.search, c.date_published FROM q, cves c LEFT JOIN kev_catalog k"
    " ON k.cve_id = c.cve_id WHERE c.search @@ q.every AND {where} LIMIT %s),"
    " anyof_rows AS (SELECT c.cve_id, c.search, c.date_published FROM q, cves c LEFT JOIN kev_catalog k"
    " ON k.cve_id = c.cve_id WHERE c.search @@ q.find AND {where} LIMIT %s),"
    " cand AS (SELECT * FROM every UNION SELECT * FROM anyof_rows)"
)
_RANKED = (
    " SELECT c.cve_id FROM q, cand c"
    " ORDER BY (SELECT count(*) FROM unnest(q.terms) x WHERE c.search @@ x) DESC,"
    " ts_rank_cd(c.search, q.anyof) DESC, c.date_published DESC NULLS LAST, c.cve_id LIMIT %s"
)
_TERMS = (
    "WITH t AS (SELECT array_agg(plainto_tsquery('english', w)) FILTER"
    " (WHERE plainto_tsquery('english', w)::text <> '') AS terms FROM unnest(%s::text[]) w),"
    " q AS (SELECT terms, array_to_string(ARRAY(SELECT '(' || x::text || ')' FROM unnest(terms) x), ' | ')::tsquery"
    " AS anyof, {find} AS find, {every} AS every FROM t WHERE terms IS NOT NULL)"
)
_ANY = (
    "(SELECT array_to_string(ARRAY(SELECT '(' || plainto_tsquery('english', d)::text || ')'"
    " FROM unnest(%s::text[]) d WHERE plainto_tsquery('english', d)::text <> ''), {op})::tsquery)"
)


class CommonLexemes:
    """Lexemes of ``cves.search`` more frequent than :data:`COMMON`, from ``pg_stats``."""

    def __init__(self, pool: ConnectionPool[Any], ttl: float = 300.0, clock: Clock = time.monotonic) -> None:
        self.pool = pool
        self._common = Refreshed(self._load, ttl, clock)

    def get(self) -> frozenset[str]:
        """Loaded on first use, then again when ``ttl`` seconds old."""
        return frozenset(self._common.get())

    def _load(self) -> dict[str, float]:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs FROM pg_stats s"
                " WHERE s.schemaname = current_schema() AND s.tablename = 'cves' AND s.attname = 'search'"
            ).fetchone()
        if not row or row[0] is None:
            return {}
        return {lexeme: freq for lexeme, freq in zip(row[0], row[1], strict=False) if freq > COMMON}

    def distinctive(self, words: list[str]) -> list[str]:
        """The words that find candidates: those with an uncommon lexeme, else the rarest few."""
        common = self._common.get()
        if not common:
            return words
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT w, ARRAY(SELECT lexeme FROM unnest(to_tsvector('english', w))) FROM unnest(%s::text[]) w",
                [words],
            ).fetchall()
        rows = [(w, lexemes) for w, lexemes in rows if lexemes]
        found = [w for w, lexemes in rows if not set(lexemes) <= common.keys()]
        if found:
            return found
        by_rarity = sorted(rows, key=lambda r: max(common[x] for x in r[1]))
        return [w for w, _ in by_rarity[:RAREST]]


def candidates(
    pool: ConnectionPool[Any],
    words: list[str],
    distinctive: list[str],
    where: sql.Composable,
    params: list[Any],
    n: int,
) -> list[str]:
    """Rows with every distinctive word, then a bounded sample of rows with any, ranked by
    words matched (of all the question's words), then cover density."""
    found = distinctive or words
    find, every = sql.SQL(_ANY).format(op=sql.Literal(" | ")), sql.SQL(_ANY).format(op=sql.Literal(" & "))
    statement = sql.SQL(_TERMS + _CANDIDATES + _RANKED).format(find=find, every=every, where=where)
    with pool.connection() as conn:
        rows = conn.execute(statement, [words, found, found, *params, SAMPLE, *params, SAMPLE, n]).fetchall()
    return [str(r[0]) for r in rows]
