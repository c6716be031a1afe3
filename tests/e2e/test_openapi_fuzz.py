"""Schemathesis against the whole stack: the OpenAPI document says exactly what the gateway
accepts, refuses and answers.

Every operation of ``services/gateway/openapi.yaml`` is driven with the document's examples,
its boundaries (the coverage phase) and generated requests, valid and invalid, with every
schemathesis check; then schemathesis' stateful phase chains operations along the document's
links (create a company, then read, rename, join and list it; start a conversation, then add
parts and turn it into a ticket; create a ticket, then read, change and link it).
The seed is fixed and the examples bounded, so the run is the same each time and takes about
a minute.

One refinement of the stock checks: a request the document accepts may still be refused with
422 when it names something that does not exist or breaks a rule across records (a contact
that is not there, a company that is not one of the ticket's, a repeated attribute name).
A ticket type's form is such a rule too: its keys are unique, only a select has options, and
a customer's answers are checked against the form of the type they name. No schema can say
that, so such a 422 passes only when every problem it names is one of those
(:data:`STATE_PROBLEMS`); any other 422 to a valid request is a disagreement.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
import schemathesis.engine
from hypothesis import HealthCheck, settings
from schemathesis.engine import Status
from schemathesis.engine.events import FatalError, ScenarioFinished
from schemathesis.engine.run import PhaseName

from portalctl.stack import REPOSITORY
from tests.support.stack import ADMIN_TOKEN

DOCUMENT = REPOSITORY / "services" / "gateway" / "openapi.yaml"
SEED = 20261203
EXAMPLES = 15
STATEFUL_SCENARIOS = 20
STATEFUL_STEPS = 6
# What a valid request may be refused for: records that do not exist or do not fit together.
STATE_PROBLEMS = re.compile(
    r"no such (contact|conversation|company)"
    r"|no contact \S+|no such contacts: .*"
    r"|is not a participant of this conversation"
    r"|must be one of: .*"
    r"|duplicate names: .*"
    r"|at most \d+ participants"
    # A ticket type's form: rules across its fields, and a customer's answers to it.
    r"|a select needs at least one option|only a select has options|options must be distinct"
    r"|key .* is used more than once"
    r"|no ticket type a customer may create has this id|not a field of this ticket type's form"
    r"|.* is required|must be (text|a number|true or false|a date \(YYYY-MM-DD\))"
)


@schemathesis.check
def valid_requests_are_refused_only_for_state(ctx, response, case) -> None:
    """A 422 to a request the document accepts must name only problems of state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    fields = response.json()["error"]["fields"]
    schema_problems = {
        name: problem for name, problem in fields.items() if not STATE_PROBLEMS.fullmatch(problem)
    }
    if schema_problems:
        raise AssertionError(f"the document accepts what the gateway refuses: {schema_problems}")


CHECKS = {
    # 422 is judged by the check above.
    "positive_data_acceptance": {"expected-statuses": ["2XX", "401", "403", "404", "409", "422"]},
}
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # The credentials are the caller's own (see `caller`), not generated.
        "generation": {
            "max-examples": EXAMPLES,
            "database": "none",
            "with-security-parameters": False,
        },
        "checks": CHECKS,
    }
)
document = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)


@pytest.fixture(scope="module")
def caller(platform):
    """Where the stack answers, and the credentials each path takes: the admin token, or the
    session of a portal user who may use the portal."""
    stack, api = platform
    api.admin_ok("POST", "/api/admin/companies", json={"id": "acme", "name": "Acme"})
    api.admin_ok("POST", "/api/admin/contacts", json={"id": "ann", "email": "ann@acme.example"})
    api.admin_ok("POST", "/api/admin/companies/acme/members", json={"user_id": "ann"})
    session = api.sign_in("ann")

    def headers_for(path: str) -> dict[str, str]:
        if path.startswith("/api/admin/"):
            return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        if path.startswith(("/api/portal/me", "/api/portal/tickets", "/api/messenger/")):
            return {"Authorization": f"Bearer {session}"}
        return {}

    return stack.base_url, headers_for


@document.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_agrees_with_the_document(case, caller):
    base_url, headers_for = caller
    case.call_and_validate(base_url=base_url, headers=headers_for(case.path))


def test_chained_operations_agree_with_the_document(platform, caller):
    """Schemathesis' stateful phase: operations chained along the document's links (what one
    creates, the next reads, changes or extends), every answer checked like the ones above."""
    stack, _ = platform
    _, headers_for = caller
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": stack.base_url,
            "workers": 1,
            "generation": {
                "max-examples": STATEFUL_SCENARIOS,
                "database": "none",
                "with-security-parameters": False,
            },
            "checks": CHECKS,
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": False},
                "fuzzing": {"enabled": False},
                "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
            },
            "operations": [
                {"include-path-regex": f"^{prefix}", "headers": headers_for(prefix)}
                for prefix in (
                    "/api/admin/",
                    "/api/portal/me",
                    "/api/portal/tickets",
                    "/api/messenger/",
                )
            ],
        }
    )
    chained = schemathesis.openapi.from_path(DOCUMENT, config=config)
    steps, failures = 0, []
    for event in schemathesis.engine.from_schema(chained).execute():
        if isinstance(event, ScenarioFinished) and event.phase is PhaseName.STATEFUL_TESTING:
            steps += len(event.recorder.cases)
            failures += [
                f"{check.name}: {check.failure_info}"
                for checks in event.recorder.checks.values()
                for check in checks
                if check.status == Status.FAILURE
            ]
        if isinstance(event, FatalError):
            raise event.exception
    assert steps > 0
    assert failures == []
