"""The companies service through nameko on the real RabbitMQ and the embedded event store,
with the real identity service answering its contact look-ups."""

from __future__ import annotations

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from kernel.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from services.companies.service import CompaniesService
from services.identity.service import IdentityService
from tests.support.interface import refused


@pytest.fixture
def rpc(config):
    with ClusterRpcProxy(config, timeout=10) as proxy:
        yield proxy


@pytest.fixture
def companies(container_factory, config, rpc):
    container_factory(CompaniesService, config).start()
    return rpc.companies


@pytest.fixture
def identity(container_factory, config, rpc):
    container_factory(IdentityService, config).start()
    for contact_id in ("ann", "bob", "carol"):
        rpc.identity.save_contact({"id": contact_id})
    return rpc.identity


@pytest.fixture
def acme(companies, identity):
    return companies.create_company({"id": "acme", "name": "Acme"})


def test_health(companies):
    assert companies.health() == {"service": "companies", "status": "ok"}


def test_a_created_company_is_stored_and_answered(companies, store):
    assert companies.create_company({"id": "acme", "name": "Acme"}) == {
        "id": "acme",
        "name": "Acme",
        "member_ids": [],
    }
    assert companies.get_company("acme")["name"] == "Acme"
    assert [e.type for e in store.read_stream("company-acme")] == ["CompanyCreated"]


def test_creating_an_existing_company_is_a_conflict_and_appends_nothing(acme, companies, unchanged):
    with unchanged:
        error = refused(Conflict, companies.create_company, {"id": "acme", "name": "Other"})

    assert error.fields == {"id": "already exists"}
    assert companies.get_company("acme")["name"] == "Acme"


def test_renaming_a_company(acme, companies, unchanged):
    assert companies.rename_company("acme", {"name": "Acme Corp"})["name"] == "Acme Corp"
    assert companies.get_company("acme")["name"] == "Acme Corp"

    with unchanged:
        companies.rename_company("acme", {"name": "Acme Corp"})


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("get_company", ["nowhere"]),
        ("rename_company", ["nowhere", {"name": "X"}]),
        ("add_member", ["nowhere", {"user_id": "ann"}]),
        ("remove_member", ["nowhere", "ann"]),
    ],
)
def test_an_unknown_company_is_not_found_and_nothing_is_appended(
    companies, identity, unchanged, call, args
):
    with unchanged:
        error = refused(NotFound, getattr(companies, call), *args)

    assert error.fields == {"company_id": "not found"}


def test_members_are_added_once_and_removed(acme, companies, store, unchanged):
    assert companies.add_member("acme", {"user_id": "bob"})["member_ids"] == ["bob"]
    assert companies.add_member("acme", {"user_id": "ann"})["member_ids"] == ["ann", "bob"]
    with unchanged:
        assert companies.add_member("acme", {"user_id": "ann"})["member_ids"] == ["ann", "bob"]

    assert companies.remove_member("acme", "bob")["member_ids"] == ["ann"]
    assert companies.get_company("acme")["member_ids"] == ["ann"]
    assert [e.type for e in store.read_stream("company-acme")][1:] == [
        "CompanyMemberAdded",
        "CompanyMemberAdded",
        "CompanyMemberRemoved",
    ]


def test_an_unknown_contact_cannot_be_added(acme, companies, unchanged):
    with unchanged:
        error = refused(ValidationFailed, companies.add_member, "acme", {"user_id": "nobody"})

    assert error.fields == {"user_id": "no such contact"}


def test_removing_someone_who_is_not_a_member_is_not_found(acme, companies, unchanged):
    with unchanged:
        error = refused(NotFound, companies.remove_member, "acme", "carol")

    assert error.fields == {"user_id": "not a member"}


def test_membership_needs_identity_to_be_running(container_factory, config, rpc, unchanged):
    container_factory(CompaniesService, config).start()
    rpc.companies.create_company({"id": "acme", "name": "Acme"})

    with unchanged:
        refused(ServiceUnavailable, rpc.companies.add_member, "acme", {"user_id": "ann"})


@pytest.mark.parametrize(
    ("call", "args", "field"),
    [
        ("create_company", [{"id": "acme", "name": {"$gt": ""}}], "name"),
        ("create_company", [{"id": {"$gt": ""}, "name": "Acme"}], "id"),
        ("create_company", [{"id": "acme", "name": "Acme", "owner": "eve"}], "owner"),
        ("create_company", [{"id": "acme", "name": "x" * 201}], "name"),
        ("create_company", [{"id": "acme", "name": ""}], "name"),
        ("create_company", [{"id": "acme", "name": "Acme\r\nInc"}], "name"),
        ("create_company", [{"id": "has spaces", "name": "Acme"}], "id"),
        ("create_company", [{"id": 42, "name": "Acme"}], "id"),
        ("create_company", [{"name": "Acme"}], "id"),
        ("create_company", [["acme", "Acme"]], ""),
        ("rename_company", ["acme", {"name": {"$set": "x"}}], "name"),
        ("rename_company", [{"$gt": ""}, {"name": "X"}], "company_id"),
        ("rename_company", ["acme", {"name": "X", "id": "globex"}], "id"),
        ("get_company", [{"$gt": ""}], "company_id"),
        ("add_member", ["acme", {"user_id": {"$gt": ""}}], "user_id"),
        ("add_member", ["acme", {"user_id": "ann", "role": "owner"}], "role"),
        ("add_member", ["acme", {}], "user_id"),
        ("add_member", ["acme/../globex", {"user_id": "ann"}], "company_id"),
        ("remove_member", ["acme", {"$ne": None}], "user_id"),
        ("remove_member", [None, "ann"], "company_id"),
        ("companies_of_contacts", ["ann"], "contact_ids"),
        ("companies_of_contacts", [[{"$gt": ""}]], "contact_ids.0"),
        ("companies_of_contacts", [["x"] * 1001], "contact_ids"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_appends_nothing(
    acme, companies, unchanged, call, args, field
):
    with unchanged:
        error = refused(ValidationFailed, getattr(companies, call), *args)

    assert field in error.fields


def test_companies_of_contacts_answers_every_id_with_sorted_companies(acme, companies):
    companies.create_company({"id": "globex", "name": "Globex"})
    companies.add_member("globex", {"user_id": "carol"})
    companies.add_member("acme", {"user_id": "carol"})
    companies.add_member("acme", {"user_id": "ann"})

    assert companies.companies_of_contacts(["carol", "ann", "bob", "nobody", "ann"]) == {
        "carol": ["acme", "globex"],
        "ann": ["acme"],
        "bob": [],
        "nobody": [],
    }
    assert companies.companies_of_contacts([]) == {}


def test_companies_of_contacts_reads_its_writes_across_instances(
    container_factory, config, acme, companies
):
    """Two instances share the RPC queue, so writes and reads alternate between them;
    each answer must already reflect the change that returned just before it."""
    container_factory(CompaniesService, config).start()

    for _ in range(10):
        companies.add_member("acme", {"user_id": "bob"})
        assert companies.companies_of_contacts(["bob"]) == {"bob": ["acme"]}
        companies.remove_member("acme", "bob")
        assert companies.companies_of_contacts(["bob"]) == {"bob": []}
