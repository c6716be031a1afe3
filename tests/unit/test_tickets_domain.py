"""The tickets domain core: given these events, when this command, then these events or this
error. Every decision is also checked against the event contracts."""

from __future__ import annotations

import functools
import itertools

import pytest

from kernel.contracts import fields as f
from kernel.contracts.envelope import check_payload
from kernel.errors import Conflict, NotFound, ValidationFailed
from services.tickets import domain
from tests.support.decisions import checked, history

ACME, GLOBEX = "acme", "globex"
KNOWN = {"ann", "bob", "cid", "dee"}
COMPANIES = {"ann": [ACME], "bob": [ACME, GLOBEX], "cid": [], "dee": [GLOBEX]}


# Every decision here is about ticket 7, in its stream.
recorded = functools.partial(history, "ticket-7")
valid = functools.partial(checked, "ticket-7")


def opened(command: dict, creator: str = "ann", conversation=None, others=()) -> list:
    participants = domain.participants_of(creator, command.get("participant_ids", []), list(others))
    return valid(
        domain.open_ticket(7, command, participants, KNOWN, COMPANIES, conversation_id=conversation)
    )


def ticket(**command) -> domain.Ticket:
    return domain.fold(recorded(*opened({"type": "Bug", "title": "Broken", **command})))


# creating ---------------------------------------------------------------------------------


def test_a_new_ticket_has_the_defaults_and_the_creator_as_first_participant():
    [(event_type, payload)] = opened(
        {"type": "Bug", "title": "Broken", "participant_ids": ["cid", "ann"], "company_id": None}
    )
    assert event_type == "TicketCreated"
    assert payload == {
        "ticket_id": 7,
        "ticket_type": "Bug",
        "state": "submitted",
        "title": "Broken",
        "description": "",
        "attributes": [],
        "creator_id": "ann",
        "participant_ids": ["ann", "cid"],
        "company_id": None,
        "company_chosen": True,
        "conversation_id": None,
        "form": None,
    }


def test_a_new_ticket_keeps_the_given_fields():
    attributes = [{"name": "Severity", "value": "high", "visible_to_customer": False}]
    [(_, payload)] = opened(
        {
            "type": "Question",
            "title": "How?",
            "description": "Tell me",
            "state": "in_progress",
            "attributes": attributes,
            "company_id": ACME,
        }
    )
    assert (payload["state"], payload["description"], payload["attributes"]) == (
        "in_progress",
        "Tell me",
        attributes,
    )


def test_participants_are_listed_once_with_the_creator_first():
    assert domain.participants_of("ann", ["bob", "ann"], ["cid", "bob"]) == ["ann", "bob", "cid"]


def test_more_than_the_maximum_participants_is_refused():
    others = [f"p{n}" for n in range(f.MAX_PARTICIPANTS)]
    with pytest.raises(ValidationFailed) as error:
        domain.participants_of("ann", others)
    assert "participant_ids" in error.value.fields


def test_duplicate_participant_ids_are_named():
    with pytest.raises(ValidationFailed) as error:
        domain.check_no_duplicates(["bob", "cid", "bob"])
    assert error.value.fields == {"participant_ids": "duplicate ids: bob"}


def test_unknown_contacts_are_named_under_their_field():
    participants = domain.participants_of("zed", ["bob", "yan", "xi"])
    with pytest.raises(ValidationFailed) as error:
        domain.open_ticket(7, {"type": "Bug", "title": "t"}, participants, KNOWN, COMPANIES)
    assert error.value.fields == {
        "creator_id": "no contact zed",
        "participant_ids": "no such contacts: yan, xi",
    }


def test_attribute_names_must_be_unique():
    attributes = [
        {"name": "Severity", "value": "high", "visible_to_customer": False},
        {"name": "Severity", "value": "low", "visible_to_customer": True},
    ]
    with pytest.raises(ValidationFailed) as error:
        opened({"type": "Bug", "title": "t", "attributes": attributes})
    assert error.value.fields == {"attributes": "duplicate names: Severity"}


