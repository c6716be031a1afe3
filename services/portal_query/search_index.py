"""The in-process search index: one partition per company (and one for tickets without a
company), rebuilt from the read model and refreshed ticket by ticket.

Why this shape: a query touches only the partitions the caller may see, so another
tenant's tickets are never even candidates. Inside a partition every ticket has a slot;
each token, type, state and creator maps to a Python int whose bits are the slots that
have it, so "every word must match" is a handful of big-int ANDs. A sorted vocabulary
expands the last word as a prefix (unions cached per prefix, invalidated per token), and
:class:`SortKeys` holds one numpy array per sortable column (struct of arrays), so filtering
by date and sorting 10,000 tickets is vectorized. A new sortable column is one entry of
:data:`SORTABLE`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sortedcontainers import SortedList

from kernel.contracts.fields import TICKET_STATES
from services.portal_query.read_model import Conversation, ReadModel, Ticket
from services.portal_query.text import SearchQuery, token_set

FIELDS = ("title", "description", "conversation")
STATE_ORDER = {state: order for order, state in enumerate(TICKET_STATES)}
# Rank of a search hit, best first: named by its ID; then by the best place holding any
# query word (title, description, conversation), all the words in that place before some.
RANK_ID = 0
RANK_LOCATION = {RANK_ID: "title"} | {
    1 + 2 * place + some: field for place, field in enumerate(FIELDS) for some in (0, 1)
}
"""Where each rank found its best match (the preview is taken from there)."""
PREFIX_CACHE_SIZE = 4096
_EMPTY = np.empty(0, dtype=np.int64)

Words = tuple[frozenset[str], frozenset[str], frozenset[str]]  # per field of FIELDS
Source = tuple[str, str, str | None]
"""What a ticket's words were taken from: its title, description and conversation id."""
NO_WORDS: Words = (frozenset(), frozenset(), frozenset())


def source_of(ticket: Ticket) -> Source:
    return ticket.title, ticket.description, ticket.conversation_id


def conversation_tokens(conversation: Conversation) -> frozenset[str]:
    """The union of the tokens of the conversation's parts."""
    return frozenset().union(*(token_set(part.body) for part in conversation.parts.values()))


def slots_of(bits: int) -> np.ndarray:
    """The set bits of ``bits`` as an ascending array of slot numbers."""
    if not bits:
        return _EMPTY
    raw = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little"))


def bits_of(slots: list[int], size: int) -> int:
    """The bitset of ``slots`` (ascending) in a partition of ``size`` slots."""
    if len(slots) < 8:
        bits = 0
        for slot in slots:
            bits |= 1 << slot
        return bits
    flags = np.zeros(size, dtype=bool)
    flags[slots] = True
    return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")


def masks_of(bitsets: Sequence[int], size: int) -> np.ndarray:
    """``bitsets`` as the rows of a 0/1 ``uint8`` array of ``size`` slots, unpacked at once."""
    width = (size + 7) // 8 or 1
    raw = np.frombuffer(b"".join(bits.to_bytes(width, "little") for bits in bitsets), np.uint8)
    return np.unpackbits(raw.reshape(len(bitsets), width), axis=1, count=size, bitorder="little")


def first_holders(bitsets: Sequence[int], size: int) -> np.ndarray:
    """For each of ``size`` slots, the index of the first of ``bitsets`` holding it (0 where
    none does). Why not one mask per bitset: the binary digits of the index are gathered
    as bitsets with big-int operations first, so 7 bitsets unpack as 3 rows, and the
    index of every slot is a sum of shifted rows."""
    digits = [0] * max(1, (len(bitsets) - 1).bit_length())
    seen = 0
    for index, bits in enumerate(bitsets):
        first = bits & ~seen
        seen |= bits
        for digit in range(len(digits)):
            if index >> digit & 1:
                digits[digit] |= first
    shifts = np.arange(len(digits), dtype=np.uint8)[:, None]
    return (masks_of(digits, size) << shifts).sum(axis=0, dtype=np.int8)


@dataclass(frozen=True, slots=True)
class Filters:
    type: str | None = None
    state: str | None = None
    creator_id: str | None = None
    created_from: float | None = None
    created_to: float | None = None
    updated_from: float | None = None
    updated_to: float | None = None


