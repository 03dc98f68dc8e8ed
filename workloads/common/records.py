"""Identity and content hashing of CVE documents, shared by the feed and the store.

Two document shapes travel through cverag unchanged: CVE JSON 5.x records
(``dataType: CVE_RECORD``, from cvelistV5 or a file) and NVD API 2.0 vulnerability items
(``{"cve": {"id": ..., "lastModified": ...}}``).  The producer and the store must agree on
the id and on the content hash, or the store could not tell "same content again" from
"new version"; that agreement lives here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from enum import StrEnum
from typing import Any, TypeGuard

import orjson

# The one definition of a CVE id: ASCII digits only (``\d`` would take any script's digits,
# so an id written in fullwidth digits passed) and the whole string (``$`` matched before a trailing
# newline, so ``"CVE-2099-1008\n"`` passed).  ``\Z`` makes even ``CVE_ID.match`` a full match.
CVE_ID = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}\Z")
# A CVE id inside free text (questions, search queries), any case, not part of a longer word or
# number in any script: ``\w`` stays Unicode here so ``CVE-2099-10115`` followed by a
# fullwidth digit is not read as ``CVE-2099-10115``; the letters are spelled out because Unicode case folding would
# otherwise let look-alikes of them match.
CVE_ID_IN_TEXT = re.compile(r"(?<!\w)[Cc][Vv][Ee]-([0-9]{4})-([0-9]{4,})(?!\w)")

# How deeply containers may nest in a record (the document itself is level 1).  CVE JSON 5
# records are shallow: the deepest of the 62,928 shared records nests 14 levels, NVD items
# 10.  Past ~254 levels ``orjson.dumps`` raises and past ~1000 ``json`` does, so deeper
# records are refused (``too-deep``) before anything serialises them; 64 leaves ample room
# for ``x_`` extension fields and stays far from either parser's limit.
MAX_DEPTH = 64


def is_cve_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is exactly a CVE id (``CVE-YYYY-NNNN…``, ASCII, nothing around it)."""
    return isinstance(value, str) and CVE_ID.match(value) is not None


def too_deep(doc: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether dicts/lists in ``doc`` nest more than ``limit`` levels (``doc`` is level 1).

    Recursion stops at ``limit`` levels, so this never raises whatever the input.
    """
    kind = type(doc)
    if kind is not dict and kind is not list:
        return False
    return _deeper(doc, limit)


def _deeper(container: Any, budget: int) -> bool:
    if budget == 0:
        return True
    values = container.values() if type(container) is dict else container
    for value in values:
        kind = type(value)
        if (kind is dict or kind is list) and _deeper(value, budget - 1):
            return True
    return False


class TooDeep(ValueError):
    """A document nests deeper than :data:`MAX_DEPTH` (or than a JSON parser can follow)."""


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _orjson_depth() -> int:
    """The deepest nesting ``orjson.dumps`` serialises (254 in orjson 3.x), found by trying."""
    low, high = 1, 4096
    while low < high:
        middle = (low + high + 1) // 2
        try:
            orjson.dumps(_nested(middle))
            low = middle
        except orjson.JSONEncodeError:
            high = middle - 1
    return low


# orjson refuses documents nested deeper than its own limit, in C and for free; wrapped in
# this many one-element lists, a document reaches that limit exactly when it is deeper than
# MAX_DEPTH.  So the depth check costs nothing beside the serialisation the hash needs anyway
# (a walk in Python cost about as much as the serialisation itself).  The wrapping lists are
# built once per thread, and the document is put in the innermost one for each call.
_PADDING = _orjson_depth() - MAX_DEPTH
assert _PADDING > 0, "orjson's nesting limit is below MAX_DEPTH"
_WRAPPERS = threading.local()


def _wrappers() -> tuple[list[Any], list[Any]]:
    try:
        return _WRAPPERS.outer, _WRAPPERS.hole
    except AttributeError:
        hole: list[Any] = [None]
        outer = hole
        for _ in range(_PADDING - 1):
            outer = [outer]
        _WRAPPERS.outer, _WRAPPERS.hole = outer, hole
        return outer, hole


def sorted_json(doc: Any) -> bytes:
    """orjson's compact, sorted-key serialisation of ``doc`` (a parsed JSON document).

    Raises :class:`TooDeep` when ``doc`` nests deeper than :data:`MAX_DEPTH`.
    """
    outer, hole = _wrappers()
    hole[0] = doc
    try:
        out = orjson.dumps(outer, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        if too_deep(doc):
            raise TooDeep(f"nested deeper than {MAX_DEPTH} levels") from exc
        raise
    finally:
        hole[0] = None
    return out[_PADDING:-_PADDING]


class DocumentKind(StrEnum):
    CVE_RECORD = "cve5"
    NVD_ITEM = "nvd2"


def canonical_bytes(doc: Any) -> bytes:
    """A stable serialisation: sorted keys, no insignificant whitespace, UTF-8.

    Upstream files differ only in formatting between mirrors (pretty-printed in cvelistV5,
    compact in JSON lines), so hashing the canonical form makes identical content identical.
    """
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(doc: Any) -> str:
    """Hex sha256 of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


def document_kind(doc: Any) -> DocumentKind | None:
    """Which known shape ``doc`` has, or ``None`` when it is neither."""
    if not isinstance(doc, dict):
        return None
    if doc.get("dataType") == "CVE_RECORD" and isinstance(doc.get("cveMetadata"), dict):
        return DocumentKind.CVE_RECORD
    cve = doc.get("cve")
    if isinstance(cve, dict) and isinstance(cve.get("id"), str):
        return DocumentKind.NVD_ITEM
    return None


def cve_id(doc: Any) -> str | None:
    """The CVE id a document is about, or ``None`` when it carries none."""
    kind = document_kind(doc)
    if kind is DocumentKind.CVE_RECORD:
        value = doc["cveMetadata"].get("cveId")
    elif kind is DocumentKind.NVD_ITEM:
        value = doc["cve"].get("id")
    else:
        return None
    return value if isinstance(value, str) else None


def date_updated(doc: Any) -> str | None:
    """Upstream's own "last changed" timestamp (``dateUpdated`` or NVD ``lastModified``)."""
    kind = document_kind(doc)
    if kind is DocumentKind.CVE_RECORD:
        value = doc["cveMetadata"].get("dateUpdated")
    elif kind is DocumentKind.NVD_ITEM:
        value = doc["cve"].get("lastModified")
    else:
        return None
    return value if isinstance(value, str) else None
