"""Where the signed part of a PEC message is, and what its content holds.

A transport envelope is a multipart/signed (or an opaque application/pkcs7-mime) whose
content is a multipart/mixed of the provider's text, `daticert.xml` and `postacert.eml`.
A list or a gateway may re-wrap it in an outer multipart/mixed (a footer beside it): the
signed part is looked for inside such containers too, never inside a forwarded message
(forwarding is not certified delivery).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from parsers.pec.rawmime import Entity, canonical, entity

MAX_WRAP_DEPTH = 4
MAX_CONTENT_DEPTH = 6
SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")


@dataclass(frozen=True)
class Located:
    """The signed entity: detached (content + signature) or opaque (signature only)."""

    signed: Entity | None  # the multipart/signed or the pkcs7-mime entity; None: unsigned
    content: Entity | None  # the signed content, for multipart/signed
    signed_bytes: bytes | None  # the content's bytes as signed (CRLF)
    signature: bytes | None  # the DER of the CMS signature
    wrapped: bool  # found inside an outer container, not at the top
    problem: str | None = None  # why the signature part is missing


def locate(top: Entity) -> Located:
    """The first signed entity at the top or inside re-wrapping containers."""
    todo = [(top, 0)]
    while todo:
        node, depth = todo.pop(0)
        kind = node.content_type
        if kind == "multipart/signed":
            return _detached(node, wrapped=depth > 0)
        if kind in OPAQUE_TYPES:
            return Located(node, None, None, node.decoded(), wrapped=depth > 0)
        if kind.startswith("multipart/") and depth < MAX_WRAP_DEPTH:
            todo.extend((part, depth + 1) for part in node.parts()[0])
    return Located(None, None, None, None, wrapped=False)


def _detached(node: Entity, wrapped: bool) -> Located:
    parts, closed = node.parts()
    if not parts:
        return Located(node, None, None, None, wrapped, "multipart/signed senza parti")
    content = parts[0]
    signature = next((p for p in parts[1:] if p.content_type in SIGNATURE_TYPES), None)
    if signature is None:
        why = "parte di firma assente" + ("" if closed else " (messaggio troncato)")
        return Located(node, content, canonical(content.raw), None, wrapped, why)
    return Located(node, content, canonical(content.raw), signature.decoded(), wrapped)


@dataclass(frozen=True)
class Contents:
    """What a PEC content carries."""

    daticert: bytes | None
    original: bytes | None  # postacert.eml, or the message an anomaly envelope carries
    text: str  # the provider's text


def contents(node: Entity) -> Contents:
    """daticert.xml, postacert.eml and the provider text, from the content's parts."""
    daticert = original = None
    text: list[str] = []
    todo = [(node, 0)]
    while todo:
        part, depth = todo.pop(0)
        kind, name = part.content_type, part.filename
        if kind.startswith("multipart/") and depth < MAX_CONTENT_DEPTH:
            todo.extend((child, depth + 1) for child in part.parts()[0])
        elif name == "daticert.xml" and daticert is None:
            daticert = part.decoded()
        elif kind == "message/rfc822" and (name == "postacert.eml" or original is None):
            original = part.decoded()
        elif kind == "text/plain" and not name:
            charset = part.headers.get_content_charset() or "utf-8"
            text.append(part.decoded().decode(_codec(charset), "replace"))
    return Contents(daticert, original, "\n".join(text).strip())


def _codec(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "latin-1"


def top_entity(raw: bytes) -> Entity:
    return entity(raw)
