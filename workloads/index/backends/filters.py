"""Pinecone's metadata filter language, translated to SQL for pgvector.

One filter language for both backends means a RagEndpoint's filter (``{"kev": true}``,
``{"year": {"$gte": 2023}}``, ``{"cwe": {"$in": ["CWE-79", "CWE-89"]}}``) means the same
thing wherever the vectors live.  Supported: ``$eq $ne $gt $gte $lt $lte $in $nin $exists``
on a field, ``$and``/``$or`` lists, and a bare value as ``$eq``.  Field names and values are
bound as query parameters; only the fixed operator SQL is composed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from psycopg import sql

from workloads.index.backends import BackendError

_COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


class FilterError(BackendError):
    """A filter uses an operator or operand this implementation does not accept."""


class _Params(dict[str, Any]):
    """Named parameters ``f0, f1, ...`` so the caller can add its own named ones."""

    def bind(self, value: Any) -> sql.Placeholder:
        name = f"f{len(self)}"
        self[name] = value
        return sql.Placeholder(name)


def to_sql(filter: Mapping[str, Any], column: sql.Composable) -> tuple[sql.Composable, dict[str, Any]]:
    """A boolean SQL expression over the ``jsonb`` metadata ``column`` and its named parameters."""
    params = _Params()
    return _expression(filter, column, params), dict(params)


def _expression(filter: Mapping[str, Any], column: sql.Composable, params: _Params) -> sql.Composable:
    parts: list[sql.Composable] = []
    for key, value in filter.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise FilterError(f"{key} needs a non-empty list of filters")
            joiner = sql.SQL(" AND " if key == "$and" else " OR ")
            parts.append(sql.SQL("({})").format(joiner.join(_expression(v, column, params) for v in value)))
        elif key.startswith("$"):
            raise FilterError(f"unsupported top-level operator {key}")
        elif isinstance(value, Mapping):
            parts.extend(_field(key, op, operand, column, params) for op, operand in value.items())
        else:
            parts.append(_field(key, "$eq", value, column, params))
    return sql.SQL("({})").format(sql.SQL(" AND ").join(parts)) if parts else sql.SQL("TRUE")


def _contains(key: str, value: Any, column: sql.Composable, params: _Params) -> sql.Composable:
    # jsonb containment compares type and value exactly (1 != "1"), and {"k": ["v"]} also
    # finds "v" inside a list-valued field, which is Pinecone's meaning for lists.
    scalar, listed = params.bind(json.dumps({key: value})), params.bind(json.dumps({key: [value]}))
    return sql.SQL("({col} @> {a}::jsonb OR {col} @> {b}::jsonb)").format(col=column, a=scalar, b=listed)


def _field(key: str, op: str, operand: Any, column: sql.Composable, params: _Params) -> sql.Composable:
    if op in ("$eq", "$ne"):
        test = _contains(key, operand, column, params)
        return test if op == "$eq" else sql.SQL("NOT {}").format(test)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand:
            raise FilterError(f"{op} on {key!r} needs a non-empty list")
        tests = [_contains(key, v, column, params) for v in operand]
        any_of = sql.SQL("({})").format(sql.SQL(" OR ").join(tests))
        return any_of if op == "$in" else sql.SQL("NOT {}").format(any_of)
    if op in _COMPARISONS:
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            raise FilterError(f"{op} on {key!r} needs a number, got {operand!r}")
        name, bound = params.bind(key), params.bind(operand)
        return sql.SQL(
            "(jsonb_typeof({col} -> {k}) = 'number' AND ({col} ->> {k})::float8 {cmp} {v})"
        ).format(col=column, k=name, v=bound, cmp=sql.SQL(_COMPARISONS[op]))
    if op == "$exists":
        test = sql.SQL("{col} ? {k}").format(col=column, k=params.bind(key))
        return test if operand else sql.SQL("NOT {}").format(test)
    raise FilterError(f"unsupported operator {op} on {key!r}")
