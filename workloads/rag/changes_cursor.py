"""Change-stream cursors: opaque to clients, stable across API restarts and replicas.

A cursor is a position in the store's version sequence (``seq``, see
:mod:`workloads.store.change_feed`) with a short tag over the store's schema name: the same
position of the same store always encodes to the same text, whichever process answers, and
a cursor mistyped, truncated or taken from another store is refused rather than silently
read as some other position.  The tag is a checksum, not a secret: cursors carry nothing a
client could not learn from the feed itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

PREFIX = "c1."
_SEQ_BYTES = 8
_TAG_BYTES = 6


class InvalidCursor(ValueError):
    """Not a cursor of this store (the message says why, for the 400 problem's detail)."""


def _tag(schema: str, body: bytes) -> bytes:
    return hashlib.blake2s(schema.encode() + b"\x00" + body, digest_size=_TAG_BYTES).digest()


def encode(schema: str, seq: int) -> str:
    body = seq.to_bytes(_SEQ_BYTES, "big")
    return PREFIX + base64.urlsafe_b64encode(body + _tag(schema, body)).decode().rstrip("=")


def decode(schema: str, cursor: str) -> int:
    """The position ``cursor`` names in the store of ``schema``; raises :class:`InvalidCursor`."""
    text = cursor.strip()
    if not text.startswith(PREFIX):
        raise InvalidCursor(f"not a change cursor: {cursor[:40]!r} (cursors start with {PREFIX!r})")
    packed = text.removeprefix(PREFIX)
    try:
        raw = base64.b64decode(packed + "=" * (-len(packed) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCursor(f"not a change cursor: {cursor[:40]!r} (damaged)") from None
    body, tag = raw[:_SEQ_BYTES], raw[_SEQ_BYTES:]
    if len(raw) != _SEQ_BYTES + _TAG_BYTES or tag != _tag(schema, body):
        raise InvalidCursor(
            f"not a change cursor of this store: {cursor[:40]!r} (damaged, or from another store)"
        )
    return int.from_bytes(body, "big")
