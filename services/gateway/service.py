"""HTTP entrypoints: authenticate, read and validate, call one service, answer JSON.

Routes and their answers are described in ``openapi.yaml`` beside this file (a test keeps
the two in step). Every body is validated against ``kernel/contracts/commands.py`` here,
before any service is called, and again by the service at its RPC edge.
"""

from __future__ import annotations

import eventlet
from nameko.events import BROADCAST, event_handler
from werkzeug.wrappers import Request, Response

from kernel.contracts import commands
from kernel.contracts.validation import validate
from kernel.dependencies import RequestContext, TimedRpcProxy
from kernel.errors import PortalError, Unauthenticated
from kernel.logging import get_logger
from kernel.read_side import PortalReadSide
from services.gateway.auth import session_token
from services.gateway.dependencies import PortalIdempotency, TeammateAuthority, WebAssets
from services.gateway.entrypoints import error_response, route
from services.gateway.inputs import (
    entity_id,
    parse_ticket_query,
    read_body,
    read_json,
    read_optional_json_object,
    ticket_number,
)
from services.gateway.positions import answer_with_position, read_position
from services.gateway.responses import clear_session_cookie, json_response, set_session_cookie
from services.gateway.sessions import PortalSessions
from services.gateway.unsubscribe_page import confirm_page, done_page

log = get_logger(__name__)


