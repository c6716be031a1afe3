"""The OpenAPI document and the gateway's code describe the same API, one to one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from openapi_spec_validator import validate

from kernel.contracts import commands
from services.gateway.entrypoints import HttpEntrypoint
from services.gateway.service import GatewayService

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "services" / "gateway" / "openapi.yaml"
DOCUMENT = yaml.safe_load(DOCUMENT_PATH.read_text())
METHODS = ("get", "put", "post", "delete", "patch")

# operationId -> the command schema its body is validated against
BODY_SCHEMAS = {
    "saveContact": commands.SAVE_CONTACT,
    "createCompany": commands.CREATE_COMPANY,
    "renameCompany": commands.RENAME_COMPANY,
    "addMember": commands.ADD_MEMBER,
    "createTicket": commands.CREATE_TICKET,
    "updateTicket": commands.UPDATE_TICKET,
    "linkConversation": commands.LINK_CONVERSATION,
    "startConversation": commands.START_CONVERSATION,
    "addPart": commands.ADD_PART,
    "convertConversation": commands.CONVERT_CONVERSATION,
    "changePortalSettings": commands.CHANGE_PORTAL_SETTINGS,
    "restrictedCounts": commands.COUNT_RESTRICTED,
    "joinConversation": commands.JOIN_BODY,
    "userReply": commands.USER_REPLY,
}
SIGN_IN_SCHEMAS = {
    "SignInWithHash": commands.START_SESSION_WITH_HASH,
    "SignInWithToken": commands.START_SESSION_WITH_TOKEN,
}


def code_routes() -> set[tuple[str, str]]:
    routes = set()
    for attribute in vars(GatewayService).values():
        for entrypoint in getattr(attribute, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if not isinstance(entrypoint, HttpEntrypoint):
                continue  # a bus prompt, not an address
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", entrypoint.url)
            routes.add((entrypoint.method.lower(), path))
    return routes


def operations():
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def schema_of(reference: dict) -> dict:
    node = reference
    while "$ref" in node:
        target = DOCUMENT
        for part in node["$ref"].split("/")[1:]:
            target = target[part]
        node = target
    return node


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1")
    validate(DOCUMENT)


def test_every_route_in_the_code_is_in_the_document_and_nothing_else():
    documented = {(method, path) for method, path, _ in operations()}
    assert code_routes() == documented


def test_operation_ids_are_unique():
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("operation_id", "command"), sorted(BODY_SCHEMAS.items()))
def test_each_request_body_lists_the_fields_its_command_schema_accepts(operation_id, command):
    operation = next(op for _, _, op in operations() if op["operationId"] == operation_id)
    body = schema_of(operation["requestBody"]["content"]["application/json"]["schema"])
    assert body["additionalProperties"] is False
    assert set(body.get("properties", {})) == set(command)
    assert set(body.get("required", [])) == {
        key for key, rule in command.items() if rule["required"]
    }


def test_both_ways_of_signing_in_are_documented_like_their_schemas():
    for name, command in SIGN_IN_SCHEMAS.items():
        body = DOCUMENT["components"]["schemas"][name]
        assert set(body["properties"]) == set(command)
        assert set(body["required"]) == {key for key, rule in command.items() if rule["required"]}


def test_the_list_parameters_are_the_ticket_query():
    for operation_id in ("portalTickets", "inbox", "companyTickets"):
        operation = next(op for _, _, op in operations() if op["operationId"] == operation_id)
        query = {
            schema_of(parameter)["name"]
            for parameter in operation["parameters"]
            if schema_of(parameter)["in"] == "query"
        }
        assert query == set(commands.TICKET_QUERY), operation_id


def test_teammate_operations_need_the_admin_token_and_writes_take_an_idempotency_key():
    for method, path, operation in operations():
        if not path.startswith("/api/admin/"):
            continue
        assert operation["security"] == [{"adminToken": []}], (method, path)
        assert "401" in operation["responses"], (method, path)
        headers = {schema_of(p)["name"] for p in operation.get("parameters", [])}
        assert ("Idempotency-Key" in headers) == (method != "get"), (method, path)


def test_portal_operations_accept_the_cookie_or_a_bearer_session():
    for method, path, operation in operations():
        if (
            path.startswith(("/api/portal/", "/api/messenger/"))
            and operation["operationId"] != "startSession"
        ):
            assert operation["security"] == [{"portalCookie": []}, {"portalBearer": []}], (
                method,
                path,
            )
            assert "401" in operation["responses"], (method, path)


def test_every_operation_that_reads_a_body_documents_the_input_errors():
    for method, path, operation in operations():
        if "requestBody" in operation:
            # Sign-in refuses unreadable credentials like wrong ones: a 401, not a 422.
            invalid = "401" if operation["operationId"] == "startSession" else "422"
            assert {"400", "413", invalid} <= set(operation["responses"]), (method, path)
