"""Hostile CVE records, one builder per class of poison the pipeline must survive (issue 12).

Each builder returns bytes a source could really hand to the feed (valid UTF-8 JSON unless
the class is about encoding), so the same records serve the feed, the store and the chaos
test.  Ids are ``CVE-2099-*``: no real record uses them.
"""

from __future__ import annotations

import json
from typing import Any

# Fullwidth digits, a trailing newline, Arabic-Indic digits, a leading space, lower case.
LOOKALIKE_IDS = (
    "CVE-\uff12\uff10\uff19\uff19-1009",
    "CVE-2099-1008\n",
    "CVE-2099-\u0661\u0662\u0663\u0664",
    " CVE-2099-1007",
    "cve-2099-1006",
)


def record(cve_id: str, description: str = "A test record.", **meta: Any) -> dict[str, Any]:
    """A minimal valid CVE JSON 5 record."""
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {"cveId": cve_id, "state": "PUBLISHED", **meta},
        "containers": {
            "cna": {
                "descriptions": [{"lang": "en", "value": description}],
                "affected": [{"vendor": "acme", "product": "widget"}],
            }
        },
    }


def encoded(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def deep(cve_id: str, depth: int) -> bytes:
    """A valid record with an array nested ``depth`` levels deep under an extension field
    (the reproducer of issue 12: 300 levels made ``orjson.dumps`` raise)."""
    head = encoded(record(cve_id))[:-1]
    return head + b', "x_deep": ' + b"[" * depth + b"]" * depth + b"}"


def unindexable(cve_id: str, words: int = 150_000) -> bytes:
    """A ~1 MB description of distinct words: under every feed limit, over PostgreSQL's
    1 MB tsvector limit (``string is too long for tsvector``, SQLSTATE 54000)."""
    text = " ".join(f"w{n:x}q" for n in range(words))
    return encoded(record(cve_id, description=text))


def future(cve_id: str, when: str = "2999-01-01T00:00:00Z") -> bytes:
    """A record whose ``dateUpdated`` lies far in the future."""
    return encoded(record(cve_id, dateUpdated=when))