class GatewayService:
    name = "gateway"

    context = RequestContext()
    teammates = TeammateAuthority()
    portal_writes = PortalIdempotency()
    web = WebAssets()
    sessions = PortalSessions()
    identity = TimedRpcProxy("identity")
    companies = TimedRpcProxy("companies")
    tickets = TimedRpcProxy("tickets")
    messenger_bridge = TimedRpcProxy("messenger_bridge")
    portal_query = PortalReadSide()
    notifications = TimedRpcProxy("notifications")

    def _portal_user(self, request: Request) -> str:
        """The user id of the request's live portal session (401 otherwise), checked here:
        a portal request costs one RPC, to the service that answers it."""
        return self.sessions.user_of(session_token(request))

    # sessions ending elsewhere: each gateway process is told on a queue of its own -----------

    @event_handler(
        "identity", "PortalSessionRevoked", handler_type=BROADCAST, reliable_delivery=False
    )
    def on_session_ended(self, envelope: object) -> None:
        self.sessions.prompt()

    @event_handler(
        "identity", "PortalSessionsRevoked", handler_type=BROADCAST, reliable_delivery=False
    )
    def on_sessions_revoked(self, envelope: object) -> None:
        self.sessions.prompt()

    # health -------------------------------------------------------------------------------

    @route("GET", "/healthz")
    def health(self, request: Request) -> Response:
        """200 when every service answers its ``health`` RPC in time, else 503 naming them.
        The services are asked at once, so a stopped one costs one RPC timeout, not five."""
        proxies = {
            "identity": self.identity,
            "companies": self.companies,
            "tickets": self.tickets,
            "messenger_bridge": self.messenger_bridge,
            "portal_query": self.portal_query,
            "notifications": self.notifications,
        }

        def ask(name: str) -> tuple[str, dict]:
            try:
                return name, {"status": proxies[name].health()["status"]}
            except PortalError as error:
                return name, {"status": error.code, "message": error.message}
            except Exception as error:  # any other failure to answer is just as unhealthy
                # An answer, not a fault of the gateway: one line, no traceback (while a stack
                # starts, the first checks find no RPC exchange in the broker yet).
                log.warning("health check failed", service=name, error=repr(error))
                return name, {"status": "error"}

        report = dict(eventlet.GreenPool(len(proxies)).imap(ask, proxies))
        failing = sorted(name for name, answer in report.items() if answer["status"] != "ok")
        return json_response(
            {"status": "failing" if failing else "ok", "failing": failing, "services": report},
            503 if failing else 200,
        )

    # portal: session ----------------------------------------------------------------------

    @route("POST", "/api/portal/session")
    def start_session(self, request: Request) -> Response:
        # identity reads the credentials itself: unreadable ones are a 401 like wrong ones.
        session = self.identity.start_session(read_json(request))
        log.info("portal session started", user_id=session["user_id"])
        response = json_response(session, 201)
        set_session_cookie(response, request, session["token"], session["expires_at"])
        return response

    @route("DELETE", "/api/portal/session")
    def end_session(self, request: Request) -> Response:
        """Log out: revoke the session and clear the cookie (also when it no longer works)."""
        try:
            token = session_token(request)
            self.sessions.user_of(token)
        except Unauthenticated as error:
            response = error_response(error)
        else:
            self.identity.end_session(token)
            self.sessions.catch_up()  # this process refuses the token from its next request
            response = Response(status=204)
        clear_session_cookie(response, request)
        return response

    # portal: tickets ----------------------------------------------------------------------

    @route("GET", "/api/portal/me")
    def portal_me(self, request: Request) -> Response:
        user_id = self._portal_user(request)
        position = read_position(request)
        return json_response(self.portal_query.portal_me(user_id, min_position=position))

    @route("GET", "/api/portal/tickets")
    def portal_tickets(self, request: Request) -> Response:
        user_id = self._portal_user(request)
        query = parse_ticket_query(request.args)
        position = read_position(request)
        return json_response(
            self.portal_query.portal_list_tickets(user_id, query, min_position=position)
        )

    @route("GET", "/api/portal/tickets/facets")
    def portal_facets(self, request: Request) -> Response:
        """The filter choices, apart from the list: they cover every visible ticket whatever
        the list's query, so the page asks for them once, not with every page."""
        user_id = self._portal_user(request)
        position = read_position(request)
        return json_response(self.portal_query.portal_facets(user_id, min_position=position))

    @route("GET", "/api/portal/tickets/<ticket_id>")
    def portal_ticket(self, request: Request, ticket_id: str) -> Response:
        user_id = self._portal_user(request)
        number, position = ticket_number(ticket_id), read_position(request)
        return json_response(
            self.portal_query.portal_get_ticket(user_id, number, min_position=position)
        )

    @route("GET", "/api/portal/ticket-types")
    def portal_ticket_types(self, request: Request) -> Response:
        """The ticket types a customer may create, with only their customer-visible fields."""
        self._portal_user(request)
        return json_response(self.tickets.customer_ticket_types())

    @route("POST", "/api/portal/tickets")
    def submit_ticket(self, request: Request) -> Response:
        user_id = self._portal_user(request)
        command = validate(commands.SUBMIT_TICKET, read_json(request), "ticket")
        self.portal_writes.scope_to(user_id)
        return answer_with_position(self.tickets.submit_ticket(user_id, command), 201)

    @route("POST", "/api/portal/tickets/<ticket_id>/resolve")
    def resolve_ticket(self, request: Request, ticket_id: str) -> Response:
        return self._customer_state_change(request, ticket_id, "resolve")

    @route("POST", "/api/portal/tickets/<ticket_id>/reopen")
    def reopen_ticket(self, request: Request, ticket_id: str) -> Response:
        return self._customer_state_change(request, ticket_id, "reopen")

    def _customer_state_change(self, request: Request, ticket_id: str, action: str) -> Response:
        user_id = self._portal_user(request)
        number = ticket_number(ticket_id)
        validate(commands.CUSTOMER_STATE_BODY, read_optional_json_object(request), action)
        self.portal_writes.scope_to(user_id)
        return answer_with_position(self.tickets.customer_state_change(number, user_id, action))

    @route("POST", "/api/portal/tickets/<ticket_id>/join")
    def join_conversation(self, request: Request, ticket_id: str) -> Response:
        user_id = self._portal_user(request)
        number = ticket_number(ticket_id)
        validate(commands.JOIN_BODY, read_optional_json_object(request), "join")
        return answer_with_position(self.messenger_bridge.join_conversation(number, user_id))

    @route("GET", "/api/messenger/tickets")
    def tickets_space(self, request: Request) -> Response:
        user_id = self._portal_user(request)
        position = read_position(request)
        return json_response(self.messenger_bridge.tickets_space(user_id, min_position=position))

    @route("GET", "/api/messenger/conversations/<conversation_id>")
    def user_conversation(self, request: Request, conversation_id: str) -> Response:
        user_id = self._portal_user(request)
        conversation_id = entity_id(conversation_id, "conversation")
        position = read_position(request)
        return json_response(
            self.messenger_bridge.user_conversation(conversation_id, user_id, min_position=position)
        )

    @route("POST", "/api/messenger/conversations/<conversation_id>/messages")
    def user_reply(self, request: Request, conversation_id: str) -> Response:
        user_id = self._portal_user(request)
        conversation_id = entity_id(conversation_id, "conversation")
        command = validate(commands.USER_REPLY, read_json(request), "message")
        self.portal_writes.scope_to(user_id)
        part = self.messenger_bridge.user_reply(conversation_id, user_id, command)
        return answer_with_position(part, 201)

    # portal: e-mail notifications ---------------------------------------------------------

    @route("GET", "/api/portal/notifications")
    def notification_preferences(self, request: Request) -> Response:
        user_id = self._portal_user(request)
        return json_response(self.notifications.get_preferences(user_id))

    @route("PUT", "/api/portal/notifications")
    def change_notification_preferences(self, request: Request) -> Response:
        user_id = self._portal_user(request)
        command = validate(commands.NOTIFICATION_PREFERENCES, read_json(request), "settings")
        self.portal_writes.scope_to(user_id)
        return json_response(self.notifications.change_preferences(user_id, command))

    @route("GET", "/notifications/unsubscribe")
    def unsubscribe_page(self, request: Request) -> Response:
        """What an e-mail's unsubscribe link opens: a button, nothing changed yet."""
        command = validate(commands.UNSUBSCRIBE, dict(request.args.items()), "unsubscribe")
        return confirm_page(command["token"])

    @route("POST", "/notifications/unsubscribe")
    def unsubscribe(self, request: Request) -> Response:
        """The one-click unsubscribe (RFC 8058): the signed token in the address is the
        authority (no session), whatever the body (``List-Unsubscribe=One-Click``)."""
        command = validate(commands.UNSUBSCRIBE, dict(request.args.items()), "unsubscribe")
        read_body(request)  # within the size limit, else 413
        return done_page(self.notifications.unsubscribe(command)["list"])

    # teammates: contacts and companies ----------------------------------------------------

    @route("POST", "/api/admin/contacts")
    def save_contact(self, request: Request) -> Response:
        self.teammates.verify(request)
        command = validate(commands.SAVE_CONTACT, read_json(request), "contact")
        return json_response(self.identity.save_contact(command))

    @route("GET", "/api/admin/contacts/<contact_id>")
    def get_contact(self, request: Request, contact_id: str) -> Response:
        self.teammates.verify(request)
        return json_response(self.identity.get_contact(entity_id(contact_id, "contact")))

    @route("GET", "/api/admin/companies")
    def list_companies(self, request: Request) -> Response:
        self.teammates.verify(request)
        return json_response(self.portal_query.companies())

    @route("POST", "/api/admin/companies")
    def create_company(self, request: Request) -> Response:
        self.teammates.verify(request)
        command = validate(commands.CREATE_COMPANY, read_json(request), "company")
        return json_response(self.companies.create_company(command), 201)

    @route("GET", "/api/admin/companies/<company_id>")
    def get_company(self, request: Request, company_id: str) -> Response:
        self.teammates.verify(request)
        return json_response(self.companies.get_company(entity_id(company_id, "company")))

    @route("PATCH", "/api/admin/companies/<company_id>")
    def rename_company(self, request: Request, company_id: str) -> Response:
        self.teammates.verify(request)
        company_id = entity_id(company_id, "company")
        command = validate(commands.RENAME_COMPANY, read_json(request), "company")
        return json_response(self.companies.rename_company(company_id, command))

    @route("POST", "/api/admin/companies/<company_id>/members")
    def add_member(self, request: Request, company_id: str) -> Response:
        self.teammates.verify(request)
        company_id = entity_id(company_id, "company")
        command = validate(commands.ADD_MEMBER, read_json(request), "membership")
        return json_response(self.companies.add_member(company_id, command))

    @route("DELETE", "/api/admin/companies/<company_id>/members/<user_id>")
    def remove_member(self, request: Request, company_id: str, user_id: str) -> Response:
        self.teammates.verify(request)
        return json_response(
            self.companies.remove_member(
                entity_id(company_id, "company"), entity_id(user_id, "member")
            )
        )

    @route("GET", "/api/admin/companies/<company_id>/members")
    def company_members(self, request: Request, company_id: str) -> Response:
        """A company profile's members with their names and emails (from the read side)."""
        self.teammates.verify(request)
        company_id = entity_id(company_id, "company")
        return json_response(self.portal_query.company_members(company_id))

    @route("GET", "/api/admin/companies/<company_id>/tickets")
    def company_tickets(self, request: Request, company_id: str) -> Response:
        self.teammates.verify(request)
        company_id = entity_id(company_id, "company")
        query = parse_ticket_query(request.args)
        return json_response(self.portal_query.company_tickets(company_id, query))

    # teammates: tickets -------------------------------------------------------------------

    @route("POST", "/api/admin/tickets")
    def create_ticket(self, request: Request) -> Response:
        self.teammates.verify(request)
        command = validate(commands.CREATE_TICKET, read_json(request), "ticket")
        return json_response(self.tickets.create_ticket(command), 201)

    @route("GET", "/api/admin/tickets")
    def inbox(self, request: Request) -> Response:
        self.teammates.verify(request)
        query = parse_ticket_query(request.args)
        return json_response(self.portal_query.admin_list_tickets(query))

    @route("GET", "/api/admin/inbox/facets")
    def inbox_facets(self, request: Request) -> Response:
        """The inbox filters' choices over every ticket, and whether any has no company."""
        self.teammates.verify(request)
        return json_response(self.portal_query.inbox_facets())

    @route("GET", "/api/admin/tickets/<ticket_id>")
    def get_ticket(self, request: Request, ticket_id: str) -> Response:
        self.teammates.verify(request)
        return json_response(self.tickets.get_ticket(ticket_number(ticket_id)))

    @route("PATCH", "/api/admin/tickets/<ticket_id>")
    def update_ticket(self, request: Request, ticket_id: str) -> Response:
        self.teammates.verify(request)
        number = ticket_number(ticket_id)
        command = validate(commands.UPDATE_TICKET, read_json(request), "ticket")
        return json_response(self.tickets.update_ticket(number, command))

    @route("GET", "/api/admin/tickets/<ticket_id>/company-choices")
    def company_choices(self, request: Request, ticket_id: str) -> Response:
        self.teammates.verify(request)
        return json_response(self.tickets.company_choices(ticket_number(ticket_id)))

    @route("POST", "/api/admin/tickets/<ticket_id>/conversation")
    def link_conversation(self, request: Request, ticket_id: str) -> Response:
        self.teammates.verify(request)
        number = ticket_number(ticket_id)
        command = validate(commands.LINK_CONVERSATION, read_json(request), "link")
        return json_response(self.tickets.link_conversation(number, command))

    # teammates: ticket types ------------------------------------------------------------

    @route("POST", "/api/admin/ticket-types")
    def create_ticket_type(self, request: Request) -> Response:
        self.teammates.verify(request)
        command = validate(commands.CREATE_TICKET_TYPE, read_json(request), "ticket type")
        return json_response(self.tickets.create_ticket_type(command), 201)

    @route("GET", "/api/admin/ticket-types")
    def ticket_types(self, request: Request) -> Response:
        self.teammates.verify(request)
        return json_response(self.tickets.list_ticket_types())

    @route("PATCH", "/api/admin/ticket-types/<ticket_type_id>")
    def update_ticket_type(self, request: Request, ticket_type_id: str) -> Response:
        self.teammates.verify(request)
        ticket_type_id = entity_id(ticket_type_id, "ticket type")
        command = validate(commands.UPDATE_TICKET_TYPE, read_json(request), "ticket type")
        return json_response(self.tickets.update_ticket_type(ticket_type_id, command))

    # teammates: conversations -------------------------------------------------------------

    @route("POST", "/api/admin/conversations")
    def start_conversation(self, request: Request) -> Response:
        self.teammates.verify(request)
        command = validate(commands.START_CONVERSATION, read_json(request), "conversation")
        return json_response(self.messenger_bridge.start_conversation(command), 201)

    @route("GET", "/api/admin/conversations/<conversation_id>")
    def get_conversation(self, request: Request, conversation_id: str) -> Response:
        self.teammates.verify(request)
        conversation_id = entity_id(conversation_id, "conversation")
        return json_response(self.messenger_bridge.get_conversation(conversation_id))

    @route("POST", "/api/admin/conversations/<conversation_id>/parts")
    def add_part(self, request: Request, conversation_id: str) -> Response:
        self.teammates.verify(request)
        conversation_id = entity_id(conversation_id, "conversation")
        command = validate(commands.ADD_PART, read_json(request), "conversation part")
        return json_response(self.messenger_bridge.add_part(conversation_id, command), 201)

    @route("DELETE", "/api/admin/conversations/<conversation_id>/participants/<user_id>")
    def remove_participant(self, request: Request, conversation_id: str, user_id: str) -> Response:
        self.teammates.verify(request)
        conversation_id = entity_id(conversation_id, "conversation")
        user_id = entity_id(user_id, "participant")
        return json_response(self.messenger_bridge.remove_participant(conversation_id, user_id))

    @route("POST", "/api/admin/conversations/<conversation_id>/ticket")
    def convert_conversation(self, request: Request, conversation_id: str) -> Response:
        self.teammates.verify(request)
        conversation_id = entity_id(conversation_id, "conversation")
        command = validate(commands.CONVERT_CONVERSATION, read_json(request), "ticket")
        return json_response(self.tickets.convert_conversation(conversation_id, command), 201)

    # teammates: portal settings and status ------------------------------------------------

    @route("GET", "/api/admin/portal/settings")
    def portal_settings(self, request: Request) -> Response:
        self.teammates.verify(request)
        return json_response(self.identity.get_portal_settings())

    @route("PUT", "/api/admin/portal/settings")
    def change_portal_settings(self, request: Request) -> Response:
        self.teammates.verify(request)
        command = validate(commands.CHANGE_PORTAL_SETTINGS, read_json(request), "settings")
        return json_response(self.identity.change_portal_settings(command))

    @route("POST", "/api/admin/portal/restricted-counts")
    def restricted_counts(self, request: Request) -> Response:
        """How many portal users the conditions in the body would restrict: the settings
        view counts as a teammate edits, before saving."""
        self.teammates.verify(request)
        command = validate(commands.COUNT_RESTRICTED, read_json(request), "conditions")
        return json_response(self.portal_query.restricted_counts(command))

    @route("GET", "/api/admin/portal/status")
    def portal_status(self, request: Request) -> Response:
        self.teammates.verify(request)
        return json_response(self.portal_query.status())

    # the web page -------------------------------------------------------------------------

    @route("GET", "/")
    def page(self, request: Request) -> Response:
        return self.web.page(request)

    @route("GET", "/tickets/<ticket_id>")
    def ticket_page(self, request: Request, ticket_id: str) -> Response:
        return self.web.page(request)

    @route("GET", "/messenger")
    def messenger_page(self, request: Request) -> Response:
        return self.web.page(request)

    @route("GET", "/messenger/conversations/<conversation_id>")
    def conversation_page(self, request: Request, conversation_id: str) -> Response:
        return self.web.page(request)

    @route("GET", "/admin/")
    def console(self, request: Request) -> Response:
        """The teammates' console: it signs in with the admin token itself (never in a URL)."""
        return self.web.console(request)

    @route("GET", "/admin/<path:view>")
    def console_view(self, request: Request, view: str) -> Response:
        return self.web.console(request)

    @route("GET", "/static/<path:path>")
    def static(self, request: Request, path: str) -> Response:
        return self.web.static(request, path)
