"""Search tokens of conversation parts and conversations, computed on first use and kept on
the part or conversation itself (the ``words`` field), so a preview or an index refresh does
not tokenize the same text again.

A conversation's tokens are immutable once computed (the search index shares the frozenset
instead of copying it); a new part makes a new union.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.portal_query.text import token_set

if TYPE_CHECKING:
    from services.portal_query.read_model import Conversation, Part


def part_words(part: Part) -> frozenset[str]:
    """The part's tokens, kept once computed (previews look at the same hits again)."""
    if part.words is None:
        part.words = token_set(part.body)
    return part.words


def conversation_words(conversation: Conversation) -> frozenset[str]:
    if conversation.words is None:
        # Not through part_words: keeping every part's tokens would cost more memory
        # than the whole text.
        conversation.words = frozenset().union(
            *(token_set(part.body) for part in conversation.parts.values())
        )
    return conversation.words


def add_part_words(conversation: Conversation, part: Part) -> None:
    """Keep the conversation's tokens (if computed already) in step with a new part."""
    if conversation.words is not None:
        conversation.words = conversation.words | token_set(part.body)
