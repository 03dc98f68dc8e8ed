"""``GET /v1/export``: the current store, or the changes since a cursor, as NDJSON, streamed.

An export holds its own connection (not one of the pool's, which answer short requests) in
one consistent snapshot (:func:`~workloads.store.change_feed.consistent`) and reads through a
server-side cursor, so memory stays constant whatever the store's size, and what it sends is
the store at one position.  Its last line is ``{"type": "end", "cursor": ..., "count": n}``:
following the change stream from that cursor misses nothing the export left out and repeats
nothing it sent.  A stream without that line was cut short.  At most
:data:`MAX_CONCURRENT` exports run at once per process; another is answered 429.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import anyio
import orjson
import psycopg
from starlette.concurrency import run_in_threadpool

from workloads.store import change_feed
from workloads.store.change_feed import Change, ChangeFilter
from workloads.store.db import StoreTarget, connect

log = logging.getLogger(__name__)
NDJSON = "application/x-ndjson"
MAX_CONCURRENT = 2
CHUNK_LINES = 200
Describe = Callable[[Change], dict[str, Any]]


class ExportSession:
    """One export: a connection, its snapshot and the lines still to send."""

    def __init__(
        self,
        target: StoreTarget,
        after: int | None,
        wanted: ChangeFilter,
        cursor: Callable[[int], str],
        describe: Describe,
    ) -> None:
        self.stack = contextlib.ExitStack()
        conn = connect(target, autocommit=True)
        self.stack.callback(conn.close)
        try:
            snapshot = self.stack.enter_context(change_feed.consistent(conn, target))
            self.lines = self._lines(snapshot, after, wanted, cursor, describe)
        except BaseException:
            self.stack.close()
            raise

    @staticmethod
    def _lines(
        conn: psycopg.Connection[Any],
        after: int | None,
        wanted: ChangeFilter,
        cursor: Callable[[int], str],
        describe: Describe,
    ) -> Generator[bytes]:
        head, count = change_feed.head(conn), 0
        if after is None:
            for current in change_feed.stream_current(conn, wanted):
                meta = {"type": "record", "cve_id": current.cve_id, "version": current.version}
                meta |= {"state": current.state, "valid_from": current.valid_from}
                yield orjson.dumps(meta)[:-1] + b',"record":' + current.record_json + b"}\n"
                count += 1
        else:
            for change in change_feed.stream_changes(conn, after, wanted):
                yield orjson.dumps({"type": "change", **describe(change), "record": change.record}) + b"\n"
                count += 1
        yield orjson.dumps({"type": "end", "cursor": cursor(max(head, after or 0)), "count": count}) + b"\n"

    def next_chunk(self) -> bytes:
        """Up to :data:`CHUNK_LINES` lines; ``b""`` once all are sent."""
        return b"".join(line for _, line in zip(range(CHUNK_LINES), self.lines, strict=False))

    def close(self) -> None:
        self.lines.close()  # closes the server-side cursor inside its transaction
        self.stack.close()


async def ndjson(session: ExportSession, release: Callable[[], None]) -> AsyncIterator[bytes]:
    """The session's lines, read in worker threads; closed (and its slot released) however the
    response ends, a client that goes away included."""
    try:
        while chunk := await run_in_threadpool(session.next_chunk):
            yield chunk
    except (psycopg.Error, OSError) as exc:
        log.warning("export ended by the store: %s: %s", type(exc).__name__, exc)
        yield orjson.dumps({"type": "error", "detail": "the store failed; the export is incomplete"}) + b"\n"
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(session.close)
        release()