def test_a_ticket_from_a_conversation_is_created_and_linked_in_one_decision():
    decisions = opened({"type": "Bug", "title": "t"}, creator="cid", conversation="conv-1")
    assert [event_type for event_type, _ in decisions] == [
        "TicketCreated",
        "TicketConversationLinked",
    ]
    assert decisions[0][1]["conversation_id"] == "conv-1"
    assert decisions[1][1] == {
        "ticket_id": 7,
        "conversation_id": "conv-1",
        "participant_ids": ["cid"],
    }


# the company rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creator", "others", "expected"),
    [
        ("ann", [], ACME),  # exactly one company: selected automatically
        ("bob", [], None),  # several: No company until a teammate picks one
        ("cid", [], None),  # none
        ("cid", ["dee"], GLOBEX),  # the participants' companies count, not only the creator's
        ("ann", ["dee"], None),
    ],
)
def test_an_absent_company_follows_the_automatic_rule(creator, others, expected):
    [(_, payload)] = opened({"type": "Bug", "title": "t", "participant_ids": others}, creator)
    assert (payload["company_id"], payload["company_chosen"]) == (expected, False)


def test_a_null_company_means_no_company_even_with_one_choice():
    [(_, payload)] = opened({"type": "Bug", "title": "t", "company_id": None}, "ann")
    assert (payload["company_id"], payload["company_chosen"]) == (None, True)


def test_a_company_among_the_choices_is_kept():
    [(_, payload)] = opened({"type": "Bug", "title": "t", "company_id": GLOBEX}, "bob")
    assert (payload["company_id"], payload["company_chosen"]) == (GLOBEX, True)


def test_a_company_outside_the_choices_is_refused():
    with pytest.raises(ValidationFailed) as error:
        opened({"type": "Bug", "title": "t", "company_id": GLOBEX}, "ann")
    assert error.value.fields == {"company_id": "must be one of: acme"}


def test_the_choices_are_the_sorted_companies_of_every_participant():
    assert domain.company_choices(["dee", "ann", "cid"], COMPANIES) == [ACME, GLOBEX]
    assert domain.company_choices(["cid"], COMPANIES) == []


# folding ----------------------------------------------------------------------------------


def test_folding_applies_every_change_and_tracks_the_times():
    history = recorded(
        *opened({"type": "Bug", "title": "Broken", "company_id": None}, "bob"),
        (
            "TicketStateChanged",
            {
                "ticket_id": 7,
                "state": "resolved",
                "previous_state": "submitted",
                "author_type": "teammate",
                "author_id": None,
            },
        ),
        ("TicketEdited", {"ticket_id": 7, "description": "Now with details"}),
        (
            "TicketAttributesChanged",
            {
                "ticket_id": 7,
                "attributes": [{"name": "a", "value": 1, "visible_to_customer": True}],
            },
        ),
        (
            "TicketCompanyAssigned",
            {
                "ticket_id": 7,
                "company_id": ACME,
                "previous_company_id": None,
                "company_chosen": True,
            },
        ),
        (
            "TicketConversationLinked",
            {"ticket_id": 7, "conversation_id": "conv-9", "participant_ids": ["bob", "dee"]},
        ),
    )
    assert domain.fold(history).to_dict() == {
        "id": 7,
        "type": "Bug",
        "state": "resolved",
        "title": "Broken",
        "description": "Now with details",
        "attributes": [{"name": "a", "value": 1, "visible_to_customer": True}],
        "creator_id": "bob",
        "participant_ids": ["bob", "dee"],
        "company_id": ACME,
        "conversation_id": "conv-9",
        "created_at": "2026-03-01T10:00:00.000000+00:00",
        "updated_at": "2026-03-06T10:00:00.000000+00:00",
        "form": None,
        "state_changed_by": {"type": "teammate", "id": None},
    }
    assert domain.fold(history).version == 6
    assert domain.fold(history).company_chosen


