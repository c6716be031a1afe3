"""Nameko shell of portal_query: bus messages prompt a catch-up from the store."""

from __future__ import annotations

from nameko.events import event_handler
from nameko.rpc import rpc
from nameko.timer import timer

from kernel.contracts.envelope import check_envelope
from kernel.dependencies import RequestContext
from kernel.logging import get_logger
from services.portal_query.dependencies import Projection

log = get_logger(__name__)


class PortalQueryService:
    name = "portal_query"

    context = RequestContext()
    projection = Projection()

    def _prompted(self, envelope: dict) -> None:
        event = check_envelope(envelope)
        if event.position > self.projection.checkpoint:
            self.projection.catch_up()
        log.info("event received", position=event.position, type=event.type)

    @event_handler("tickets", "#")
    def on_ticket_event(self, envelope: dict) -> None:
        self._prompted(envelope)

    @timer(interval=0.5)
    def catch_up(self) -> None:
        self.projection.catch_up()

    @rpc
    def admin_list_tickets(self) -> dict:
        items = sorted(self.projection.tickets.values(), key=lambda t: t["id"])
        return {"items": items, "total": len(items)}

    @rpc
    def health(self) -> dict:
        return {"service": self.name, "status": "ok"}
