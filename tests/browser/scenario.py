"""The help desk the browser tests look at, built through the teammates' HTTP API exactly as
a teammate's tool would: contacts, companies, memberships, tickets and conversations."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests

from tests.support.stack import ADMIN_TOKEN, IDENTITY_SECRET

MARKUP_TITLE = '<img src=x onerror="window.__injected=1"> Tag soup & <b>bold</b>'
FORMULA_TITLE = '=HYPERLINK("http://evil.test","click")'
FILLER_TYPES = ("Bug", "Question", "Feature request")
FILLER_STATES = ("submitted", "in_progress", "waiting_on_customer", "resolved")
FILLER_COUNT = 9


class AdminApi:
    """The teammate API of a running stack, failing loudly on any error answer."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"

    def call(self, method: str, path: str, body=None) -> dict:
        answer = self.http.request(method, f"{self.base_url}{path}", json=body, timeout=30)
        assert answer.ok, f"{method} {path} -> {answer.status_code} {answer.text}"
        return answer.json() if answer.content else {}

    def contact(self, contact_id: str, name: str, email: str | None, **attributes) -> None:
        body = {"id": contact_id, "name": name, "attributes": attributes}
        if email is not None:
            body["email"] = email
        self.call("POST", "/api/admin/contacts", body)

    def company(self, company_id: str, name: str, *member_ids: str) -> None:
        self.call("POST", "/api/admin/companies", {"id": company_id, "name": name})
        for user_id in member_ids:
            self.call("POST", f"/api/admin/companies/{company_id}/members", {"user_id": user_id})

    def ticket(self, **fields) -> dict:
        """Create a ticket; the ticket as stored."""
        return self.call("POST", "/api/admin/tickets", fields)

    def update_ticket(self, ticket_id: int, **fields) -> None:
        self.call("PATCH", f"/api/admin/tickets/{ticket_id}", fields)

    def conversation(self, user_id: str, body: str) -> str:
        return self.call("POST", "/api/admin/conversations", {"user_id": user_id, "body": body})[
            "id"
        ]

    def reply(self, conversation_id: str, body: str, *, internal: bool = False) -> None:
        part = {
            "author_type": "teammate",
            "author_id": "tess",
            "author_name": "Tess from Support",
            "body": body,
            "internal": internal,
        }
        self.call("POST", f"/api/admin/conversations/{conversation_id}/parts", part)

    def preview_enabled(self, enabled: bool) -> None:
        self.call("PUT", "/api/admin/portal/settings", {"preview_enabled": enabled})

    def visibility_conditions(self, conditions: list[dict]) -> None:
        self.call("PUT", "/api/admin/portal/settings", {"visibility_conditions": conditions})

    def wait_until_projected(self, ticket_count: int, timeout: float = 20.0) -> None:
        """Until the read side lists ``ticket_count`` tickets (it is eventually consistent)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call("GET", "/api/admin/tickets?per_page=1")["total"] >= ticket_count:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the portal did not list {ticket_count} tickets in {timeout}s")


@dataclass
class Scenario:
    """What was seeded: ticket ids by role in the tests, and every Acme ticket's fields."""

    printer: int = 0
    export_question: int = 0
    markup: int = 0
    formula: int = 0
    globex: int = 0
    acme: dict[int, dict] = field(default_factory=dict)

    def acme_ids(self, **matching) -> list[int]:
        """Acme ticket ids (ascending) whose fields equal ``matching``."""
        return sorted(
            ticket_id
            for ticket_id, fields in self.acme.items()
            if all(fields.get(name) == value for name, value in matching.items())
        )


def verified_identity(user_id: str, email: str | None) -> dict:
    """What the help center vouches for: the user id signed by ``user_hash``."""
    user_hash = hmac.new(IDENTITY_SECRET.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    identity = {"user_id": user_id, "user_hash": user_hash}
    if email:
        identity["email"] = email
    return identity


def sign_in_link(base_url: str, user_id: str, email: str | None, path: str = "/") -> str:
    """The help center's hand-off link: the verified identity in the URL fragment."""
    return f"{base_url}{path}#{urlencode(verified_identity(user_id, email))}"


def seed(admin: AdminApi) -> Scenario:
    """Acme (Ann, Bob, Cara) with a dozen tickets, Globex (Cara) with one, and three contacts
    who each lack one requirement of portal access."""
    admin.contact("ann", "Ann Archer", "ann@acme.test", role="admin")
    admin.contact("bob", "Bob Baker", "bob@acme.test")
    admin.contact("cara", "Cara Cole", "cara@globex.test")
    admin.contact("nomail", "Nico No-Mail", None)
    admin.contact("loner", "Lou Loner", "lou@nowhere.test")
    admin.contact("idle", "Ida Idle", "ida@initech.test")
    admin.company("acme", "Acme Inc", "ann", "bob", "cara", "nomail")
    admin.company("globex", "Globex", "cara")
    admin.company("initech", "Initech", "idle")

    scenario = Scenario()

    def acme_ticket(**fields) -> int:
        stored = admin.ticket(company_id="acme", **fields)
        scenario.acme[stored["id"]] = {"state": "submitted", **fields}
        return stored["id"]

    opening = admin.conversation("ann", "Our office printer started smoking this morning.")
    admin.reply(opening, "We replaced the toner cartridge remotely; please try again.")
    admin.reply(opening, "Customer sounded grumpy, check the contract", internal=True)
    scenario.printer = acme_ticket(
        type="Bug",
        title="Printer on fire",
        description="The office printer emits smoke when printing invoices.",
        creator_id="ann",
        conversation_id=opening,
        attributes=[
            {"name": "Priority", "value": "High", "visible_to_customer": True},
            {"name": "Churn risk", "value": "likely", "visible_to_customer": False},
        ],
    )
    question = admin.conversation("bob", "How do we export all invoices as a spreadsheet?")
    scenario.export_question = acme_ticket(
        type="Question",
        title="Exporting invoices",
        description="We need every invoice of last year in a spreadsheet.",
        creator_id="bob",
        conversation_id=question,
        attributes=[{"name": "Priority", "value": "Low", "visible_to_customer": True}],
    )
    scenario.markup = acme_ticket(
        type="Bug",
        title=MARKUP_TITLE,
        description="<script>window.__injected=2</script> shows up in the invoice header.",
        creator_id="bob",
    )
    scenario.formula = acme_ticket(type="Question", title=FORMULA_TITLE, creator_id="bob")
    for n in range(FILLER_COUNT):
        ticket_id = acme_ticket(
            type=FILLER_TYPES[n % len(FILLER_TYPES)],
            title=f"Routine request {n + 1:02d}",
            description="A routine request.",
            creator_id="ann" if n % 2 else "bob",
        )
        state = FILLER_STATES[n % len(FILLER_STATES)]
        admin.update_ticket(ticket_id, state=state)
        scenario.acme[ticket_id]["state"] = state
    scenario.globex = admin.ticket(
        type="Bug", title="Globex badge reader offline", creator_id="cara", company_id="globex"
    )["id"]
    admin.wait_until_projected(len(scenario.acme) + 1)
    return scenario