@dataclass(slots=True)
class Hits:
    """The matching tickets of one partition: their sort keys per column, what the codes
    of each text column stand for, and their search ranks."""

    keys: dict[str, np.ndarray]
    texts: dict[str, list[str]]
    ranks: np.ndarray

    @property
    def ids(self) -> np.ndarray:
        return self.keys["id"]


@dataclass(frozen=True, slots=True)
class NumberColumn:
    """A sortable column whose key is a number of the ticket (and its "last updated")."""

    name: str  # the ``sort`` value of a ticket query
    dtype: type
    key: Callable[[Ticket, float], float]

    def encode(self, keys: SortKeys, ticket: Ticket, updated_at: float) -> float:
        return self.key(ticket, updated_at)

    def merged(self, hits: list[Hits]) -> np.ndarray:
        """The column over the hits of every partition, comparable across them."""
        return np.concatenate([h.keys[self.name] for h in hits])


@dataclass(frozen=True, slots=True)
class TextColumn:
    """A sortable text column, in case-insensitive order (then case-sensitive, so the
    order never depends on a set's iteration). A partition stores codes into its
    own list of the values it has seen; merging partitions maps the codes to one order."""

    name: str
    text: Callable[[Ticket], str]
    dtype: type = np.int32

    def encode(self, keys: SortKeys, ticket: Ticket, updated_at: float) -> int:
        return keys.code(self.name, self.text(ticket))

    def merged(self, hits: list[Hits]) -> np.ndarray:
        names = sorted(
            {name for h in hits for name in h.texts[self.name]},
            key=lambda name: (name.casefold(), name),
        )
        ordinal = {name: n for n, name in enumerate(names)}
        return np.concatenate(
            [
                np.array([ordinal[name] for name in h.texts[self.name]])[h.keys[self.name]]
                for h in hits
            ]
        )


SortColumn = NumberColumn | TextColumn
SORTABLE: dict[str, SortColumn] = {
    column.name: column
    for column in (
        NumberColumn("id", np.int64, lambda ticket, _updated_at: ticket.id),
        TextColumn("type", lambda ticket: ticket.type),
        NumberColumn(
            "state",
            np.int8,
            lambda ticket, _updated_at: STATE_ORDER.get(ticket.state, len(STATE_ORDER)),
        ),
        NumberColumn("created_at", np.float64, lambda ticket, _updated_at: ticket.created_at),
        NumberColumn("updated_at", np.float64, lambda _ticket, updated_at: updated_at),
    )
}
"""The columns a ticket table sorts by, by their ``sort`` name."""