def test_an_unknown_ticket_is_not_found():
    assert domain.fold([]) is None
    with pytest.raises(NotFound) as error:
        domain.existing_ticket([], 42)
    assert "42" in error.value.message


# updating ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), list(itertools.permutations(f.TICKET_STATES, 2)))
def test_any_state_can_change_to_any_other(before, after):
    decisions = valid(domain.update_ticket(ticket(state=before), {"state": after}, []))
    changed = {"ticket_id": 7, "state": after, "previous_state": before}
    assert decisions == [
        ("TicketStateChanged", {**changed, "author_type": "teammate", "author_id": None})
    ]


@pytest.mark.parametrize("state", f.TICKET_STATES)
def test_setting_the_current_state_is_no_change(state):
    assert domain.update_ticket(ticket(state=state), {"state": state}, []) == []


def test_an_edit_carries_only_the_changed_text():
    current = ticket(description="Old")
    assert valid(domain.update_ticket(current, {"title": "New", "description": "Old"}, [])) == [
        ("TicketEdited", {"ticket_id": 7, "title": "New"})
    ]
    assert domain.update_ticket(current, {"description": "Fresh"}, []) == [
        ("TicketEdited", {"ticket_id": 7, "description": "Fresh"})
    ]
    assert domain.update_ticket(current, {"title": "Broken", "description": "Old"}, []) == []


def test_attributes_change_as_a_whole_and_only_when_different():
    attributes = [{"name": "Severity", "value": "high", "visible_to_customer": True}]
    current = ticket(attributes=attributes)
    assert domain.update_ticket(current, {"attributes": list(attributes)}, []) == []
    assert valid(domain.update_ticket(current, {"attributes": []}, [])) == [
        ("TicketAttributesChanged", {"ticket_id": 7, "attributes": []})
    ]
    twice = [attributes[0], {**attributes[0], "value": "low"}]
    with pytest.raises(ValidationFailed) as error:
        domain.update_ticket(current, {"attributes": twice}, [])
    assert error.value.fields == {"attributes": "duplicate names: Severity"}


def assigned(company_id, previous, chosen: bool = True):
    return (
        "TicketCompanyAssigned",
        {
            "ticket_id": 7,
            "company_id": company_id,
            "previous_company_id": previous,
            "company_chosen": chosen,
        },
    )


def test_the_company_can_be_set_to_a_choice_or_cleared():
    current = ticket(company_id=None)
    assert valid(domain.update_ticket(current, {"company_id": ACME}, [ACME, GLOBEX])) == [
        assigned(ACME, None)
    ]
    current = ticket(company_id=ACME)
    assert valid(domain.update_ticket(current, {"company_id": None}, [])) == [assigned(None, ACME)]
    assert domain.update_ticket(current, {"company_id": ACME}, []) == []


def test_an_update_that_sets_the_company_makes_it_the_teammates_choice():
    # Given ann's ticket, whose one company the automatic rule selected
    automatic = ticket()
    assert (automatic.company_id, automatic.company_chosen) == (ACME, False)
    # When a teammate sets that same company, or No company
    confirmed = valid(domain.update_ticket(automatic, {"company_id": ACME}, []))
    cleared = valid(domain.update_ticket(automatic, {"company_id": None}, []))
    # Then each is recorded as their choice, and a later link keeps it
    assert confirmed == [assigned(ACME, ACME)]
    assert cleared == [assigned(None, ACME)]
    for decision in (confirmed, cleared):
        chosen = domain.fold(recorded(*opened({"type": "Bug", "title": "Broken"}), *decision))
        assert chosen.company_chosen
        linked = domain.link_conversation(chosen, "conv-1", ["cid"], COMPANIES)
        assert [event_type for event_type, _ in linked] == ["TicketConversationLinked"]


def test_a_company_outside_the_choices_is_refused_on_update():
    with pytest.raises(ValidationFailed) as error:
        domain.update_ticket(ticket(company_id=None), {"company_id": "initech"}, [ACME])
    assert error.value.fields == {"company_id": "must be one of: acme"}


