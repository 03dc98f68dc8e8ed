"""The Python query API over a store: ``get``, ``history``, ``search``, ``stats``.

``as_of`` accepts a datetime, an ISO-8601 string or a snapshot name.  A time is matched
against the versions' source-time validity ``[valid_from, valid_to)``; a snapshot against
the store's own commit order (``seq``), so it answers "what did the store hold when the
snapshot was taken", even for versions whose source time lies in the past.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from types import TracebackType
from typing import Any

from psycopg import sql

from workloads.store import fields
from workloads.store.db import StoreTarget, connect
from workloads.store.migrate import schema_version
from workloads.store.models import CveVersion, SearchHit, StoreStats
from workloads.store.search import StoreSearch, search_query

_VERSION_COLUMNS = (
    "cve_id, version, state, kind, sha256, valid_from, valid_to, date_updated, out_of_order, changes, diff,"
    " ingested_at, source, release"
)


_FIELD_NAMES = [field.name for field in dataclasses.fields(CveVersion)]


class UnknownSnapshot(LookupError):
    """``as_of`` named a snapshot that does not exist (or was deleted)."""


class StoreReader:
    """Read access to one store; one connection, usable as a context manager."""

    def __init__(self, target: StoreTarget) -> None:
        self.target = target
        self.conn = connect(target, autocommit=True)

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def _version(self, row: tuple[Any, ...]) -> CveVersion:
        """Rows list the CveVersion fields in declaration order (``record`` last, optional)."""
        return CveVersion(**dict(zip(_FIELD_NAMES, row, strict=False)))

    def _as_of_clause(self, as_of: datetime | str) -> tuple[sql.Composable, list[Any]]:
        moment = fields.aware(as_of) if isinstance(as_of, datetime) else fields.timestamp(as_of)
        if moment is not None:
            return sql.SQL("valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)"), [moment, moment]
        row = self.conn.execute("SELECT seq FROM snapshots WHERE name = %s", [as_of]).fetchone()
        if row is None:
            raise UnknownSnapshot(f"no snapshot named {as_of!r} and not an ISO-8601 time")
        return sql.SQL("seq <= %s"), [row[0]]

    def get(self, cve_id: str, as_of: datetime | str | None = None) -> CveVersion | None:
        """The version current now, at a time, or in a snapshot; ``None`` if there was none."""
        condition, params = (sql.SQL("valid_to IS NULL"), []) if as_of is None else self._as_of_clause(as_of)
        query = sql.SQL(
            "SELECT {cols}, record FROM cve_versions WHERE cve_id = %s AND {cond} ORDER BY version DESC LIMIT 1"
        ).format(cols=sql.SQL(_VERSION_COLUMNS), cond=condition)
        row = self.conn.execute(query, [cve_id, *params]).fetchone()
        return self._version(row) if row else None

    def history(self, cve_id: str, *, with_records: bool = False) -> list[CveVersion]:
        """Every stored version, oldest first, with change summaries and field-level diffs."""
        extra = ", record" if with_records else ""
        rows = self.conn.execute(
            sql.SQL("SELECT {cols}{extra} FROM cve_versions WHERE cve_id = %s ORDER BY version").format(
                cols=sql.SQL(_VERSION_COLUMNS), extra=sql.SQL(extra)
            ),
            [cve_id],
        ).fetchall()
        return [self._version(row) for row in rows]

    def search(self, text: str | None = None, **filters: Any) -> list[SearchHit]:
        """Full-text search (ranked) with filters; see :class:`StoreSearch` for the names."""
        query, params = search_query(text, StoreSearch(**filters))
        return [SearchHit(*row) for row in self.conn.execute(query, params).fetchall()]

    def positions(self, group: str, topic: str) -> dict[int, int]:
        """Per partition, the next offset ``group`` will consume from ``topic`` (only those it
        has consumed): the offsets the store committed with its versions, where a restarted
        consumer resumes, so lag measured from them is the store's true backlog."""
        rows = self.conn.execute(
            "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = %s AND topic = %s",
            [group, topic],
        ).fetchall()
        return {int(partition): int(offset) for partition, offset in rows}

    def stats(self) -> StoreStats:
        by_state = dict(
            self.conn.execute("SELECT state, count(*) FROM cves GROUP BY state ORDER BY state").fetchall()
        )
        versions = self.conn.execute("SELECT count(*) FROM cve_versions").fetchone()
        last = self.conn.execute("SELECT max(updated_at) FROM consumer_offsets").fetchone()
        snapshots = self.conn.execute("SELECT count(*) FROM snapshots").fetchone()
        loads = self.conn.execute(
            "SELECT source, version, origin, rows, loaded_at FROM enrichment_loads"
        ).fetchall()
        return StoreStats(
            records_by_state={str(k): int(v) for k, v in by_state.items()},
            cves=sum(int(v) for v in by_state.values()),
            versions=int(versions[0]) if versions else 0,
            last_ingest_at=last[0] if last else None,
            schema_version=schema_version(self.target),
            enrichment={
                str(s): {"version": v, "origin": o, "rows": r, "loaded_at": t.isoformat()}
                for s, v, o, r, t in loads
            },
            snapshots=int(snapshots[0]) if snapshots else 0,
        )