class SortKeys:
    """The sort keys of one partition's slots: one numpy array per column of
    :data:`SORTABLE`, grown and filled together (a freed slot's keys are never read)."""

    def __init__(self, capacity: int = 16) -> None:
        self.arrays = {name: np.zeros(capacity, column.dtype) for name, column in SORTABLE.items()}
        self.texts: dict[str, list[str]] = {
            name: [] for name, column in SORTABLE.items() if isinstance(column, TextColumn)
        }
        self._codes: dict[str, dict[str, int]] = {name: {} for name in self.texts}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def code(self, column: str, text: str) -> int:
        """The code of ``text`` in a text column (new texts get the next one)."""
        codes = self._codes[column]
        code = codes.get(text)
        if code is None:
            code = codes[text] = len(self.texts[column])
            self.texts[column].append(text)
        return code

    def put(self, slot: int, ticket: Ticket, updated_at: float) -> None:
        for name, column in SORTABLE.items():
            self.arrays[name][slot] = column.encode(self, ticket, updated_at)

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` slots (doubling)."""
        size = len(self.arrays["id"])
        if capacity <= size:
            return
        while size < capacity:
            size *= 2
        for name, values in self.arrays.items():
            self.arrays[name] = np.concatenate([values, np.zeros(size - len(values), values.dtype)])

    def take(self, slots: np.ndarray, ranks: np.ndarray) -> Hits:
        return Hits(
            {name: values[slots] for name, values in self.arrays.items()}, self.texts, ranks
        )


class Partition:
    """The index of one company's tickets (or of the tickets without a company)."""

    def __init__(self, company_id: str | None) -> None:
        self.company_id = company_id
        self.slot_of: dict[int, int] = {}
        self.ticket_at: list[int | None] = []
        self.free: list[int] = []
        self.live = 0
        self.words: tuple[dict[str, int], ...] = ({}, {}, {})  # per field: token -> bits
        # Per slot, what its words came from (strings the ticket holds anyway), not the
        # words themselves: keeping every ticket's token sets cost more than the text.
        self.slot_sources: list[Source | None] = []
        self.vocabulary: SortedList = SortedList()
        self.types: dict[str, int] = {}
        self.states: dict[str, int] = {}
        self.creators: dict[str, int] = {}
        self.slot_labels: list[tuple[str, str, str]] = []  # (type, state, creator)
        self.sort_keys = SortKeys()
        self._prefix_cache: dict[str, tuple[int, int, int]] = {}

    def __len__(self) -> int:
        return len(self.slot_of)

    def __getstate__(self) -> dict:
        """A snapshot leaves the prefix cache out: queries change it while one is taken."""
        return {**vars(self), "_prefix_cache": {}}

    @property
    def size(self) -> int:
        return len(self.ticket_at)

    # changes ---------------------------------------------------------------------------

    def source(self, ticket_id: int) -> Source | None:
        """What the ticket's indexed words were taken from (``None``: not in here)."""
        slot = self.slot_of.get(ticket_id)
        return None if slot is None else self.slot_sources[slot]

    def put(self, ticket: Ticket, updated_at: float, old_words: Words, words: Words) -> None:
        """Index ``ticket`` with ``words``. ``old_words`` are its words when it was indexed,
        taken again from its :meth:`source` (its old title and description, and its
        conversation as it is now, whose parts only grow): a token of ``old_words`` not
        in ``words`` is unset, and every token of ``words`` is set (a conversation's new
        part is in both, so no difference of the two would find it)."""
        slot = self.slot_of.get(ticket.id)
        if slot is None:
            slot = self._allocate(ticket.id)
        else:
            self._unlabel(slot)
        bit = 1 << slot
        for field, (old, new) in enumerate(zip(old_words, words, strict=True)):
            for token in old - new:
                self._unset_word(field, token, bit)
            for token in new:
                self._set_word(field, token, bit)
        self.slot_sources[slot] = source_of(ticket)
        labels = (ticket.type, ticket.state, ticket.creator_id)
        self.slot_labels[slot] = labels
        for table, label in zip((self.types, self.states, self.creators), labels, strict=True):
            table[label] = table.get(label, 0) | bit
        self.sort_keys.put(slot, ticket, updated_at)
        self.live |= bit

    def load(
        self,
        entries: list[tuple[Ticket, float, Words]],
        pause: Callable[[], None] = lambda: None,
    ) -> None:
        """Fill an empty partition at once: slots are collected per token first and each
        bitset is built a single time (adding tickets one by one would rebuild every
        big int again for each ticket)."""
        count = len(entries)
        self.sort_keys.grow(count)
        postings: tuple[dict[str, list[int]], ...] = ({}, {}, {})
        label_postings: tuple[dict[str, list[int]], ...] = ({}, {}, {})
        for slot, (ticket, updated_at, words) in enumerate(entries):
            self.ticket_at.append(ticket.id)
            self.slot_of[ticket.id] = slot
            self.slot_sources.append(source_of(ticket))
            labels = (ticket.type, ticket.state, ticket.creator_id)
            self.slot_labels.append(labels)
            for field, tokens_ in enumerate(words):
                for token in tokens_:
                    postings[field].setdefault(token, []).append(slot)
            for table, label in zip(label_postings, labels, strict=True):
                table.setdefault(label, []).append(slot)
            self.sort_keys.put(slot, ticket, updated_at)
            pause()
        for field, table in enumerate(postings):
            for token, slots in table.items():
                self.words[field][token] = bits_of(slots, count)
                pause()
        for target, table in zip(
            (self.types, self.states, self.creators), label_postings, strict=True
        ):
            target.update({label: bits_of(s, count) for label, s in table.items()})
        self.vocabulary = SortedList(set().union(*postings))
        self.live = (1 << count) - 1

    def remove(self, ticket_id: int, old_words: Words) -> None:
        """Drop the ticket; ``old_words`` as for :meth:`put` (a token it holds that was
        never indexed for it changes nothing)."""
        slot = self.slot_of.pop(ticket_id, None)
        if slot is None:
            return
        bit = 1 << slot
        for field, words in enumerate(old_words):
            for token in words:
                self._unset_word(field, token, bit)
        self._unlabel(slot)
        self.slot_sources[slot] = None
        self.ticket_at[slot] = None
        self.live &= ~bit
        self.free.append(slot)

    def _allocate(self, ticket_id: int) -> int:
        if self.free:
            slot = self.free.pop()
        else:
            slot = len(self.ticket_at)
            self.ticket_at.append(None)
            self.slot_sources.append(None)
            self.slot_labels.append(("", "", ""))
            self.sort_keys.grow(slot + 1)
        self.ticket_at[slot] = ticket_id
        self.slot_of[ticket_id] = slot
        return slot

    def _unlabel(self, slot: int) -> None:
        bit = 1 << slot
        tables = (self.types, self.states, self.creators)
        for table, label in zip(tables, self.slot_labels[slot], strict=True):
            remaining = table.get(label, 0) & ~bit
            if remaining:
                table[label] = remaining
            else:
                table.pop(label, None)

    def _set_word(self, field: int, token: str, bit: int) -> None:
        table = self.words[field]
        bits = table.get(token, 0)
        if bits & bit:
            return
        if not any(token in words for words in self.words):
            self.vocabulary.add(token)
        table[token] = bits | bit
        self._forget_prefixes(token)

    def _unset_word(self, field: int, token: str, bit: int) -> None:
        table = self.words[field]
        bits = table.get(token, 0)
        if not bits & bit:
            return
        remaining = bits & ~bit
        if remaining:
            table[token] = remaining
        else:
            del table[token]
            if not any(token in words for words in self.words):
                self.vocabulary.remove(token)
        self._forget_prefixes(token)

    def _forget_prefixes(self, token: str) -> None:
        cache = self._prefix_cache
        if cache:
            for end in range(1, len(token) + 1):
                cache.pop(token[:end], None)

    # lookups ---------------------------------------------------------------------------

    def word_bits(self, word: str) -> tuple[int, int, int]:
        title, description, conversation = self.words
        return title.get(word, 0), description.get(word, 0), conversation.get(word, 0)

    def prefix_bits(self, prefix: str) -> tuple[int, int, int]:
        """Per field, the tickets holding a token that starts with ``prefix``."""
        cached = self._prefix_cache.get(prefix)
        if cached is not None:
            return cached
        title = description = conversation = 0
        title_words, description_words, conversation_words_ = self.words
        for token in self.vocabulary.irange(prefix, prefix + "\U0010ffff"):
            title |= title_words.get(token, 0)
            description |= description_words.get(token, 0)
            conversation |= conversation_words_.get(token, 0)
        result = (title, description, conversation)
        if len(self._prefix_cache) >= PREFIX_CACHE_SIZE:
            self._prefix_cache.clear()
        self._prefix_cache[prefix] = result
        return result

    def id_bits(self, ticket_ids: Iterable[int]) -> int:
        bits = 0
        for ticket_id in ticket_ids:
            slot = self.slot_of.get(ticket_id)
            if slot is not None:
                bits |= 1 << slot
        return bits

    def search(self, bits: int, query: SearchQuery, filters: Filters) -> Hits:
        """The tickets among ``bits`` that match ``filters`` and (if any) ``query``."""
        if filters.type is not None:
            bits &= self.types.get(filters.type, 0)
        if filters.state is not None:
            bits &= self.states.get(filters.state, 0)
        if filters.creator_id is not None:
            bits &= self.creators.get(filters.creator_id, 0)
        levels: tuple[int, ...] = ()
        if query is not None and bits:
            bits, levels = self._match(bits, query)
        slots = slots_of(bits)
        keep = None
        for column, low, high in (
            ("created_at", filters.created_from, filters.created_to),
            ("updated_at", filters.updated_from, filters.updated_to),
        ):
            values = self.sort_keys[column]
            if low is not None:
                keep = (values[slots] >= low) & (True if keep is None else keep)
            if high is not None:
                keep = (values[slots] <= high) & (True if keep is None else keep)
        if keep is not None:
            slots = slots[keep]
        if levels:
            ranks = first_holders(levels, self.size)[slots]
        else:
            ranks = np.zeros(len(slots), dtype=np.int8)
        return self.sort_keys.take(slots, ranks)

    def _match(self, bits: int, query: SearchQuery) -> tuple[int, tuple[int, ...]]:
        """The tickets where every word matches somewhere, and the tickets of each rank
        (see :data:`RANK_LOCATION`): those named by id, then per field those holding all
        the words there and those holding some. A match ranks by the first level it is in;
        it is in one at least (a match holding no word in any field was named by its id)."""
        by_id = self.id_bits(query.ticket_ids)
        all_in_field = [bits, bits, bits]
        any_in_field = [0, 0, 0]
        anywhere = bits
        numbers = {str(ticket_id) for ticket_id in query.ticket_ids}
        per_word = [self.word_bits(word) for word in query.exact_words]
        per_word.append(self.prefix_bits(query.prefix))
        for word, fields in zip(query.words, per_word, strict=True):
            word_anywhere = fields[0] | fields[1] | fields[2]
            if word in numbers:
                word_anywhere |= by_id
            anywhere &= word_anywhere
            for field in range(3):
                all_in_field[field] &= fields[field]
                any_in_field[field] |= fields[field]
        levels = [anywhere & by_id]
        for all_here, any_here in zip(all_in_field, any_in_field, strict=True):
            levels += [anywhere & all_here, anywhere & any_here]
        return anywhere, tuple(levels)

    def visible_to(self, creator_id: str | None) -> int:
        """Every ticket, or only those ``creator_id`` created (visibility conditions)."""
        return self.live if creator_id is None else self.creators.get(creator_id, 0)


class SearchIndex:
    """Every partition, and which partition each ticket is in."""

    def __init__(self) -> None:
        self.partitions: dict[str | None, Partition] = {}
        self.partition_of: dict[int, str | None] = {}

    @classmethod
    def build(cls, model: ReadModel, pause: Callable[[], None] = lambda: None) -> SearchIndex:
        """Index every ticket of ``model`` in bulk, calling ``pause`` after each small
        step so a caller under eventlet can let other greenthreads run. One partition at
        a time: the tokens of one company's tickets are alive at once, never everyone's
        (freed memory mostly stays with the process, so the peak is what it keeps)."""
        index = cls()
        tickets: dict[str | None, list[Ticket]] = {}
        for ticket in model.tickets.values():
            tickets.setdefault(ticket.company_id, []).append(ticket)
            index.partition_of[ticket.id] = ticket.company_id
        for company_id, company_tickets in tickets.items():
            entries = []
            for ticket in company_tickets:
                entries.append(
                    (ticket, model.updated_at(ticket), words_of(model, source_of(ticket)))
                )
                pause()
            partition = index.partitions[company_id] = Partition(company_id)
            partition.load(entries, pause)
        return index

    def partition(self, company_id: str | None) -> Partition | None:
        return self.partitions.get(company_id)

    def refresh(self, model: ReadModel, ticket_id: int) -> None:
        """Bring one ticket's entries up to date with the model."""
        ticket = model.tickets.get(ticket_id)
        old_key = self.partition_of.get(ticket_id, ...)
        old_words = NO_WORDS
        if old_key is not ...:
            old_words = words_of(model, self.partitions[old_key].source(ticket_id))
        if ticket is None:
            if old_key is not ...:
                self.partitions[old_key].remove(ticket_id, old_words)
                del self.partition_of[ticket_id]
            return
        if old_key is not ... and old_key != ticket.company_id:
            self.partitions[old_key].remove(ticket_id, old_words)
            old_words = NO_WORDS
        partition = self.partitions.get(ticket.company_id)
        if partition is None:
            partition = self.partitions[ticket.company_id] = Partition(ticket.company_id)
        words = words_of(model, source_of(ticket))
        partition.put(ticket, model.updated_at(ticket), old_words, words)
        self.partition_of[ticket_id] = ticket.company_id


def words_of(model: ReadModel, source: Source | None) -> Words:
    """The words of each field, from a ticket's title, description and conversation."""
    if source is None:
        return NO_WORDS
    title, description, conversation_id = source
    conversation = model.conversations.get(conversation_id or "")
    return (
        token_set(title),
        token_set(description),
        conversation_tokens(conversation) if conversation else frozenset(),
    )