def test_only_picking_another_company_needs_the_choices():
    current = ticket(company_id=ACME)
    assert domain.needs_company_choices(current, {"company_id": GLOBEX})
    assert not domain.needs_company_choices(current, {"company_id": ACME})
    assert not domain.needs_company_choices(current, {"company_id": None})
    assert not domain.needs_company_choices(current, {"state": "resolved"})


def test_one_update_emits_every_change_it_makes():
    decisions = domain.update_ticket(
        ticket(company_id=None),
        {"state": "in_progress", "title": "Renamed", "company_id": ACME},
        [ACME],
    )
    assert [event_type for event_type, _ in decisions] == [
        "TicketStateChanged",
        "TicketEdited",
        "TicketCompanyAssigned",
    ]


def test_an_update_that_changes_nothing_emits_nothing():
    assert domain.update_ticket(ticket(), {}, []) == []


def test_a_bad_field_refuses_the_whole_update():
    with pytest.raises(ValidationFailed):
        domain.update_ticket(ticket(), {"state": "resolved", "company_id": "initech"}, [])


# linking a conversation -------------------------------------------------------------------


def test_linking_unites_the_participants():
    current = ticket(participant_ids=["bob"], company_id=GLOBEX)
    assert valid(domain.link_conversation(current, "conv-1", ["dee", "bob"], COMPANIES)) == [
        (
            "TicketConversationLinked",
            {"ticket_id": 7, "conversation_id": "conv-1", "participant_ids": ["ann", "bob", "dee"]},
        )
    ]


def test_linking_gives_a_ticket_without_company_the_automatic_choice():
    current = domain.fold(recorded(*opened({"type": "Bug", "title": "t"}, "cid")))
    assert current.company_id is None
    decisions = valid(domain.link_conversation(current, "conv-1", ["ann"], COMPANIES))
    assert decisions[1] == assigned(ACME, None, chosen=False)


def test_linking_applies_the_automatic_rule_again_over_an_automatic_company():
    # Given ann's ticket with Acme selected automatically
    current = ticket()
    assert (current.company_id, current.company_chosen) == (ACME, False)
    # When it is linked to a conversation with dee, of Globex
    decisions = valid(domain.link_conversation(current, "conv-1", ["dee"], COMPANIES))
    # Then two companies mean No company until a teammate picks one
    assert decisions[1] == assigned(None, ACME, chosen=False)
    after = domain.fold(recorded(*opened({"type": "Bug", "title": "Broken"}), *decisions))
    assert (after.company_id, after.company_chosen) == (None, False)


def test_linking_keeps_a_company_a_teammate_chose():
    # Given ann's ticket on which a teammate chose Acme
    current = ticket(company_id=ACME)
    # When it is linked to a conversation with dee, of Globex
    decisions = valid(domain.link_conversation(current, "conv-1", ["dee"], COMPANIES))
    # Then Acme stays
    assert [event_type for event_type, _ in decisions] == ["TicketConversationLinked"]


def test_linking_keeps_no_company_a_teammate_chose():
    # Given cid's ticket (no company) on which a teammate chose No company
    current = domain.fold(
        recorded(*opened({"type": "Bug", "title": "t", "company_id": None}, "cid"))
    )
    # When it is linked to a conversation with ann, of Acme only
    decisions = valid(domain.link_conversation(current, "conv-1", ["ann"], COMPANIES))
    # Then the one company is not selected over the teammate's No company
    assert [event_type for event_type, _ in decisions] == ["TicketConversationLinked"]


def test_linking_leaves_several_companies_to_a_teammate():
    current = domain.fold(recorded(*opened({"type": "Bug", "title": "t"}, "cid")))
    several = domain.link_conversation(current, "conv-1", ["bob"], COMPANIES)
    assert [event_type for event_type, _ in several] == ["TicketConversationLinked"]


