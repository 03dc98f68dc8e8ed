"""Full-text candidates for a natural-language question, fast on a large store.

A question is not a keyword query: requiring every word (``websearch_to_tsquery``) finds
nothing, and accepting any word turns "cross site scripting in the wp-cufon WordPress
plugin" into most of the table, every row of which must then be ranked.  So candidates are
the rows containing at least one *distinctive* word, and the ranking still counts every
word of the question (rows with more of them first, then cover density).

Which words are common comes from PostgreSQL's own statistics: ANALYZE keeps the most
common lexemes of a tsvector column with their frequencies (``pg_stats.most_common_elems``),
refreshed here every few minutes.  A word all of whose lexemes occur in more than
:data:`COMMON` of the rows is not used to find candidates.  If every word is common, rows
with all of them are the candidates; before the first ANALYZE every word counts.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from workloads.common.cache import Refreshed
from workloads.common.pacing import Clock

COMMON = 0.02
_RANKED = (
    " SELECT c.cve_id FROM q, cves c LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id"
    " WHERE c.search @@ q.find AND {where}"
    " ORDER BY (SELECT count(*) FROM unnest(q.terms) x WHERE c.search @@ x) DESC,"
    " ts_rank_cd(c.search, q.anyof) DESC, c.date_published DESC NULLS LAST LIMIT %s"
)
_TERMS = (
    "WITH t AS (SELECT array_agg(plainto_tsquery('english', w)) FILTER"
    " (WHERE plainto_tsquery('english', w)::text <> '') AS terms FROM unnest(%s::text[]) w),"
    " q AS (SELECT terms, array_to_string(ARRAY(SELECT '(' || x::text || ')' FROM unnest(terms) x), ' | ')::tsquery"
    " AS anyof, {find} AS find FROM t WHERE terms IS NOT NULL)"
)


class CommonLexemes:
    """Lexemes of ``cves.search`` more frequent than :data:`COMMON`, from ``pg_stats``."""

    def __init__(self, pool: ConnectionPool[Any], ttl: float = 300.0, clock: Clock = time.monotonic) -> None:
        self.pool = pool
        self._common = Refreshed(self._load, ttl, clock)

    def get(self) -> frozenset[str]:
        """Loaded on first use, then again when ``ttl`` seconds old."""
        return self._common.get()

    def _load(self) -> frozenset[str]:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs FROM pg_stats s"
                " WHERE s.schemaname = current_schema() AND s.tablename = 'cves' AND s.attname = 'search'"
            ).fetchone()
        if not row or row[0] is None:
            return frozenset()
        return frozenset(lexeme for lexeme, freq in zip(row[0], row[1], strict=False) if freq > COMMON)

    def distinctive(self, words: list[str]) -> list[str]:
        common = self.get()
        if not common:
            return words
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT w, ARRAY(SELECT lexeme FROM unnest(to_tsvector('english', w))) FROM unnest(%s::text[]) w",
                [words],
            ).fetchall()
        return [w for w, lexemes in rows if lexemes and not set(lexemes) <= common]


def candidates(
    pool: ConnectionPool[Any],
    words: list[str],
    distinctive: list[str],
    where: sql.Composable,
    params: list[Any],
    n: int,
) -> list[str]:
    """Rows with a distinctive word (else with every word), ranked by words matched."""
    if distinctive:
        find = sql.SQL(
            "(SELECT array_to_string(ARRAY(SELECT '(' || plainto_tsquery('english', d)::text || ')'"
            " FROM unnest(%s::text[]) d WHERE plainto_tsquery('english', d)::text <> ''), ' | ')::tsquery)"
        )
        find_params: list[Any] = [distinctive]
    else:
        find, find_params = sql.SQL("plainto_tsquery('english', %s)"), [" ".join(words)]
    statement = sql.SQL(_TERMS + _RANKED).format(find=find, where=where)
    with pool.connection() as conn:
        rows = conn.execute(statement, [words, *find_params, *params, n]).fetchall()
    return [str(r[0]) for r in rows]
