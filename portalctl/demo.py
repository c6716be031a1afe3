"""Demo data for ``make run``: three companies, their people and tickets, seeded through the
teammates' HTTP API (so the demo exercises the real write path), and sign-in links for a
user of each kind."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

COMPANIES = [("acme", "Acme Corp"), ("globex", "Globex"), ("initech", "Initech")]

# id, email, name, attributes, companies
CONTACTS = [
    ("ann", "ann@acme.example", "Ann Archer", {"role": "admin"}, ["acme"]),
    ("bob", "bob@acme.example", "Bob Baker", {"role": "member"}, ["acme"]),
    ("carol", "carol@globex.example", "Carol Chen", {"role": "admin"}, ["acme", "globex"]),
    ("dave", "dave@globex.example", "Dave Díaz", {"role": "admin"}, ["globex"]),
    ("erin", None, "Erin Evans", {"role": "admin"}, ["initech"]),
]

# creator, participants, type, state, title, description, customer replies, internal note
TICKETS = [
    (
        "ann",
        [],
        "Bug",
        "in_progress",
        "Invoices PDF export fails for March",
        "Exporting the March invoices as PDF stops at 80% with a timeout error.",
        ["It happens for every user on our team.", "Still failing after today's update."],
        "Likely the renderer memory limit; see the incident notes.",
    ),
    (
        "bob",
        [],
        "Question",
        "waiting_on_customer",
        "How do I add a second billing contact?",
        "Our accountant needs copies of the invoices.",
        ["Could you confirm the accountant's email address?"],
        None,
    ),
    (
        "ann",
        ["bob"],
        "Feature request",
        "submitted",
        "Café menu: support accents in product names",
        "Names like Crème brûlée show up garbled in the exported menu.",
        [],
        "Customer is on the enterprise plan - prioritise.",
    ),
    (
        "carol",
        [],
        "Bug",
        "resolved",
        "Login page shows <b>bold</b> markup instead of text",
        "The banner renders <script>alert('hi')</script> literally in the sign-in page.",
        ["Fixed on our side, thanks!"],
        None,
    ),
    (
        "dave",
        [],
        "Question",
        "in_progress",
        "Bulk import of 40,000 contacts",
        "What is the fastest way to import our CRM export?",
        ["The CSV is attached to my previous message.", "Any update on the import limits?"],
        "Import limit is 50k rows per file.",
    ),
    (
        "carol",
        ["dave"],
        "Bug",
        "submitted",
        "Webhook retries flood our endpoint",
        "After an outage the webhooks retried thousands of times per minute.",
        [],
        None,
    ),
]


@dataclass
class Demo:
    base_url: str
    admin_token: str
    identity_secret: str

    def _post(self, path: str, body: dict) -> dict:
        answer = requests.post(
            f"{self.base_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=15,
        )
        answer.raise_for_status()
        return answer.json()

    def seeded(self) -> bool:
        answer = requests.get(
            f"{self.base_url}/api/admin/companies/{COMPANIES[0][0]}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=15,
        )
        if answer.status_code not in (200, 404):
            answer.raise_for_status()
        return answer.status_code == 200

    def seed(self) -> None:
        for company_id, name in COMPANIES:
            self._post("/api/admin/companies", {"id": company_id, "name": name})
        for contact_id, email, name, attributes, companies in CONTACTS:
            contact = {"id": contact_id, "name": name, "attributes": attributes}
            if email:
                contact["email"] = email
            self._post("/api/admin/contacts", contact)
            for company_id in companies:
                self._post(f"/api/admin/companies/{company_id}/members", {"user_id": contact_id})
        requests.put(
            f"{self.base_url}/api/admin/portal/settings",
            json={
                "preview_enabled": True,
                "visibility_conditions": [
                    {"attribute": "role", "operator": "eq", "value": "member"}
                ],
            },
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=15,
        ).raise_for_status()
        for creator, others, kind, state, title, description, replies, note in TICKETS:
            conversation = self._post(
                "/api/admin/conversations", {"user_id": creator, "body": description}
            )
            ticket = {"type": kind, "title": title, "description": description, "state": state}
            if others:
                ticket["participant_ids"] = others
            if creator == "carol":  # carol has two companies: a teammate picks one
                ticket["company_id"] = "globex"
            self._post(f"/api/admin/conversations/{conversation['id']}/ticket", ticket)
            for index, reply in enumerate(replies):
                author = (
                    {"author_type": "user", "author_id": creator}
                    if index % 2
                    else {
                        "author_type": "teammate",
                        "author_id": "support",
                        "author_name": "Sam from Support",
                    }
                )
                self._post(
                    f"/api/admin/conversations/{conversation['id']}/parts",
                    {**author, "body": reply},
                )
            if note:
                self._post(
                    f"/api/admin/conversations/{conversation['id']}/parts",
                    {
                        "author_type": "teammate",
                        "author_id": "support",
                        "author_name": "Sam from Support",
                        "body": note,
                        "internal": True,
                    },
                )

    def sign_in_link(self, contact_id: str) -> str:
        email = next(c[1] for c in CONTACTS if c[0] == contact_id)
        user_hash = hmac.new(
            self.identity_secret.encode(), contact_id.encode(), hashlib.sha256
        ).hexdigest()
        fragment = {"user_id": contact_id, "user_hash": user_hash}
        if email:
            fragment["email"] = email
        return f"{self.base_url}/#{urlencode(fragment)}"

    def links(self) -> list[tuple[str, str]]:
        return [
            ("Ann (Acme admin: sees every Acme ticket)", self.sign_in_link("ann")),
            ("Bob (Acme member: sees only tickets he created)", self.sign_in_link("bob")),
            ("Carol (member of Acme and Globex)", self.sign_in_link("carol")),
            ("Erin (no email: shows the no-access explanation)", self.sign_in_link("erin")),
        ]
