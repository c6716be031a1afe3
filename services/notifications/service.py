"""Nameko shell of the notifications service: a portal user's e-mail preferences (read and
changed on their own stream), the one-click unsubscribe, and bus messages that prompt the
notifier. See docs/rpc.md and docs/notifications.md."""

from __future__ import annotations

from nameko.events import BROADCAST, event_handler

from kernel.aggregate import execute
from kernel.contracts import commands
from kernel.contracts.validation import validate
from kernel.logging import get_logger
from kernel.rpc import rpc
from kernel.service import WriteService
from services.notifications import domain
from services.notifications.dependencies import Notifications
from services.notifications.notices import Preferences

log = get_logger(__name__)


class NotificationsService(WriteService):
    name = "notifications"

    notifications = Notifications()

    # prompts: every copy is told on a queue of its own; the lease holder acts on it ------

    @event_handler("tickets", "#", handler_type=BROADCAST, reliable_delivery=False)
    def on_tickets_event(self, envelope: object) -> None:
        self.notifications.prompt()

    @event_handler("messenger_bridge", "#", handler_type=BROADCAST, reliable_delivery=False)
    def on_messenger_bridge_event(self, envelope: object) -> None:
        self.notifications.prompt()

    # preferences ---------------------------------------------------------------------------

    @rpc
    def get_preferences(self, user_id: str) -> dict:
        user_id = validate(commands.USER_ID, {"user_id": user_id}, "user id")["user_id"]
        history = self.event_log.read_stream(domain.stream_of(user_id))
        return domain.fold(history).to_dict()

    @rpc
    def change_preferences(self, user_id: str, command: dict) -> dict:
        user_id = validate(commands.USER_ID, {"user_id": user_id}, "user id")["user_id"]
        wanted = Preferences(**validate(commands.NOTIFICATION_PREFERENCES, command, "settings"))
        history, written = execute(
            self.event_log,
            domain.stream_of(user_id),
            lambda h: domain.change(domain.fold(h), user_id, wanted, "portal"),
        )
        log.info("notification preferences changed", contact_id=user_id, changed=bool(written))
        return domain.fold(history).to_dict()

    @rpc
    def unsubscribe(self, command: dict) -> dict:
        """Turn off the list the signed token names (:class:`NotFound` for a token this
        platform did not sign). Answers the list turned off."""
        token = validate(commands.UNSUBSCRIBE, command, "unsubscribe")["token"]
        contact_id, reason = self.notifications.signer.read(token)
        _, written = execute(
            self.event_log,
            domain.stream_of(contact_id),
            lambda h: domain.unsubscribe(domain.fold(h), contact_id, reason),
        )
        log.info("unsubscribed", contact_id=contact_id, list=reason, changed=bool(written))
        return {"list": reason}

    @rpc
    def status(self) -> dict:
        """The outbox: its checkpoint, e-mails by state, and which copy sends."""
        return self.notifications.status()
