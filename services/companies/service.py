"""Nameko shell of companies: validate, run the domain, append. See docs/rpc.md."""

from __future__ import annotations

from kernel.aggregate import execute
from kernel.contracts import commands
from kernel.contracts.validation import validate
from kernel.dependencies import TimedRpcProxy
from kernel.errors import ValidationFailed
from kernel.logging import get_logger
from kernel.rpc import rpc
from kernel.service import WriteService
from services.companies import domain
from services.companies.dependencies import Memberships

log = get_logger(__name__)


class CompaniesService(WriteService):
    name = "companies"

    identity = TimedRpcProxy("identity")
    memberships = Memberships()

    def _run(self, company_id: str, decide) -> dict:
        """Run ``decide(company)`` against the company's stream; answer the company after."""
        history, _ = execute(
            self.event_log, domain.stream_of(company_id), lambda h: decide(domain.fold(h))
        )
        return domain.fold(history).to_dict()

    @rpc
    def create_company(self, command: dict) -> dict:
        command = validate(commands.CREATE_COMPANY, command, "company")
        company = self._run(command["id"], lambda c: domain.create_company(c, command))
        log.info("company created", company_id=company["id"])
        return company

    @rpc
    def rename_company(self, company_id: str, command: dict) -> dict:
        validate(commands.COMPANY_ID, {"company_id": company_id}, "company id")
        name = validate(commands.RENAME_COMPANY, command, "company")["name"]
        company = self._run(company_id, lambda c: domain.rename_company(c, company_id, name))
        log.info("company renamed", company_id=company_id)
        return company

    @rpc
    def get_company(self, company_id: str) -> dict:
        validate(commands.COMPANY_ID, {"company_id": company_id}, "company id")
        return self._company(company_id).to_dict()

    def _company(self, company_id: str) -> domain.Company:
        history = self.event_log.read_stream(domain.stream_of(company_id))
        return domain.existing(domain.fold(history), company_id)

    @rpc
    def add_member(self, company_id: str, command: dict) -> dict:
        validate(commands.COMPANY_ID, {"company_id": company_id}, "company id")
        user_id = validate(commands.ADD_MEMBER, command, "member")["user_id"]
        self._company(company_id)  # an unknown company is NotFound before the contact check
        if user_id not in self.identity.get_contacts([user_id]):
            raise ValidationFailed(
                f"contact {user_id} does not exist", {"user_id": "no such contact"}
            )
        company = self._run(company_id, lambda c: domain.add_member(c, company_id, user_id))
        log.info("company member added", company_id=company_id, contact_id=user_id)
        return company

    @rpc
    def remove_member(self, company_id: str, user_id: str) -> dict:
        validate(commands.COMPANY_ID, {"company_id": company_id}, "company id")
        validate(commands.ADD_MEMBER, {"user_id": user_id}, "member")  # the same member shape
        company = self._run(company_id, lambda c: domain.remove_member(c, company_id, user_id))
        log.info("company member removed", company_id=company_id, contact_id=user_id)
        return company

    @rpc
    def companies_of_contacts(self, contact_ids: list) -> dict:
        validate(commands.CONTACT_IDS, {"contact_ids": contact_ids}, "contact ids")
        return self.memberships.companies_of(contact_ids)
