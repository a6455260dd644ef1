"""Discord Markdown: escaping round-trips, fitting never exceeds a limit nor splits a character,
lengths count UTF-16 units."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiji.bot.markdown import ELLIPSIS, dlen, escape, fit, unescape

MARKDOWN_HEAVY = "**太字** _x_ ~~y~~ ||z|| `c` [link](https://example.com/a_b) > q\n# h\n- li \\ "
FAMILY = "👨\u200d👩\u200d👧\u200d👦"


@pytest.mark.parametrize("text", [MARKDOWN_HEAVY, "plain 日本語", "", "\\", "http://x.y/_*_ *a*", FAMILY])
def test_escape_round_trips(text: str) -> None:
    assert unescape(escape(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("ab \n*_~|`[]()>#-\\:/.hts日本") + ["http://", "https://"]),
                max_size=40).map("".join))
def test_escape_round_trips_anything(text: str) -> None:
    assert unescape(escape(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=4, max_value=120))
def test_fit_never_exceeds_and_keeps_a_prefix(text: str, limit: int) -> None:
    out = fit(text, limit, prefix="「", closing="」")
    assert dlen(out) <= limit
    if out.endswith("」" + ELLIPSIS):
        assert text.startswith(unescape(out[1:-2]))
    else:
        assert unescape(out[1:-1]) == text


def test_cut_never_splits_a_joined_emoji_or_a_combining_mark() -> None:
    text = "ab" + FAMILY * 3
    for limit in range(5, 30):
        out = fit(text, limit, markdown=False)
        body = out.removesuffix(ELLIPSIS)
        assert (len(body) - 2) % len(FAMILY) == 0  # whole families only
        assert dlen(out) <= limit
    accented = "e\u0301" * 10  # e + combining acute
    for limit in range(3, 12):
        body = fit(accented, limit, markdown=False).removesuffix(ELLIPSIS)
        assert len(body) % 2 == 0


def test_lengths_count_utf16_units() -> None:
    assert dlen("😀") == 2 and dlen("日本") == 2
    assert dlen(fit("😀" * 2000, 256, markdown=False)) <= 256
