"""A contact's e-mail preferences: the write side the notifications service owns.

Commands in, events out: a preference change is a ``NotificationPreferencesChanged`` on the
contact's own stream, from the portal's setting or from a one-click unsubscribe link.
"""

from __future__ import annotations

from collections.abc import Iterable

from kernel.contracts.envelope import Decision, RecordedEvent
from services.notifications.notices import COMPANY_TICKETS, MY_TICKETS, Preferences


def stream_of(contact_id: str) -> str:
    return f"notification_preferences-{contact_id}"


def fold(history: Iterable[RecordedEvent]) -> Preferences:
    """The contact's preferences; the defaults before they ever changed them."""
    preferences = Preferences()
    for event in history:
        if event.type == "NotificationPreferencesChanged":
            data = event.payload
            preferences = Preferences(data[MY_TICKETS], data[COMPANY_TICKETS])
    return preferences


def change(
    current: Preferences, contact_id: str, wanted: Preferences, source: str
) -> list[Decision]:
    """The change to ``wanted``; nothing when that is how they are already."""
    if wanted == current:
        return []
    return [
        (
            "NotificationPreferencesChanged",
            {"contact_id": contact_id, **wanted.to_dict(), "source": source},
        )
    ]


def unsubscribe(current: Preferences, contact_id: str, reason: str) -> list[Decision]:
    """Turn off the list an e-mail came on (``reason``); nothing when it is off already."""
    wanted = Preferences(**{**current.to_dict(), reason: False})
    return change(current, contact_id, wanted, "unsubscribe")
