"""Who may see what: access requirements, visibility conditions, tenant isolation."""

from __future__ import annotations

import pytest

from kernel.errors import NoPortalAccess, NotFound
from services.portal_query import queries
from tests.support.portal_events import History, acme_world, ids, query

NOW = 1_900_000_000.0
MEMBERS_ONLY = [{"attribute": "role", "operator": "eq", "value": "member"}]


def missing(view, user_id):
    with pytest.raises(NoPortalAccess) as denied:
        queries.portal_me(view, user_id)
    return denied.value.fields["missing"]


def test_a_user_with_email_company_and_a_company_ticket_gets_in():
    view = acme_world().view()

    me = queries.portal_me(view, "ann")

    assert me["user"] == {"id": "ann", "email": "ann@example.com", "name": "Ann"}
    assert me["companies"] == [{"id": "acme", "name": "Acme Inc."}]
    assert me["settings"] == {"preview_enabled": True}


def test_no_access_names_each_missing_requirement_in_order():
    h = History()
    h.contact("nobody", email=None)
    h.contact("lonely")
    h.contact("idle")
    h.company("quiet")
    h.member("quiet", "idle")
    h.contact("noemail", email=None)
    h.member("quiet", "noemail")
    h.ticket(1, None, creator_id="idle")  # a ticket without a company does not count
    view = h.view()

    assert missing(view, "nobody") == ["email", "company", "ticket"]
    assert missing(view, "unknown") == ["email", "company", "ticket"]
    assert missing(view, "lonely") == ["company", "ticket"]
    assert missing(view, "idle") == ["ticket"]
    assert missing(view, "noemail") == ["email", "ticket"]


@pytest.mark.parametrize(
    "call",
    [
        lambda v: queries.portal_list_tickets(v, "idle", query(), NOW),
        lambda v: queries.portal_get_ticket(v, "idle", 1),
        lambda v: queries.portal_facets(v, "idle"),
    ],
)
def test_every_portal_method_refuses_a_user_without_access(call):
    h = History()
    h.contact("idle")
    h.company("quiet")
    h.member("quiet", "idle")
    h.ticket(1, None, creator_id="idle")

    with pytest.raises(NoPortalAccess) as denied:
        call(h.view())
    assert denied.value.fields["missing"] == ["ticket"]


def test_a_user_sees_every_ticket_of_every_company_they_belong_to():
    h = acme_world()
    h.company("beta")
    h.member("beta", "ann")
    h.ticket(4, "beta", creator_id="zed")
    h.ticket(5, None, creator_id="ann")  # no company: never in the portal
    view = h.view()

    assert sorted(ids(queries.portal_list_tickets(view, "ann", query(), NOW))) == [1, 2, 4]
    assert ids(queries.portal_list_tickets(view, "ann", query(company_id="beta"), NOW)) == [4]
    with pytest.raises(NotFound):
        queries.portal_get_ticket(view, "ann", 5)


def test_tenant_isolation_on_every_method():
    """Eve (Evil) and Ann (Acme) never see each other's tickets: 404 or no results."""
    h = acme_world()
    h.conversation("c3", "eve", "evil secret plans")
    h.link(3, "c3")
    view = h.view()

    acme = queries.portal_list_tickets(view, "ann", query(q="evil"), NOW)
    assert acme["total"] == 0
    assert ids(queries.portal_list_tickets(view, "ann", query(company_id="evil"), NOW)) == []
    assert sorted(ids(queries.portal_list_tickets(view, "ann", query(), NOW))) == [1, 2]
    assert ids(queries.portal_list_tickets(view, "ann", query(q="3"), NOW)) == []
    assert ids(queries.portal_list_tickets(view, "ann", query(creator_id="eve"), NOW)) == []
    facets = queries.portal_facets(view, "ann")
    assert [c["id"] for c in facets["companies"]] == ["acme"]
    assert {c["id"] for c in facets["creators"]} == {"ann", "bob"}
    for call in (queries.portal_get_ticket, queries.ticket_for_user):
        with pytest.raises(NotFound):
            call(view, "ann", 3)
        with pytest.raises(NotFound):
            call(view, "eve", 1)
    assert queries.tickets_space(view, "ann")["items"][0]["id"] == 1
    assert [i["id"] for i in queries.tickets_space(view, "eve")["items"]] == [3]
    assert ids(queries.portal_list_tickets(view, "eve", query(), NOW)) == [3]