def test_a_company_from_before_choices_were_recorded_counts_as_automatic():
    # Given a ticket stored as version 1, with no record of who chose its company
    [(_, payload)] = opened({"type": "Bug", "title": "t", "company_id": ACME})
    del payload["company_chosen"], payload["form"]
    old = [event._replace(schema_version=1) for event in recorded(("TicketCreated", payload))]
    check_payload("ticket-7", "TicketCreated", 1, old[0].payload)
    current = domain.fold(old)
    assert (current.company_id, current.company_chosen) == (ACME, False)
    # When it is linked to a conversation with dee, of Globex, the automatic rule applies
    decisions = valid(domain.link_conversation(current, "conv-1", ["dee"], COMPANIES))
    assert decisions[1] == assigned(None, ACME, chosen=False)


def test_linking_again_to_the_same_conversation_changes_nothing():
    current = domain.fold(
        recorded(*opened({"type": "Bug", "title": "t"}, "ann", conversation="conv-1"))
    )
    assert domain.link_conversation(current, "conv-1", ["ann"], COMPANIES) == []


def test_a_ticket_has_at_most_one_conversation():
    current = domain.fold(
        recorded(*opened({"type": "Bug", "title": "t"}, "ann", conversation="conv-1"))
    )
    with pytest.raises(Conflict) as error:
        domain.link_conversation(current, "conv-2", ["ann"], COMPANIES)
    assert "conv-1" in error.value.message


def test_linking_past_the_maximum_participants_is_refused():
    crowd = [f"p{n}" for n in range(f.MAX_PARTICIPANTS)]
    with pytest.raises(ValidationFailed) as error:
        domain.link_conversation(ticket(), "conv-1", crowd, COMPANIES)
    assert "participant_ids" in error.value.fields


# display ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [0, 1, 2, 5, 64, 1000])
def test_the_next_number_follows_the_last_existing_ticket(existing):
    asked = []

    def exists(number: int) -> bool:
        asked.append(number)
        return number <= existing

    assert domain.next_ticket_number(exists) == existing + 1
    assert len(asked) <= 2 * existing.bit_length() + 2


# a customer resolves and reopens ------------------------------------------------------------


@pytest.mark.parametrize("state", [s for s in f.TICKET_STATES if s != "resolved"])
def test_a_customer_resolves_any_unresolved_ticket_as_its_author(state):
    decisions = valid(domain.customer_state_change(ticket(state=state), "bob", "resolve"))
    assert decisions == [
        (
            "TicketStateChanged",
            {
                "ticket_id": 7,
                "state": "resolved",
                "previous_state": state,
                "author_type": "user",
                "author_id": "bob",
            },
        )
    ]
    changed = domain.fold(
        recorded(*opened({"type": "Bug", "title": "t", "state": state}), *decisions)
    )
    assert changed.state_changed_by == {"type": "user", "id": "bob"}


def test_a_customer_reopens_a_resolved_ticket_into_the_teams_hands():
    [(_, payload)] = valid(domain.customer_state_change(ticket(state="resolved"), "bob", "reopen"))
    assert (payload["state"], payload["author_id"]) == ("in_progress", "bob")


def test_resolving_a_resolved_or_reopening_an_open_ticket_is_a_conflict():
    with pytest.raises(Conflict) as resolved:
        domain.customer_state_change(ticket(state="resolved"), "bob", "resolve")
    with pytest.raises(Conflict) as reopened:
        domain.customer_state_change(ticket(state="submitted"), "bob", "reopen")
    assert list(resolved.value.fields) == list(reopened.value.fields) == ["state"]


def test_a_customer_view_leaves_out_internal_attributes_and_the_form():
    attributes = [
        {"name": "Plan", "value": "pro", "visible_to_customer": True},
        {"name": "Cause", "value": "x", "visible_to_customer": False},
    ]
    view = ticket(attributes=attributes).customer_view()
    assert view["attributes"] == attributes[:1]
    assert "form" not in view and "participant_ids" not in view
