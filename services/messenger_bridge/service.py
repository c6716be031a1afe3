"""Nameko shell of messenger_bridge: validate, gather contacts and access, run the domain,
append. See docs/rpc.md."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from kernel.aggregate import create, execute
from kernel.contracts import commands
from kernel.contracts.envelope import Decision, RecordedEvent
from kernel.contracts.validation import validate
from kernel.dependencies import TimedRpcProxy
from kernel.errors import NotFound
from kernel.logging import get_logger
from kernel.portal_access_index import PortalAccess
from kernel.read_side import PortalReadSide
from kernel.rpc import rpc
from kernel.service import WriteService
from services.messenger_bridge import domain

log = get_logger(__name__)

# Ids derived from an idempotency key: uuid5(namespace, "<purpose>:<key>").
DERIVED_ID_NAMESPACE = uuid.UUID("c4f1d9e2-7a3b-4c5d-8e6f-0a1b2c3d4e5f")
PORTAL_URL = "/"


class MessengerBridgeService(WriteService):
    name = "messenger_bridge"

    identity = TimedRpcProxy("identity")
    tickets = TimedRpcProxy("tickets")
    portal_query = PortalReadSide()
    access = PortalAccess()

    @rpc
    def start_conversation(self, command: dict) -> dict:
        """A user's opening message starts a conversation: both events in one append."""
        command = validate(commands.START_CONVERSATION, command, "conversation")
        conversation_id = self._new_id("conv", "conversation")
        part_id = self._new_id("part", "part")
        contact = self._contact(command["user_id"])

        history = create(
            self.event_log,
            [conversation_id],
            domain.stream_of,
            lambda new_id: domain.start_conversation(new_id, part_id, command, contact),
        )
        conversation = domain.fold(history)
        log.info(
            "conversation started",
            conversation_id=conversation.conversation_id,
            contact_id=conversation.contact_id,
        )
        return conversation.to_dict(ticket_id=None)

    @rpc
    def add_part(self, conversation_id: str, command: dict) -> dict:
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        command = validate(commands.ADD_PART, command, "conversation part")
        contact = self._contact(command["author_id"]) if command["author_type"] == "user" else None
        part, _ = self._add_part(
            conversation_id,
            lambda conversation, part_id: domain.add_part(conversation, part_id, command, contact),
        )
        log.info(
            "conversation part added",
            conversation_id=conversation_id,
            part_id=part.part_id,
            author_type=part.author_type,
            internal=part.internal,
        )
        return part.to_dict()

    @rpc
    def user_reply(self, conversation_id: str, user_id: str, command: dict) -> dict:
        """A portal user's message in a conversation they take part in. Participation is
        read from the conversation's own stream (a join counts at once); whether a
        non-participant may open it (403) or not (404) from the portal access index.
        ``position``: the store position of the message, for the reader's next query."""
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        validate(commands.USER_ID, {"user_id": user_id}, "user id")
        command = validate(commands.USER_REPLY, command, "message")
        contact = self._contact(user_id)

        def reply(conversation: domain.Conversation, part_id: str) -> list[Decision]:
            if user_id not in conversation.participant_ids:
                may_open = self.access.may_open(
                    user_id, conversation_id, conversation.participant_ids
                )
                domain.refuse_outsider(conversation_id, may_open)
            return domain.user_reply(conversation, part_id, user_id, command["body"], contact)

        part, position = self._add_part(conversation_id, reply)
        log.info(
            "user replied",
            conversation_id=conversation_id,
            part_id=part.part_id,
            contact_id=user_id,
        )
        return {**part.customer_view(), "position": position}

    @rpc
    def user_conversation(self, conversation_id: str, user_id: str, min_position: int = 0) -> dict:
        """A conversation as the Messenger shows it to a portal user (portal_query decides
        who may open it and holds only customer-visible parts), once it shows the store's
        ``min_position`` (the user's own last write)."""
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        validate(commands.USER_ID, {"user_id": user_id}, "user id")
        conversation = self.portal_query.portal_conversation(
            user_id, conversation_id, min_position=min_position
        )
        portal_enabled = conversation.pop("portal_enabled")
        return {
            **conversation,
            "messenger_url": self._messenger_url(conversation["id"]),
            "portal_url": PORTAL_URL if portal_enabled else None,
        }

    @rpc
    def get_conversation(self, conversation_id: str) -> dict:
        """The teammate view, internal notes included, with the linked ticket's id (which
        the tickets service owns)."""
        conversation = self._conversation(conversation_id)
        return conversation.to_dict(ticket_id=self.tickets.linked_ticket(conversation_id))

    @rpc
    def conversation_participants(self, conversation_id: str) -> dict:
        """Who takes part in the conversation: what tickets needs to make or link a ticket."""
        conversation = self._conversation(conversation_id)
        return {
            "id": conversation.conversation_id,
            "contact_id": conversation.contact_id,
            "participant_ids": list(conversation.participant_ids),
        }

    def _conversation(self, conversation_id: str) -> domain.Conversation:
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        history = self.event_log.read_stream(domain.stream_of(conversation_id))
        return domain.existing_conversation(history, conversation_id)

    @rpc
    def join_conversation(self, ticket_id: int, user_id: str) -> dict:
        """A portal user joins the conversation of a ticket they may see (by the portal
        access index). ``joined`` tells whether this call added them (false: they already
        took part); ``position`` is the store position the reader's next query must show
        (the join, or the conversation's last event when they took part already)."""
        validate(commands.JOIN_CONVERSATION, {"ticket_id": ticket_id, "user_id": user_id}, "join")
        conversation_id = self.access.visible_ticket(user_id, ticket_id).conversation_id
        if conversation_id is None:
            raise NotFound(
                f"ticket {ticket_id} has no linked conversation",
                {"ticket_id": "no linked conversation"},
            )

        def decide(history: list[RecordedEvent]) -> list[Decision]:
            return domain.join(
                domain.existing_conversation(history, conversation_id), user_id, ticket_id
            )

        history, written = execute(self.event_log, domain.stream_of(conversation_id), decide)
        joined = bool(written)
        log.info(
            "conversation joined",
            conversation_id=conversation_id,
            ticket_id=ticket_id,
            contact_id=user_id,
            joined=joined,
        )
        return {
            "conversation_id": conversation_id,
            "messenger_url": domain.MESSENGER_URL.format(conversation_id=conversation_id),
            "joined": joined,
            "position": (written or history)[-1].position,
        }

    @rpc
    def remove_participant(self, conversation_id: str, user_id: str) -> dict:
        """A teammate removes a user from the conversation (docs/conversations.md: who
        keeps a conversation). ``removed`` tells whether this call took them out (false:
        they did not take part)."""
        validate(commands.CONVERSATION_ID, {"conversation_id": conversation_id}, "conversation id")
        validate(commands.USER_ID, {"user_id": user_id}, "user id")
        history, written = execute(
            self.event_log,
            domain.stream_of(conversation_id),
            lambda h: domain.remove_participant(
                domain.existing_conversation(h, conversation_id), user_id
            ),
        )
        log.info(
            "participant removed",
            conversation_id=conversation_id,
            contact_id=user_id,
            removed=bool(written),
        )
        conversation = domain.fold(history)
        return {
            **conversation.to_dict(ticket_id=self.tickets.linked_ticket(conversation_id)),
            "removed": bool(written),
        }

    @rpc
    def tickets_space(self, user_id: str, min_position: int = 0) -> dict:
        """The Messenger tickets space, with the banner link back to the portal (``None``
        while the portal is off: no banner), once it shows the store's ``min_position``."""
        validate(commands.USER_ID, {"user_id": user_id}, "user id")
        space = self.portal_query.tickets_space(user_id, min_position=min_position)
        items = [
            {**item, "messenger_url": self._messenger_url(item["conversation_id"])}
            for item in space["items"]
        ]
        return {"items": items, "portal_url": PORTAL_URL if space["portal_enabled"] else None}

    # helpers -------------------------------------------------------------------------------

    def _add_part(
        self,
        conversation_id: str,
        decide: Callable[[domain.Conversation, str], list[Decision]],
    ) -> tuple[domain.Part, int]:
        """Add the part ``decide(conversation, part_id)`` writes; answer it as stored, and
        the store position of its last event."""
        part_id = self._new_id("part", "part")
        history, written = execute(
            self.event_log,
            domain.stream_of(conversation_id),
            lambda h: decide(domain.existing_conversation(h, conversation_id), part_id),
        )
        return domain.fold(history).part(part_id), (written or history)[-1].position

    def _new_id(self, prefix: str, purpose: str) -> str:
        """A fresh id, or with an idempotency key one derived from it, so a retried request
        names the same conversation and part."""
        key = self.event_log.idempotency_key
        if key is None:
            return f"{prefix}-{uuid.uuid4().hex}"
        return f"{prefix}-{uuid.uuid5(DERIVED_ID_NAMESPACE, f'{purpose}:{key}').hex}"

    @staticmethod
    def _messenger_url(conversation_id: str | None) -> str | None:
        if conversation_id is None:
            return None
        return domain.MESSENGER_URL.format(conversation_id=conversation_id)

    def _contact(self, contact_id: str) -> dict | None:
        return self.identity.get_contacts([contact_id]).get(contact_id)
