"""Search peers: the portal's queries run directly on tantivy, SQLite FTS5 and a plain
substring scan, beside portal_query's own query function (:mod:`bench.platform`).

Every engine indexes the same tickets (:mod:`bench.corpus`: title, description and the
customer-visible conversation), filters by company, requires every word, treats the last
word as a prefix, and answers the first ``RESULTS`` ids (the portal's first page) with the
total count; every one gets the same ``WARM_UP`` calls before each timed series. They run
in this process with no network, no RPC and no JSON.

* tantivy 0.27 (Rust, BM25, in memory; measured when it is installed): ``simple``
  tokenizer, lowercase and ASCII folding; weights title 3, description 2, conversation 1;
  company a ``raw`` field in a MUST clause; the last word as a one-word phrase-prefix
  query (a regex query would cost ~0.2 ms per field just to compile its automaton).
* SQLite FTS5 (in memory): ``unicode61 remove_diacritics 2`` with 1- and 2-letter prefix
  indexes, ``bm25`` column weights 3, 2, 1; the company a column in the MATCH expression.
* substring scan: what a service without an index would do: every ticket of the company,
  folded like the portal folds, kept when each word occurs in it (anywhere in a word, so
  it matches a little more than the others), ranked by the weights of the fields each
  word occurs in, then by last update.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.corpus import Corpus, TicketDoc, fold, terms
from services.portal_query.queries import DEFAULT_PER_PAGE

try:
    import tantivy
except ImportError:  # an optional peer
    tantivy = None

FIELDS = (("title", 3.0), ("description", 2.0), ("conversation", 1.0))
RESULTS = DEFAULT_PER_PAGE  # ids each engine answers, with the total: the portal's first page
WARM_UP = 2  # untimed calls before each timed series, for every engine alike


@dataclass(frozen=True)
class SearchCase:
    """One search the benchmark times: a label, the user's company and the query text."""

    label: str
    company_id: str
    q: str


def search_cases(corpus: Corpus, company_id: str, who: str) -> list[SearchCase]:
    return [
        SearchCase(f"{who}: common term", company_id, "error"),
        SearchCase(f"{who}: rare term", company_id, corpus.rare_word_of(company_id)),
        SearchCase(f"{who}: one-letter prefix", company_id, "p"),
        SearchCase(f"{who}: two words, the last a prefix", company_id, "password res"),
    ]


def company_token(company_id: str) -> str:
    return re.sub(r"\W", "", company_id).lower()


class TantivyPeer:
    name = "tantivy"

    @staticmethod
    def available() -> bool:
        return tantivy is not None

    def __init__(self, tickets: list[TicketDoc]):
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("ticket_id", stored=True, indexed=True, fast=True)
        builder.add_text_field("company", tokenizer_name="raw")
        for field, _boost in FIELDS:
            builder.add_text_field(field, tokenizer_name="folded")
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema)  # no path: in memory
        self.index.register_tokenizer(
            "folded",
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .build(),
        )
        writer = self.index.writer(heap_size=256_000_000, num_threads=1)
        for ticket in tickets:
            writer.add_document(
                tantivy.Document(
                    ticket_id=ticket.ticket_id,
                    company=ticket.company_id,
                    title=ticket.title,
                    description=ticket.description,
                    conversation=ticket.conversation or [""],
                )
            )
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, company_id: str, q: str) -> tuple[list[int], int]:
        Query, Occur = tantivy.Query, tantivy.Occur
        words = terms(q)
        clauses = [(Occur.Must, Query.term_query(self.schema, "company", company_id))]
        for position, word in enumerate(words):
            last = position == len(words) - 1
            per_field = [
                (
                    Occur.Should,
                    Query.boost_query(
                        Query.phrase_prefix_query(self.schema, field, [word])
                        if last
                        else Query.term_query(self.schema, field, word),
                        boost,
                    ),
                )
                for field, boost in FIELDS
            ]
            clauses.append((Occur.Must, Query.boolean_query(per_field)))
        result = self.searcher.search(Query.boolean_query(clauses), RESULTS, count=True)
        ids = [self.searcher.doc(address)["ticket_id"][0] for _score, address in result.hits]
        return ids, result.count


class Fts5Peer:
    name = "SQLite FTS5"

    @staticmethod
    def available() -> bool:
        return True

    def __init__(self, tickets: list[TicketDoc]):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute(
            "CREATE VIRTUAL TABLE tickets USING fts5(title, description, conversation, "
            "company, tokenize='unicode61 remove_diacritics 2', prefix='1 2')"
        )
        self.db.executemany(
            "INSERT INTO tickets (rowid, title, description, conversation, company) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                (
                    t.ticket_id,
                    t.title,
                    t.description,
                    "\n".join(t.conversation),
                    company_token(t.company_id),
                )
                for t in tickets
            ),
        )
        self.db.commit()

    def search(self, company_id: str, q: str) -> tuple[list[int], int]:
        words = terms(q)
        quoted = [f'"{word}"' for word in words]
        quoted[-1] += "*"
        match = (
            f"company : {company_token(company_id)} AND "
            f"{{title description conversation}} : ({' AND '.join(quoted)})"
        )
        rows = self.db.execute(
            "SELECT id, count(*) OVER () FROM (SELECT rowid AS id, "
            "bm25(tickets, 3.0, 2.0, 1.0, 0.0) AS score FROM tickets WHERE tickets MATCH ?) "
            "ORDER BY score LIMIT ?",
            (match, RESULTS),
        ).fetchall()
        return [row[0] for row in rows], rows[0][1] if rows else 0


class SubstringPeer:
    name = "substring scan"

    @staticmethod
    def available() -> bool:
        return True

    def __init__(self, tickets: list[TicketDoc]):
        self.by_company: dict[str, list[tuple[int, float, tuple[str, str, str]]]] = {}
        for t in sorted(tickets, key=lambda t: -t.updated_at):
            texts = (fold(t.title), fold(t.description), fold("\n".join(t.conversation)))
            self.by_company.setdefault(t.company_id, []).append((t.ticket_id, t.updated_at, texts))

    def search(self, company_id: str, q: str) -> tuple[list[int], int]:
        words = terms(q)
        weights = [weight for _field, weight in FIELDS]
        hits = []
        for ticket_id, _updated, texts in self.by_company.get(company_id, ()):
            score = 0.0
            for word in words:
                found = sum(w for w, text in zip(weights, texts, strict=True) if word in text)
                if not found:
                    break
                score += found
            else:
                hits.append((-score, len(hits), ticket_id))  # ties: newest update first
        hits.sort()
        return [ticket_id for _score, _order, ticket_id in hits[:RESULTS]], len(hits)


def available_peers() -> list[type]:
    return [peer for peer in (TantivyPeer, Fts5Peer, SubstringPeer) if peer.available()]


def build(peer: type, tickets: list[TicketDoc]) -> tuple[object, float]:
    started = time.perf_counter()
    engine = peer(tickets)
    return engine, time.perf_counter() - started


def latencies(call: Callable[[], object], count: int, warm_up: int = WARM_UP) -> list[float]:
    """``warm_up`` untimed calls, then ``count`` sequential calls: each one's wall time in
    milliseconds."""
    for _ in range(warm_up):
        call()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings
