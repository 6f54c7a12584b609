"""blocks.literal, as a pure function: whatever a person or Intune puts in a string, it comes out
as one inline code span that cannot format, close, link or mention anything."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from handlers.views.blocks import BACKTICK_STAND_IN, EMPTY, fit, literal, section
from handlers.views.i18n import CATALOG

LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# Strings rich in what mrkdwn and Slack's markup react to, and in line breaks.
TRICKY = st.text(
    st.one_of(st.characters(), st.sampled_from(list("`*_~<>&|!@#:\\ ") + list(LINE_BREAKS)
                                               + ["\u202e", "\u2066"])),
    max_size=300,
)
ENTITY = re.compile(r"&(?!(?:amp|lt|gt);)")


def folded(text: str) -> str:
    return re.sub(f"[{LINE_BREAKS}]+", " ", text).strip()


@given(TRICKY, st.integers(min_value=1, max_value=400))
def test_any_string_becomes_one_code_span_with_nothing_unescaped(text: str, limit: int) -> None:
    out = literal(text, limit)
    if not folded(text):
        assert out == EMPTY
        return
    assert out.count("`") == 2 and out.startswith("`") and out.endswith("`")
    inner = out[1:-1]
    assert "<" not in inner and ">" not in inner
    assert not ENTITY.search(inner), "an & that is not &amp;, &lt; or &gt;"
    assert not any(c in inner for c in LINE_BREAKS)
    shown = html.unescape(inner)
    assert len(shown) <= limit
    if len(folded(text)) <= limit:  # shown exactly, apart from the backtick and bidi controls
        expected = folded(text).replace("`", BACKTICK_STAND_IN)
        assert shown == re.sub("[\u202a-\u202e\u2066-\u2069]", "\ufffd", expected)
    else:
        assert shown.endswith("…")


def test_examples() -> None:
    assert literal("") == literal(None) == literal(" \n\t ") == "—"
    assert literal("PIXEL8-ALICE") == "`PIXEL8-ALICE`"
    assert literal("a`b```c") == "`a\u02cbb\u02cb\u02cb\u02cbc`"
    assert literal("<!channel> & <@U1>") == "`&lt;!channel&gt; &amp; &lt;@U1&gt;`"
    assert literal("two\nlines\r\nhere") == "`two lines here`"
    assert literal("x" * 50, 10) == "`" + "x" * 9 + "…`"
    assert literal("&lt;") == "`&amp;lt;`"  # shows the text typed, not a bracket


def test_no_catalog_template_holds_markup_of_its_own() -> None:
    """Our own words are mrkdwn too: no raw <, > or & (Slack would read `<device name>` as
    markup), so only the values filled in could carry any, and those are literals."""
    for key, entry in CATALOG.items():
        for language, template in entry.items():
            assert "<" not in template and ">" not in template, (key, language)
            assert not ENTITY.search(template), (key, language)


@given(st.lists(st.text(max_size=300), max_size=12), st.integers(20, 3000))
def test_a_long_message_is_never_cut_inside_a_literal(names: list[str], limit: int) -> None:
    """Names full of "&" grow fivefold when escaped: ten of them overflow a section, and a cut
    inside a code span would let the rest of the name format (the attacker review, 2026-12)."""
    text = "\n".join(f"• {literal(name)} · serial {literal(name, 100)}" for name in names)
    cut = fit(text, limit)
    assert len(cut) <= limit
    assert cut.count("`") % 2 == 0
    assert section(text)["text"]["text"] == fit(text)
