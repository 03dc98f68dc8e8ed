"""A fast path to :func:`workloads.common.records.content_hash` with the same result.

The shared hash serialises with the standard library's ``json`` (sorted keys, compact,
UTF-8); at well under 10k records/s on one core that alone would cap the producer far below
its target.  ``orjson`` (sorted keys) produces byte-identical output for parsed JSON objects
with one exception: floats Python prints in exponent form, i.e. non-zero magnitudes below
1e-4 or from 1e16 up (``1e-05`` vs ``0.00001``, ``1e+16`` vs ``1e16``).  Integers beyond
64 bits, which ``orjson.loads`` turns into floats, fall in the second range too.  So a
document without such floats is hashed from orjson's output; one with them — or one orjson
refuses (``NaN``, a lone surrogate) — goes through the shared implementation.  A document
nested deeper than :data:`~workloads.common.records.MAX_DEPTH` is refused (:class:`TooDeep`)
before anything serialises it: past ~254 levels orjson raises, past ~1000 ``json`` does.  Either way
the hash equals ``content_hash(json.loads(data))``; the tests check it on every shared record
and on crafted edge cases.  (A regex over the output cannot tell numbers from text: hex ids
such as ``b9e3`` look like exponents, so the check walks the parsed document instead.)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

from workloads.common.records import TooDeep, content_hash, sorted_json, too_deep

__all__ = ["NotJson", "TooDeep", "fingerprint", "parse"]


class NotJson(ValueError):
    """The bytes are UTF-8 but not a JSON document; ``str()`` is the stdlib parser's message."""


def parse(data: bytes) -> tuple[Any, bool]:
    """Parse ``data``; the flag says whether the fast (orjson) parse can be trusted for hashing.

    Raises :class:`UnicodeDecodeError` for bytes that are not UTF-8, :class:`NotJson` for
    text that is not JSON and :class:`TooDeep` for nesting no parser follows.  Error messages come from the standard library on purpose: they
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
    except RecursionError as exc:  # orjson stops at 1024 levels, json near the recursion limit
        raise TooDeep("nested deeper than the JSON parser follows") from exc


def fingerprint(data: bytes, doc: Any, fast: bool) -> str:
    """``content_hash`` of the document ``data`` parses to (``doc``, ``fast`` from :func:`parse`).

    Raises :class:`TooDeep` for a document nested deeper than ``MAX_DEPTH`` and
    :class:`UnicodeEncodeError` when it holds a lone surrogate escape (``"\\ud800"``): such
    text has no UTF-8 form, so it has no canonical bytes either.
    """
    if fast:
        sorted_bytes = sorted_json(doc)  # first: it refuses deep documents the walk below would follow
        if not _has_exponent_float([doc]):
            return hashlib.sha256(sorted_bytes).hexdigest()
        doc = json.loads(data.decode("utf-8"))
    elif too_deep(doc):
        raise TooDeep("nested deeper than the depth limit")
    return content_hash(doc)


def _has_exponent_float(container: Any) -> bool:
    """Whether a dict/list holds a float Python would print with an exponent.

    Leaves are checked inline rather than by recursion: this runs for every record, and a
    function call per leaf would double its cost.
    """
    values = container.values() if type(container) is dict else container
    for value in values:
        kind = type(value)
        if kind is str:
            continue
        if kind is dict or kind is list:
            if _has_exponent_float(value):
                return True
        elif kind is float and value != 0.0 and not 1e-4 <= abs(value) < 1e16:
            return True
    return False
