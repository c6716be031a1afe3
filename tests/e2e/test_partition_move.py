"""Moving a company to another partition of the read side, with the platform running:
every portal answer during the move is the answer before it, and afterwards only the
target holds the company.

The stack here always runs four partitions, whatever ``PORTAL_PARTITIONS`` says."""

from __future__ import annotations

import threading

import pytest

from kernel.partitions import hashed
from portalctl.partitions import move_company
from tests.support.api import api_stack
from tests.support.stack import partition_storages, stack_config
from tests.support.waiting import eventually

COUNT = 4
ANN_EMAIL = "ann@example.com"
COMPANIES = ["acme", "globex", "initech"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("partition_move")
    with api_stack(root, PORTAL_PARTITIONS=str(COUNT)) as (stack, api):
        api.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": ANN_EMAIL})
        for company in COMPANIES:
            api.admin_ok("POST", "/api/admin/companies", json={"id": company, "name": company})
            api.admin_ok("POST", f"/api/admin/companies/{company}/members", json={"user_id": "ann"})
            for number in range(3):
                api.ticket_from_conversation(
                    "ann",
                    f"{company} printer question {number}",
                    type="Bug",
                    title=f"{company} printer {number}",
                    company_id=company,
                )
        yield stack, api


def table(api, token: str, **params) -> dict:
    answer = api.call("GET", "/api/portal/tickets", session=token, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def served_total(api, token: str) -> int | None:
    """The table's total, once the read side serves it: until then (its copies still
    loading, each in a process of its own with ``PORTAL_LOAD_APART_FROM=0``) ``None``."""
    answer = api.call("GET", "/api/portal/tickets", session=token)
    if answer.status_code == 503 and answer.json()["error"]["fields"] == {"projection": "loading"}:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()["total"]


def held(stack, company: str) -> list[int]:
    """The partitions whose stored projection holds tickets of ``company``."""
    holders = []
    for number, storage in enumerate(partition_storages(stack_config(stack))):
        try:
            generation = storage.current().generation
            tickets = [
                body
                for batch in storage.documents(generation)
                for kind, _key, body in batch
                if kind == "ticket"
            ]
        finally:
            storage.close()
        if any(ticket["company_id"] == company for ticket in tickets):
            holders.append(number)
    return holders


def test_a_company_moves_to_another_partition_while_the_portal_answers(platform):
    stack, api = platform
    token = api.sign_in("ann", ANN_EMAIL)
    queries = [{}, {"q": "printer", "per_page": 4, "page": 2}, {"sort": "id", "order": "asc"}]
    eventually(lambda: served_total(api, token) == 9, timeout=30)
    before = [table(api, token, **query) for query in queries]
    source = hashed("acme", COUNT)
    target = (source + 1) % COUNT
    assert held(stack, "acme") == [source]

    moved = threading.Thread(
        target=move_company,
        args=(stack_config(stack), "acme", target),
        kwargs={"report": lambda _line: None, "wait": 60},
    )
    moved.start()
    answers = 0
    while moved.is_alive():
        for query, expected in zip(queries, before, strict=True):
            now = table(api, token, **query)
            for item in now["items"]:
                item.pop("preview", None)
            for item in expected["items"]:
                item.pop("preview", None)
            assert now == expected, query
            answers += 1
    moved.join()
    assert answers > 0
    assert [table(api, token, **query)["total"] for query in queries] == [9, 9, 9]
    eventually(lambda: held(stack, "acme") == [target])
    status = api.admin_ok("GET", "/api/admin/portal/status")
    assert len(status["partitions"]) == COUNT
