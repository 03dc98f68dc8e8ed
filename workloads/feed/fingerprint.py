"""A fast path to :func:`workloads.common.records.content_hash` with the same result.

The shared hash serialises with the standard library's ``json`` (sorted keys, compact,
UTF-8); at ~15k records/s on one core that alone would cap the producer below its target.
``orjson`` produces byte-identical canonical output for JSON objects except in two places,
both visible in its output: floats Python writes in exponent form (``1e-05``, ``1e+16``;
orjson writes ``0.00001`` / ``1e16``), and integers beyond 64 bits, which ``orjson.loads``
turns into floats (printed with an exponent).  When the output shows either pattern — or
orjson refuses the input (``NaN``, a lone surrogate) — we fall back to the shared
implementation, so the hash always equals ``content_hash(json.loads(data))``.  The test
suite checks this on every shared record and on crafted edge cases.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson

from workloads.common.records import content_hash

# Numbers whose orjson and Python spellings may differ; a match inside a string only costs
# a slow-path hash, never a wrong one.
_AMBIGUOUS_NUMBER = re.compile(rb"\d[eE][-+]?\d|0\.0000")


class NotJson(ValueError):
    """The bytes are UTF-8 but not a JSON document; ``str()`` is the stdlib parser's message."""


def parse(data: bytes) -> tuple[Any, bool]:
    """Parse ``data``; the flag says whether the fast (orjson) parse can be trusted for hashing.

    Raises :class:`UnicodeDecodeError` for bytes that are not UTF-8 and :class:`NotJson` for
    text that is not JSON.  Error messages come from the standard library on purpose: they
    are the ones upstream tooling (and the shared invalid-JSON samples) use.
    """
    try:
        return orjson.loads(data), True
    except orjson.JSONDecodeError:
        pass
    text = data.decode("utf-8")
    try:
        return json.loads(text), False
    except json.JSONDecodeError as exc:
        raise NotJson(str(exc)) from exc


def fingerprint(data: bytes, doc: Any, fast: bool) -> str:
    """``content_hash`` of the document ``data`` parses to (``doc``, ``fast`` from :func:`parse`).

    Raises :class:`UnicodeEncodeError` when the document holds a lone surrogate escape
    (``"\\ud800"``): such text has no UTF-8 form, so it has no canonical bytes either.
    """
    if fast:
        canonical = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        if not _AMBIGUOUS_NUMBER.search(canonical):
            return hashlib.sha256(canonical).hexdigest()
        doc = json.loads(data.decode("utf-8"))
    return content_hash(doc)
