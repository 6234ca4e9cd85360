"""The bot's markup as the built-in channels show it: bold, code and links as HTML, all else escaped."""

from __future__ import annotations

import pytest

from bots.builtin_markup import to_html


def test_stars_make_bold_and_backticks_code() -> None:
    html = to_html("• *Dr. Anna Schäfer* (law; de) — type `/hack experts law`")
    assert html == "• <strong>Dr. Anna Schäfer</strong> (law; de) — type <code>/hack experts law</code>"


@pytest.mark.parametrize("text", ["5 * 3 * 2", "a*b*c", "** nothing **", "*unclosed", "`unclosed"])
def test_stars_and_backticks_that_mark_nothing_stay(text: str) -> None:
    assert to_html(text) == text


def test_written_out_links_become_links_without_the_full_stop() -> None:
    html = to_html("Join: https://meet.example.org/r/42.\nCalendar: /book/tok.en/bookings/7.ics")
    assert html == (
        'Join: <a href="https://meet.example.org/r/42" rel="noopener noreferrer">https://meet.example.org/r/42</a>.\n'
        'Calendar: <a href="/book/tok.en/bookings/7.ics" rel="noopener noreferrer">/book/tok.en/bookings/7.ics</a>'
    )


@pytest.mark.parametrize(
    "text", ["/hack help", "//evil.example/x", "javascript:alert(1)", "data:text/html,x"]
)
def test_commands_other_hosts_and_other_schemes_are_no_links(text: str) -> None:
    assert "<a" not in to_html(text)


def test_hostile_text_is_escaped_wherever_it_stands() -> None:
    html = to_html(
        "<script>alert(1)</script> *<img src=x onerror=alert(2)>* `<b>` "
        'https://x.example/"onmouseover="alert(3) [a](javascript:alert(4))'
    )
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<strong>&lt;img src=x onerror=alert(2)&gt;</strong>" in html
    assert "<code>&lt;b&gt;</code>" in html
    assert (
        '<a href="https://x.example/" rel="noopener noreferrer">https://x.example/</a>&#34;onmouseover'
        in html
    )
    assert 'href="javascript' not in html
