"""Hypothesis strategies for hostile CVE-shaped JSON: the record path's whole input space.

Records are built as Python values and encoded as a source might (``json.dumps``, which
writes lone surrogates and NaN/Infinity as the escapes and literals real feeds contain),
then optionally damaged as bytes: duplicate keys, truncation, deep nesting, stray bytes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.support.hostile import LOOKALIKE_IDS

# Every code point, lone surrogates and NUL included.
ANY_TEXT = st.text(st.characters(codec=None, min_codepoint=0), max_size=40)
TEXT = st.one_of(ANY_TEXT, st.sampled_from(["", " ", "n/a", "CWE-79", "\x00", "\ud800", "cpe:2.3:a:x:y:*"]))
NUMBERS = st.one_of(
    st.integers(),  # unbounded: past 64 bits orjson and json disagree
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-05, 1e16, 1e308, 5e-324, 10.0, 9.8]),
)
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)
IDS = st.one_of(
    st.from_regex(r"\ACVE-(19|20)[0-9]{2}-[0-9]{4,7}\Z"),
    st.sampled_from(LOOKALIKE_IDS),
    TEXT,
    VALUES,
)
TIMES = st.one_of(
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["2999-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00", "0001-01-01", "yesterday"]),
    VALUES,
)


def _maybe(key: str, value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``{key: value}`` or nothing: required fields go missing too."""
    return st.one_of(st.fixed_dictionaries({key: value}), st.just({}))


def _merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return out


def _object(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(
        *(_maybe(k, v) for k, v in fields.items()), st.dictionaries(TEXT, VALUES, max_size=3)
    ).map(lambda parts: _merged(list(parts)))


METRIC = _object(
    cvssV3_1=_object(baseScore=st.one_of(NUMBERS, TEXT), baseSeverity=TEXT, vectorString=TEXT),
    cvssV4_0=_object(baseScore=st.one_of(NUMBERS, TEXT), vectorString=TEXT),
    other=_object(type=st.sampled_from(["kev", "ssvc", "x"]), content=VALUES),
)
CONTAINER = _object(
    title=TEXT,
    descriptions=st.lists(_object(lang=st.sampled_from(["en", "fr", ""]) | TEXT, value=TEXT), max_size=3)
    | VALUES,
    affected=st.lists(_object(vendor=TEXT, product=TEXT, cpes=st.lists(TEXT, max_size=2)), max_size=3)
    | VALUES,
    metrics=st.lists(METRIC, max_size=2) | VALUES,
    problemTypes=st.lists(_object(descriptions=st.lists(_object(cweId=TEXT, description=TEXT))), max_size=2),
)
CVE5 = _object(
    dataType=st.just("CVE_RECORD") | TEXT,
    dataVersion=st.just("5.1") | VALUES,
    cveMetadata=_object(
        cveId=IDS, state=st.sampled_from(["PUBLISHED", "REJECTED"]) | TEXT, dateUpdated=TIMES
    ),
    containers=_object(cna=CONTAINER, adp=st.lists(CONTAINER, max_size=2) | VALUES),
)
NVD = st.fixed_dictionaries({"cve": _object(id=IDS, lastModified=TIMES, descriptions=VALUES, metrics=VALUES)})
DOCUMENTS = st.one_of(CVE5, NVD, VALUES)


def encode(doc: Any) -> bytes:
    """As a source would write it: ``json`` escapes lone surrogates and writes NaN literally."""
    return json.dumps(doc).encode()


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` as bytes a broken or hostile source might send instead."""
    how = draw(st.sampled_from(["none", "none", "duplicate", "truncate", "deep", "splice"]))
    if how == "duplicate" and data.startswith(b"{") and len(data) > 2:
        extra = draw(
            st.sampled_from([b'"cveMetadata": {"cveId": "CVE-2099-9999"}', b'"dataType": 1', b'"cve": {}'])
        )
        return b"{" + extra + b", " + data[1:]
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "deep" and data.endswith(b"}") and len(data) > 2:
        depth = draw(st.integers(1, 2_000))
        return data[:-1] + b', "x_deep": ' + b"[" * depth + b"]" * depth + b"}"
    if how == "splice":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(max_size=8)) + data[at:]
    return data


@st.composite
def hostile_bytes(draw: st.DrawFn) -> bytes:
    return draw(damaged(encode(draw(DOCUMENTS))))
