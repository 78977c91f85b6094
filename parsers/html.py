"""HTML mail bodies to plain text for the rules.

Built on the stdlib's event-driven `html.parser`: it keeps no tree and never recurses, so
570 KB of nested <div>s cost no more than flat text. <blockquote> content is prefixed with
"> " so that `parsers.quoting` recognises quoted replies the same way as in plain text.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

MAX_HTML_CHARS = 5_000_000  # beyond this the text is cut: html.parser runs at ~2 MB/s

_SKIP = frozenset({"script", "style", "title", "template", "noscript"})
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "pre", "hr", "address"}
)
_LINE = frozenset(
    {
        "div", "li", "tr", "dd", "dt", "section", "article", "header", "footer", "nav",
        "aside", "form", "fieldset", "center", "main", "figure", "figcaption", "caption",
        "tbody", "thead", "tfoot", "body", "html", "o:p",
    }
)  # fmt: skip
_CELL = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u200b]+")
_TAG = re.compile(r"<[^>]{0,2000}>")
# A "<" that does not open a complete tag before the next "<" is text. html.parser rescans
# such incomplete tags to the end of the input each time (quadratic: "<a " * 100_000 takes
# hours on Python 3.11), so they are escaped first; the lookahead stops at the next "<" or ">",
# which keeps this pass linear.
_STRAY_LT = re.compile(r"<(?!!--)(?![a-zA-Z/!?][^<>]*>)")


class _TextExtractor(HTMLParser):
    """Collects (quote depth, text) lines; keeps only counters, never a stack of elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self._chunks: list[str] = []
        self._skip = 0
        self._pre = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break(force=True)
        elif tag in _PARAGRAPH or tag in _LINE:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._paragraph()
            self._quote = max(0, self._quote - 1)
        elif tag == "pre":
            self._paragraph()
            self._pre = max(0, self._pre - 1)
        else:
            self._layout(tag)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._chunks.append(first)
            for line in rest:
                self._break(force=True)
                self._chunks.append(line)
        else:
            self._chunks.append(_SPACES.sub(" ", data))

    def close(self) -> None:
        super().close()
        self._break()

    def _open(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "body":
            self._skip = 0  # an unclosed <head> or <title> must not swallow the body
        elif tag == "br":
            self._break(force=True)
        elif tag == "blockquote":
            self._paragraph()
            self._quote += 1
        elif tag == "pre":
            self._paragraph()
            self._pre += 1
        else:
            self._layout(tag)

    def _layout(self, tag: str) -> None:
        """Where a block, line or cell tag opens or closes, the text breaks the same way."""
        if tag in _PARAGRAPH:
            self._paragraph()
        elif tag in _LINE:
            self._break()
        elif tag in _CELL:
            self._chunks.append(" ")

    def _break(self, force: bool = False) -> None:
        line = "".join(self._chunks)
        self._chunks = []
        line = line.rstrip() if self._pre else _SPACES.sub(" ", line).strip()
        if line or force:
            self.lines.append((self._quote, line))

    def _paragraph(self) -> None:
        self._break()
        self.lines.append((self._quote, ""))


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: no scripts or styles, one block per line."""
    html = _escape_incomplete(html[:MAX_HTML_CHARS])
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:
        # _markupbase asserts on some malformed declarations ("<![foo["): strip tags instead.
        text = unescape(_TAG.sub(" ", html))
        return _collapse([_SPACES.sub(" ", line).strip() for line in text.splitlines()])
    return _render(parser.lines)


def _escape_incomplete(html: str) -> str:
    """Turn "<" that start no complete tag or comment into text, in linear time."""
    html = _STRAY_LT.sub("&lt;", html)
    closed = html.rfind("-->") + 3 if "-->" in html else 0
    unclosed = html.find("<!--", closed)
    return html if unclosed < 0 else html[:unclosed]  # as browsers do: it hides the rest


def _render(lines: list[tuple[int, str]]) -> str:
    out = []
    for depth, text in lines:
        prefix = "> " * depth
        out.append((prefix + text).rstrip() if depth else text)
    return _collapse(out)


def _collapse(lines: list[str]) -> str:
    """At most one blank line in a row, none at the ends (a bare ">" counts as blank)."""
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line.strip(" >") and (not out or not out[-1].strip(" >")):
            continue
        out.append(line)
    while out and not out[-1].strip(" >"):
        out.pop()
    return "\n".join(out)