def test_a_hidden_ticket_answers_exactly_like_a_missing_one():
    view = acme_world().view()

    with pytest.raises(NotFound) as hidden:
        queries.portal_get_ticket(view, "ann", 3)
    with pytest.raises(NotFound) as absent:
        queries.portal_get_ticket(view, "ann", 999)

    assert str(hidden.value) == "ticket 3 does not exist"
    assert str(absent.value) == "ticket 999 does not exist"
    assert hidden.value.fields == absent.value.fields


def test_visibility_conditions_restrict_matching_users_to_their_own_tickets():
    h = acme_world()
    h.contact("ann", role="member")
    h.contact("bob", role="admin")
    h.settings(conditions=MEMBERS_ONLY)
    view = h.view()

    assert ids(queries.portal_list_tickets(view, "ann", query(), NOW)) == [1]
    assert ids(queries.portal_list_tickets(view, "ann", query(q="password"), NOW)) == []
    assert ids(queries.portal_list_tickets(view, "ann", query(creator_id="bob"), NOW)) == []
    with pytest.raises(NotFound):
        queries.portal_get_ticket(view, "ann", 2)
    with pytest.raises(NotFound):
        queries.ticket_for_user(view, "ann", 2)
    assert [c["id"] for c in queries.portal_facets(view, "ann")["creators"]] == ["ann"]
    assert sorted(ids(queries.portal_list_tickets(view, "bob", query(), NOW))) == [1, 2]


def test_a_settings_change_applies_at_once():
    h = acme_world()
    h.contact("ann", role="member")
    h.settings(conditions=MEMBERS_ONLY)
    h.settings(conditions=[])

    assert sorted(ids(queries.portal_list_tickets(h.view(), "ann", query(), NOW))) == [1, 2]


def test_removing_a_member_removes_the_company_tickets_from_their_view_at_once():
    h = acme_world()
    h.company("beta")
    h.member("beta", "bob")
    h.ticket(4, "beta", creator_id="bob")
    h.remove_member("acme", "bob")
    view = h.view()

    assert ids(queries.portal_list_tickets(view, "bob", query(), NOW)) == [4]
    with pytest.raises(NotFound):
        queries.portal_get_ticket(view, "bob", 2)  # his own ticket, but no longer his company


def test_the_last_membership_gone_means_no_access():
    h = acme_world()
    h.remove_member("acme", "bob")

    assert missing(h.view(), "bob") == ["company", "ticket"]


def test_a_ticket_moved_to_another_company_leaves_the_first_one():
    h = acme_world()
    h.assign(1, "evil", previous="acme")
    view = h.view()

    assert ids(queries.portal_list_tickets(view, "ann", query(), NOW)) == [2]
    assert sorted(ids(queries.portal_list_tickets(view, "eve", query(), NOW))) == [1, 3]
    with pytest.raises(NotFound):
        queries.portal_get_ticket(view, "ann", 1)


def test_clearing_the_company_takes_the_ticket_out_of_the_portal():
    h = acme_world()
    h.assign(1, None, previous="acme")
    view = h.view()

    assert ids(queries.portal_list_tickets(view, "ann", query(), NOW)) == [2]
    assert [i["id"] for i in queries.tickets_space(view, "ann")["items"]] == [1]


def test_losing_the_email_loses_access_and_every_ticket():
    h = acme_world()
    h.contact("ann", email=None)
    view = h.view()

    assert missing(view, "ann") == ["email"]
    with pytest.raises(NotFound):
        queries.ticket_for_user(view, "ann", 1)


def test_teammate_views_ignore_visibility_conditions_and_cover_every_ticket():
    h = acme_world()
    h.contact("ann", role="member")
    h.settings(conditions=MEMBERS_ONLY)
    h.ticket(5, None, creator_id="ann")
    view = h.view()

    assert sorted(ids(queries.admin_list_tickets(view, query(), NOW))) == [1, 2, 3, 5]
    assert ids(queries.admin_list_tickets(view, query(company_id="evil"), NOW)) == [3]
    assert ids(queries.admin_list_tickets(view, query(company_id="nope"), NOW)) == []
    assert sorted(ids(queries.company_tickets(view, "acme", query(), NOW))) == [1, 2]
    with pytest.raises(NotFound):
        queries.company_tickets(view, "nope", query(), NOW)
    h.company("empty")
    assert queries.company_tickets(h.view(), "empty", query(), NOW)["total"] == 0
