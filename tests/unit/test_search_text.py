"""Search text rules: normalization, query parsing, highlighting and relative times."""

from __future__ import annotations

import time

import pytest

from services.portal_query.text import (
    ELLIPSIS,
    highlight,
    normalize,
    parse_query,
    relative_time,
    token_set,
    tokens,
)


def test_normalization_ignores_case_and_accents():
    assert normalize("Crème BRÛLÉE") == "creme brulee"
    assert tokens("Ärger mit Straße") == ["arger", "mit", "strasse"]
    assert tokens("ﬁle") == ["file"]  # compatibility forms fold too


def test_tokens_split_on_every_non_word_character():
    assert tokens("printer-on_fire, (again)!  v2.0") == ["printer", "on_fire", "again", "v2", "0"]
    assert tokens("  ...  ") == []


def test_the_last_word_is_a_prefix_and_ticket_references_are_recognised():
    query = parse_query("Printer #42 fi")

    assert query.words == ("printer", "42", "fi")
    assert query.prefix == "fi"
    assert query.ticket_ids == {42}
    assert parse_query("42").ticket_ids == {42}
    assert parse_query("#0042").ticket_ids == {42}
    assert parse_query("4x2").ticket_ids == set()


@pytest.mark.parametrize("q", [None, "", "   ", "#", "()[]{}*+?.^$|\\"])
def test_a_query_without_words_is_no_search(q):
    assert parse_query(q) is None


def test_regex_metacharacters_are_plain_text():
    query = parse_query("a.*b (c|d) [e]")

    assert query.words == ("a", "b", "c", "d", "e")
    assert highlight("a.*b means nothing special", parse_query("a.*b")) == (
        "<mark>a</mark>.*<mark>b</mark> means nothing special"
    )


def test_pathological_queries_stay_fast():
    text = "a" * 20_000
    started = time.perf_counter()
    for q in ("(a+)+$" * 30, "a" * 200, "#" * 200, "é" * 200):
        query = parse_query(q)
        if query:
            highlight(text, query)
    assert time.perf_counter() - started < 2  # generous: a catastrophic regex takes hours


def test_highlight_escapes_the_text_and_marks_only_matches():
    query = parse_query("img")

    html = highlight("<img src=x onerror=alert(1)> broken image", query)

    assert html == "&lt;<mark>img</mark> src=x onerror=alert(1)&gt; broken image"
    assert "<img" not in html


def test_highlight_marks_every_matching_word_with_its_original_spelling():
    html = highlight("Café crashed; the CAFE reboot cafeteria", parse_query("cafe"))

    assert html == "<mark>Café</mark> crashed; the <mark>CAFE</mark> reboot <mark>cafeteria</mark>"


def test_only_the_last_word_matches_as_a_prefix():
    html = highlight("print printer printing", parse_query("print pri"))
    assert html == "<mark>print</mark> <mark>printer</mark> <mark>printing</mark>"

    html = highlight("printer print", parse_query("print xyz"))
    assert html == "printer <mark>print</mark>"


def test_highlight_trims_around_the_first_match_with_an_ellipsis():
    text = "word " * 100 + "needle in the haystack " + "tail " * 100

    html = highlight(text, parse_query("needle"))

    assert html.startswith(ELLIPSIS)
    assert html.endswith(ELLIPSIS)
    assert "<mark>needle</mark> in the haystack" in html
    assert len(html) < 250


def test_highlight_of_text_without_a_match_is_none():
    assert highlight("nothing to see", parse_query("printer")) is None


def test_highlight_finds_words_in_non_ascii_text():
    html = highlight("Réunion à propos de l'imprimante", parse_query("reunion imprim"))
    assert html == "<mark>Réunion</mark> à propos de l&#x27;<mark>imprimante</mark>"


@pytest.mark.parametrize(
    ("seconds", "label"),
    [
        (0, "now"),
        (59, "now"),
        (-30, "now"),  # a clock slightly ahead is still "now"
        (5 * 60, "5m"),
        (3 * 3600, "3h"),
        (3 * 86400, "3d"),
        (14 * 86400, "2w"),
        (125 * 86400, "4mo"),
        (400 * 86400, "1y"),
    ],
)
def test_relative_time(seconds, label):
    now = 1_800_000_000.0
    assert relative_time(now - seconds, now) == label


@pytest.mark.parametrize(
    "text", ["Plain ASCII, with-punctuation_and 123 numbers!", "Crème brûlée ﬁle Ärger", ""]
)
def test_the_indexing_fast_path_gives_the_same_tokens(text):
    assert token_set(text) == set(tokens(text))


@pytest.mark.parametrize(
    "text",
    [
        "Your printer is out of toner",
        "PRINTER-on_fire, again",
        "Crème brûlée ﬁle Ärger",
        "the printers' queue",
        "nothing to see here",
        "",
    ],
)
@pytest.mark.parametrize("q", ["printer", "toner pri", "creme", "file", "arg", "on_fire", "zz"])
def test_a_text_whose_tokens_match_mentions_a_query_word(text, q):
    query = parse_query(q)

    if query.matched_words(token_set(text)):
        assert query.mentioned_in(text)


def test_a_text_without_any_query_word_is_not_mentioned():
    assert parse_query("toner").mentioned_in("Your printer is out of TONER")
    assert parse_query("quokka pri").mentioned_in("Your printer is out of paper")
    assert parse_query("brulee").mentioned_in("Crème BRÛLÉE")
    assert not parse_query("toner").mentioned_in("Your printer is out of paper")
    assert not parse_query("quokka").mentioned_in("")
