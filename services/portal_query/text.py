"""Text for search: one normalization for indexing, querying and highlighting, snippets and
relative times. Pure functions; no regular expression is ever built from user input."""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from dataclasses import dataclass

# Constant patterns only: user text is matched against them, never compiled into one.
NON_WORD = re.compile(r"\W+")
WORD = re.compile(r"\w+")
TICKET_REFERENCE = re.compile(r"#?(\d{1,16})")

MAX_QUERY_WORDS = 12
SNIPPET_LENGTH = 160
SNIPPET_LEAD = 40
ELLIPSIS = "…"


# Every combining character, mapped to nothing (built from the Unicode data once).
WITHOUT_MARKS = {
    code: None for code in range(sys.maxunicode + 1) if unicodedata.combining(chr(code))
}


def normalize(text: str) -> str:
    """Accent- and case-insensitive form: NFKD, combining marks dropped, casefolded."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text).translate(WITHOUT_MARKS).casefold()


def tokens(text: str) -> list[str]:
    """The normalized words of ``text``, in order (split on every non-word character)."""
    return [token for token in NON_WORD.split(normalize(text)) if token]


# ASCII word characters lowercased, every other ASCII character a space.
_ASCII_WORDS = str.maketrans(
    {
        chr(code): chr(code).lower() if chr(code).isalnum() or chr(code) == "_" else " "
        for code in range(128)
    }
)


def token_set(text: str) -> frozenset[str]:
    """``frozenset(tokens(text))`` for the index: a faster path for ASCII text (most
    text), and each token interned, so a word held by thousands of tickets is one string
    in memory, not thousands."""
    words = text.translate(_ASCII_WORDS).split() if text.isascii() else tokens(text)
    return frozenset(map(sys.intern, words))


@dataclass(frozen=True)
class SearchQuery:
    """A parsed ``q``: every word must match; the last one also as a prefix."""

    words: tuple[str, ...]
    ticket_ids: frozenset[int]

    @property
    def exact_words(self) -> tuple[str, ...]:
        return self.words[:-1]

    @property
    def prefix(self) -> str:
        return self.words[-1]

    def matches_word(self, token: str) -> bool:
        """Whether an indexed token satisfies some word of the query (for highlighting)."""
        return token in self.words or token.startswith(self.prefix)

    def mentioned_in(self, text: str) -> bool:
        """Whether some query word occurs in ``text``'s normalized form at all: true of any
        text whose tokens match a word, so a text without it needs no tokenizing."""
        folded = normalize(text)
        return any(word in folded for word in self.words)

    def matched_words(self, found: set[str]) -> int:
        """How many query words a set of tokens satisfies (to pick the best part)."""
        count = sum(1 for word in self.exact_words if word in found)
        if any(token.startswith(self.prefix) for token in found):
            count += 1
        return count


def parse_query(q: str | None) -> SearchQuery | None:
    """``None`` when ``q`` holds no word. ``42`` and ``#42`` also name ticket 42 exactly."""
    if not q:
        return None
    words = tokens(q)[:MAX_QUERY_WORDS]
    if not words:
        return None
    ticket_ids = frozenset(
        int(match.group(1))
        for raw in q.split()
        if (match := TICKET_REFERENCE.fullmatch(raw)) and int(match.group(1)) > 0
    )
    return SearchQuery(tuple(words), ticket_ids)


def _first_match(text: str, query: SearchQuery) -> tuple[int, int] | None:
    """The span of the first word of ``text`` that matches the query. ASCII text (the
    common case) is searched with ``str.find``; other text word by word."""
    if not text.isascii():
        for match in WORD.finditer(text):
            if any(query.matches_word(token) for token in tokens(match.group())):
                return match.span()
        return None
    lowered = text.lower()
    best: tuple[int, int] | None = None
    for word in set(query.words):
        position = lowered.find(word)
        while position != -1 and (best is None or position < best[0]):
            if position == 0 or not WORD.match(lowered, position - 1):
                match = WORD.match(lowered, position)
                if match and query.matches_word(match.group()):
                    best = match.span()
                    break
            position = lowered.find(word, position + 1)
    return best


def highlight(text: str, query: SearchQuery) -> str | None:
    """``text`` as escaped HTML with every matching word in ``<mark>``, trimmed to a window
    that starts a little before the first match; ``None`` when nothing in it matches."""
    first = _first_match(text, query)
    if first is None:
        return None
    start = max(0, first[0] - SNIPPET_LEAD)
    if start:
        space = text.find(" ", start, first[0])
        start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_LENGTH)
    if end < len(text):
        space = text.rfind(" ", max(first[1], start + SNIPPET_LENGTH // 2), end)
        end = space if space != -1 else end
    pieces = [ELLIPSIS] if start else []
    cursor = start
    for match in WORD.finditer(text, first[0], max(end, first[1])):
        if not any(query.matches_word(token) for token in tokens(match.group())):
            continue
        pieces.append(html.escape(text[cursor : match.start()]))
        pieces.append(f"<mark>{html.escape(match.group())}</mark>")
        cursor = match.end()
    pieces.append(html.escape(text[cursor:end]) if cursor < end else "")
    if end < len(text):
        pieces.append(ELLIPSIS)
    return "".join(pieces)


def escaped_excerpt(text: str) -> str:
    """The start of ``text`` as escaped HTML, for a hit that matched nothing in it."""
    if len(text) <= SNIPPET_LENGTH:
        return html.escape(text)
    return html.escape(text[:SNIPPET_LENGTH]) + ELLIPSIS


_UNITS = (
    (365 * 86400, "y"),
    (30 * 86400, "mo"),
    (7 * 86400, "w"),
    (86400, "d"),
    (3600, "h"),
    (60, "m"),
)


def relative_time(then: float, now: float) -> str:
    """``now``, ``5m``, ``3h``, ``3d``, ``2w``, ``4mo``, ``1y``: how long before ``now``
    (epoch seconds; the caller passes the clock, so this stays pure)."""
    elapsed = now - then
    for seconds, unit in _UNITS:
        if elapsed >= seconds:
            return f"{int(elapsed // seconds)}{unit}"
    return "now"
