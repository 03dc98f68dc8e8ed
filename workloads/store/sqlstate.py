"""Whose fault a PostgreSQL error is: the record's, the database's, or the store's own code.

The applier acts on the answer: a record's fault dead-letters that record alone (the rest
of its batch commits), a database fault retries the batch with back-off (reconnecting when
the connection is gone), and anything else is a bug or a misconfiguration the process must
not paper over: it exits, and its restart resumes from the positions stored with the last
committed batch, so nothing is lost.  psycopg's exception classes cannot be used for this:
``54000 program_limit_exceeded`` (``string is too long for tsvector``) is an
``OperationalError`` like a lost connection, which made one unindexable description retry
forever.  So the decision is the SQLSTATE class (its first two characters):

======  ============================================  ==========  =============================
class   meaning                                       fault       examples
======  ============================================  ==========  =============================
``22``  data exception                                record      22P05 NUL in text, 22003 out
                                                                  of range, 22021 bad encoding
``23``  integrity constraint violation               record      23514 check, 23502 not null
        — except ``23505`` unique violation           database    another consumer inserted the
                                                                  same row first: retry
``54``  program limit exceeded                        record      54000 tsvector too long,
                                                                  54001 statement too complex
``08``  connection exception                          database    08006 connection failure
``40``  transaction rollback                          database    40001 serialization, 40P01
                                                                  deadlock
``53``  insufficient resources                        database    53100 disk full, 53200 out of
                                                                  memory, 53300 connections
``55``  object not in prerequisite state              database    55P03 lock not available
``57``  operator intervention                         database    57P01 admin shutdown, 57014
                                                                  query canceled
``58``  system error                                  database    58030 I/O error
none    no SQLSTATE: psycopg refused a value          record      NUL in a text column
        (``DataError``) before sending it
none    no SQLSTATE: the connection failed or broke   database    connection refused, reset
other   ``42`` syntax/privilege, ``XX`` internal, …   fatal       42P01 undefined table (a
                                                                  migration is missing)
======  ============================================  ==========  =============================
"""

from __future__ import annotations

from enum import Enum

import psycopg

RECORD_CLASSES = frozenset({"22", "23", "54"})
DATABASE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
RETRIED_STATES = frozenset({"23505"})


class Fault(Enum):
    RECORD = "record"
    DATABASE = "database"
    FATAL = "fatal"


def fault_of(exc: psycopg.Error) -> Fault:
    """Classify ``exc`` by its SQLSTATE (see the table above)."""
    state = exc.sqlstate
    if state is None:
        if isinstance(exc, psycopg.DataError):
            return Fault.RECORD
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return Fault.DATABASE
        return Fault.FATAL
    if state in RETRIED_STATES or state[:2] in DATABASE_CLASSES:
        return Fault.DATABASE
    if state[:2] in RECORD_CLASSES:
        return Fault.RECORD
    return Fault.FATAL


def reason_of(exc: psycopg.Error) -> str:
    """The dead-letter reason of a record PostgreSQL refused: a size limit is ``too-large``,
    a value it cannot hold (NUL, bad encoding, a number out of range) ``invalid-json`` as
    for the same faults found while decoding, anything else ``unstorable``."""
    state = exc.sqlstate or ""
    if state.startswith("54"):
        return "too-large"
    if state.startswith("22") or (not state and isinstance(exc, psycopg.DataError)):
        return "invalid-json"
    return "unstorable"


def describe(exc: psycopg.Error) -> str:
    """One line for a dead letter's detail: SQLSTATE, then the server's message."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"SQLSTATE {exc.sqlstate or '-----'} ({type(exc).__name__}): {first}"
