"""parsers.html.html_to_text: readable text for the rules, robust to hostile HTML."""

from __future__ import annotations

import pytest

from parsers.html import html_to_text

CASES = [
    ("entities", "<p>Il lampione &egrave; spento, l&#8217;area &agrave; buia &euro; 5</p>",
     "Il lampione è spento, l’area à buia € 5"),
    ("script_style_title", "<head><title>T</title><style>p{}</style></head><body><script>x()"
     "</script>testo</body>", "testo"),
    ("blocks", "<div>uno</div><div>due</div><p>tre</p>quattro", "uno\ndue\n\ntre\n\nquattro"),
    ("br", "riga 1<br>riga 2<br/><br>riga 4", "riga 1\nriga 2\n\nriga 4"),
    ("whitespace", "  molti   \n spazi&nbsp;&nbsp;qui  ", "molti spazi qui"),
    ("table", "<table><tr><td>Palo</td><td>IP-1</td></tr><tr><td>Via</td><td>Roma</td></tr>"
     "</table>", "Palo IP-1\nVia Roma"),
    ("pre", "<pre>a\n  b</pre>", "a\n  b"),
    ("blockquote", "Nuovo<blockquote>vecchio<blockquote>più vecchio</blockquote></blockquote>",
     "Nuovo\n\n> vecchio\n>\n> > più vecchio"),
    ("marked_section", "<![if !supportLists]>-<![endif]> voce", "- voce"),
    ("bad_declaration", "<![foo[ x ]]><p>ciao</p>", "ciao"),
    ("unclosed", "<div><p>aperto <b>grassetto", "aperto grassetto"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "html", "expected"), CASES, ids=[c[0] for c in CASES])
def test_html_to_text(name: str, html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_deep_nesting_without_recursion() -> None:
    html = "<div>" * 200_000 + "fondo" + "</div>" * 200_000
    assert html_to_text(html) == "fondo"


def test_a_long_run_of_stray_less_than_signs_stays_text() -> None:
    # Escaping stray "<" is also what keeps html.parser linear: bench/pathological_inputs.py
    # times this and the other incomplete-markup inputs.
    text = html_to_text("x<y " * 50_000)
    assert text.startswith("x<y x<y") and text.endswith("x<y") and text.count("x<y") == 50_000


def test_stray_less_than_is_text_and_unclosed_comment_hidden() -> None:
    assert html_to_text("<p>se a < b e 3<4</p><!-- mai chiuso <p>x</p>") == "se a < b e 3<4"
