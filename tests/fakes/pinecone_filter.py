"""Pinecone's metadata filter semantics, evaluated in Python for the fake server.

Written from Pinecone's documentation independently of the product's SQL translation
(workloads/index/backends/filters.py), so a test comparing the two backends compares two
readings of the same documented language rather than one implementation with itself.
A list-valued field matches ``$eq``/``$in`` when any element does, and ``$ne``/``$nin``
when none does; comparisons need numbers; a missing field fails everything except ``$ne``,
``$nin`` and ``$exists: false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING = object()


def matches(filter: Mapping[str, Any] | None, metadata: Mapping[str, Any]) -> bool:
    if not filter:
        return True
    for key, condition in filter.items():
        if key == "$and":
            ok = all(matches(f, metadata) for f in condition)
        elif key == "$or":
            ok = any(matches(f, metadata) for f in condition)
        elif isinstance(condition, Mapping):
            ok = all(_test(metadata.get(key, _MISSING), op, arg) for op, arg in condition.items())
        else:
            ok = _test(metadata.get(key, _MISSING), "$eq", condition)
        if not ok:
            return False
    return True


def _values(value: Any) -> list[Any]:
    if value is _MISSING:
        return []
    return list(value) if isinstance(value, list) else [value]


def _same(a: Any, b: Any) -> bool:
    # bool is an int in Python but not in Pinecone: true never equals 1.
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _test(value: Any, op: str, arg: Any) -> bool:
    present = _values(value)
    if op == "$eq":
        return any(_same(v, arg) for v in present)
    if op == "$ne":
        return not any(_same(v, arg) for v in present)
    if op == "$in":
        return any(_same(v, a) for v in present for a in arg)
    if op == "$nin":
        return not any(_same(v, a) for v in present for a in arg)
    if op == "$exists":
        return (value is not _MISSING) == bool(arg)
    numbers = [v for v in present if isinstance(v, int | float) and not isinstance(v, bool)]
    if op == "$gt":
        return any(v > arg for v in numbers)
    if op == "$gte":
        return any(v >= arg for v in numbers)
    if op == "$lt":
        return any(v < arg for v in numbers)
    if op == "$lte":
        return any(v <= arg for v in numbers)
    raise ValueError(f"unsupported filter operator {op}")
