"""Turn bytes in a declared (often wrong or unknown) charset into text, never raising.

Mail in the wild declares charsets Python does not know (x-mac-cyrillic, x-unknown), names
them badly ("3Diso-8859-1" after a double quoted-printable pass) or lies: Italian mail often
declares iso-8859-1 but carries windows-1252 curly quotes and the euro sign, or is really UTF-8.
"""

from __future__ import annotations

import codecs
import re

# Labels seen in mail that Python's codec registry does not resolve (or resolves to a
# narrower codec than the senders actually used). None means "no usable charset".
_ALIASES: dict[str, str | None] = {
    "x-unknown": None,
    "unknown": None,
    "unknown-8bit": None,
    "x-user-defined": None,
    "default": None,
    "none": None,
    "charset": None,
    "8bit": None,
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-ukrainian": "mac_cyrillic",
    "x-mac-roman": "mac_roman",
    "x-mac": "mac_roman",
    "macintosh": "mac_roman",
    "x-mac-ce": "mac_latin2",
    "x-mac-centraleurroman": "mac_latin2",
    "x-mac-greek": "mac_greek",
    "x-mac-turkish": "mac_turkish",
    "x-mac-icelandic": "mac_iceland",
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-6-i": "iso8859_6",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "iso-8859-11": "cp874",
    "unicode-1-1-utf-7": "utf_7",
    "utf8": "utf_8",
    "x-utf-8": "utf_8",
}

# Declared as one of these, the bytes are read as UTF-8 when valid, else as windows-1252.
_LATIN_FAMILY = frozenset({"ascii", "iso8859-1", "cp1252"})
_LABEL = re.compile(r"[a-z0-9][a-z0-9_.:+-]*")
_SURROGATES = re.compile("[\ud800-\udfff]")


def codec_for(label: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when unknown or not a text codec."""
    if not label:
        return None
    match = _LABEL.search(label.strip().strip("\"'").lower())
    if not match:
        return None
    name = match.group(0).rstrip("-=")
    for candidate in (name, name[2:] if name.startswith("3d") else ""):
        if candidate in _ALIASES:
            alias = _ALIASES[candidate]
            return _lookup(alias) if alias else None
        codec = _lookup(candidate)
        if codec:
            return codec
    return None


def _lookup(name: str) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # base64, rot13, zlib... are codecs too, but not charsets: they would return bytes.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode(data: bytes, label: str | None, where: str) -> tuple[str, str | None]:
    """Decode `data` declared as `label`; return the text and a defect description or None.

    Order: the declared charset, then UTF-8, then windows-1252 (a superset of ISO-8859-1 for
    what people type). ISO-8859-1, US-ASCII and windows-1252 decode anything, so they cannot
    prove themselves wrong: for them valid UTF-8 wins, since accented Latin-1 text is almost
    never valid UTF-8 by chance. `where` names the part for the defect ("text/plain part").
    """
    declared = (label or "").strip().strip("\"'")
    codec = codec_for(declared)
    if codec is None or codec in _LATIN_FAMILY:
        text, used = _decode_latin_family(data)
        return _clean(text), _latin_defect(declared, codec, used, where)
    try:
        return _clean(data.decode(codec)), None
    except (UnicodeError, LookupError, ValueError, TypeError):
        text, used = _decode_latin_family(data)
        return _clean(text), f"undecodable {declared} bytes in {where}, decoded as {used}"


def _decode_latin_family(data: bytes) -> tuple[str, str]:
    """ASCII, UTF-8, mostly-UTF-8, windows-1252, windows-1252 with replacement characters."""
    if data.isascii():
        return data.decode("ascii"), "ascii"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = _mostly_utf8(data)
    if text is not None:
        return text, "utf-8 with replacement"
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace"), "cp1252 with replacement"


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few broken sequences (a character cut by a fold or a truncation).

    Latin-1 text read as UTF-8 breaks on nearly every accented letter, so a low share of
    broken bytes tells the two apart.
    """
    text = data.decode("utf-8", "replace")
    broken = text.count("\ufffd")
    high = len(data) - len(data.decode("ascii", "ignore"))
    return text if broken * 20 <= high else None


def _latin_defect(declared: str, codec: str | None, used: str, where: str) -> str | None:
    """Describe a surprise; ISO-8859-1 read as windows-1252 is policy, not a defect."""
    if used == "ascii" or not declared:
        return None
    if codec is None:
        return f"undecodable charset {declared} in {where}, decoded as {used}"
    if codec == "ascii" or used != "cp1252":
        return f"{where} declared as {declared} but decoded as {used}"
    return None


def _clean(text: str) -> str:
    """Drop a BOM and lone surrogates (some codecs emit them; they break UTF-8 sinks)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    return text


def decode_raw_header_bytes(data: bytes, hint: str | None) -> tuple[str, bool]:
    """Decode raw 8-bit header bytes (no RFC 2047): UTF-8, the hint charset, windows-1252.

    Returns the text and whether it needed a guess beyond UTF-8.
    """
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    codec = codec_for(hint)
    if codec and codec not in _LATIN_FAMILY:
        try:
            return _clean(data.decode(codec)), True
        except (UnicodeError, LookupError, ValueError, TypeError):
            pass
    return _decode_latin_family(data)[0], True
