"""Portal search: what matches, how hits rank, and the preview column."""

from __future__ import annotations

from services.portal_query import queries
from tests.support.portal_events import START, History, ids, query

NOW = START.timestamp() + 3 * 86400 + 3600  # the events happen in the first minutes


def world() -> History:
    h = History()
    h.contact("ann", name="Ann Smith")
    h.contact("bob", name="Bob Builder")
    h.company("acme")
    h.member("acme", "ann", "bob")
    return h


def search(view, q, user="ann", **fields):
    return queries.portal_list_tickets(view, user, query(q=q, **fields), NOW)


def test_titles_descriptions_and_conversations_match_case_and_accent_insensitively():
    h = world()
    h.ticket(1, "acme", title="Café machine broken")
    h.ticket(2, "acme", title="Other", description="the CAFE upstairs")
    h.conversation("c3", "ann", "Is the café open?")
    h.ticket(3, "acme", title="Third", conversation_id="c3")
    h.ticket(4, "acme", title="Unrelated")
    view = h.view()

    assert sorted(ids(search(view, "cafe"))) == [1, 2, 3]
    assert sorted(ids(search(view, "CAFÉ"))) == [1, 2, 3]


def test_every_word_must_match_somewhere_in_the_ticket():
    h = world()
    h.ticket(1, "acme", title="printer", description="on fire")
    h.ticket(2, "acme", title="printer", description="out of paper")
    view = h.view()

    assert ids(search(view, "printer fire")) == [1]
    assert ids(search(view, "printer smoke")) == []


def test_the_last_word_matches_as_a_prefix_the_others_exactly():
    h = world()
    h.ticket(1, "acme", title="printing problems")
    h.ticket(2, "acme", title="print problems")
    view = h.view()

    assert sorted(ids(search(view, "prin"))) == [1, 2]
    assert ids(search(view, "print prob")) == [2]
    assert ids(search(view, "p")) != []
    assert ids(search(view, "problems printi")) == [1]


def test_a_ticket_id_matches_with_or_without_hash_and_ranks_first():
    h = world()
    h.ticket(42, "acme", title="The answer")
    h.ticket(7, "acme", title="Error 42 in the log")
    h.ticket(420, "acme", title="Nothing")
    view = h.view()

    assert ids(search(view, "42")) == [42, 7]
    assert ids(search(view, "#42")) == [42, 7]
    assert ids(search(view, "#42 answer")) == [42]


def test_words_spread_over_title_and_description_outrank_a_conversation_only_match():
    # given: the words split between title and description, then two newer tickets
    # holding both words in their description or only in their conversation
    h = world()
    h.ticket(1, "acme", title="printer", description="it jams")
    h.conversation("c2", "ann", "the printer jams")
    h.ticket(2, "acme", title="help", conversation_id="c2")
    h.ticket(3, "acme", title="help", description="printer jams")

    # when
    found = ids(search(h.view(), "printer jams"))

    # then: the title hit first, then the description, then the conversation
    assert found == [1, 3, 2]


def test_any_word_in_the_title_outranks_all_words_in_the_description():
    # given
    h = world()
    h.ticket(1, "acme", title="jams again", description="the printer")
    h.ticket(2, "acme", title="help", description="printer jams")

    # when
    found = ids(search(h.view(), "printer jams"))

    # then: the newer ticket has every word in one place, but none in its title
    assert found == [1, 2]


def test_any_word_in_the_description_outranks_all_words_in_the_conversation():
    # given
    h = world()
    h.conversation("c1", "ann", "it jams")
    h.ticket(1, "acme", title="help", description="printer", conversation_id="c1")
    h.conversation("c2", "ann", "printer jams")
    h.ticket(2, "acme", title="help", conversation_id="c2")

    # when
    found = ids(search(h.view(), "printer jams"))

    # then
    assert found == [1, 2]


def test_in_the_same_best_place_all_words_there_come_first_then_newest():
    # given: four title hits, two with both words in the title
    h = world()
    h.ticket(1, "acme", title="printer jams")
    h.ticket(2, "acme", title="printer", description="jams")
    h.ticket(3, "acme", title="Printer jams again")
    h.ticket(4, "acme", title="jams", description="printer")

    # when
    found = ids(search(h.view(), "printer jams"))

    # then
    assert found == [3, 1, 4, 2]


def test_an_update_reorders_hits_of_the_same_rank_but_not_across_ranks():
    # given
    h = world()
    h.ticket(1, "acme", title="printer jams")
    h.ticket(2, "acme", title="printer", description="jams")
    h.ticket(3, "acme", title="printer jams")

    # when: the oldest of each rank is updated last
    h.state(1, "in_progress")
    h.state(2, "in_progress")

    # then
    assert ids(search(h.view(), "printer jams")) == [1, 3, 2]


def test_the_last_word_ranks_as_a_prefix_in_every_place():
    # given
    h = world()
    h.ticket(1, "acme", title="Printer jammed")
    h.ticket(2, "acme", title="printer", description="jelly")  # no word starts "jam"
    h.ticket(3, "acme", title="help", description="printer jamming")
    h.conversation("c4", "ann", "the jam is back")
    h.ticket(4, "acme", title="printer", conversation_id="c4")

    # when
    found = ids(search(h.view(), "printer jam"))

    # then: all in the title, some in the title (newest first), all in the description
    assert found == [1, 4, 3]


def test_accents_and_case_count_as_the_same_word_for_the_rank():
    # given
    h = world()
    h.ticket(1, "acme", title="Café Crème")
    h.conversation("c2", "ann", "CAFE CREME please")
    h.ticket(2, "acme", title="order", conversation_id="c2")
    h.ticket(3, "acme", title="café", description="crème brûlée")

    # when / then: the last word also as a prefix, with or without its accent
    assert ids(search(h.view(), "cafe creme")) == [1, 3, 2]
    assert ids(search(h.view(), "CAFÉ CRÈM")) == [1, 3, 2]


def test_a_ticket_named_by_id_still_ranks_before_title_hits():
    # given
    h = world()
    h.conversation("c42", "ann", "the printer again")
    h.ticket(42, "acme", title="Help", conversation_id="c42")
    h.ticket(7, "acme", title="printer error 42")

    # when
    found = ids(search(h.view(), "#42 printer"))

    # then
    assert found == [42, 7]


def test_ties_rank_newest_update_first_and_an_explicit_sort_wins():
    h = world()
    h.ticket(1, "acme", title="printer")
    h.ticket(2, "acme", title="printer")
    h.ticket(3, "acme", title="printer")
    h.state(1, "in_progress")
    view = h.view()

    assert ids(search(view, "printer")) == [1, 3, 2]
    assert ids(search(view, "printer", sort="id", order="asc")) == [1, 2, 3]


def test_internal_notes_and_internal_attributes_never_match():
    h = world()
    h.conversation("c1", "ann", "hello")
    h.ticket(
        1,
        "acme",
        conversation_id="c1",
        attributes=[{"name": "Secret", "value": "zebra", "visible_to_customer": False}],
    )
    h.note("c1", "the customer is a flamingo")
    view = h.view()

    assert search(view, "flamingo")["total"] == 0
    assert search(view, "zebra")["total"] == 0
    assert queries.admin_list_tickets(view, query(q="flamingo"), NOW)["total"] == 0


def test_search_combines_with_the_company_filter_and_stays_inside_the_tenant():
    h = world()
    h.company("evil")
    h.contact("eve")
    h.member("evil", "eve")
    h.ticket(1, "acme", title="shared word")
    h.ticket(2, "evil", title="shared word", creator_id="eve")
    view = h.view()

    assert ids(search(view, "shared")) == [1]
    assert ids(search(view, "shared", user="eve")) == [2]
    assert ids(search(view, "shared", company_id="evil")) == []
    assert sorted(ids(queries.admin_list_tickets(view, query(q="shared"), NOW))) == [1, 2]


def test_the_index_follows_edits_and_moves():
    h = world()
    h.ticket(1, "acme", title="old title")
    h.edit(1, title="new heading")

    assert ids(search(h.view(), "old")) == []
    assert ids(search(h.view(), "heading")) == [1]


# preview ----------------------------------------------------------------------------------


def preview(view, q, **fields):
    return [item.get("preview") for item in search(view, q, **fields)["items"]]


def test_the_preview_marks_matches_in_escaped_html():
    h = world()
    h.ticket(1, "acme", title="<img src=x onerror=alert(1)> img broken", creator_id="bob")

    (shown,) = preview(h.view(), "img")

    assert shown["location"] == "title"
    assert shown["html"] == (
        "&lt;<mark>img</mark> src=x onerror=alert(1)&gt; <mark>img</mark> broken"
    )
    assert shown["author_name"] == "Bob Builder"
    assert shown["timestamp"] == h.events[-1].occurred_at
    assert shown["relative_time"] == "3d"


def test_the_preview_comes_from_the_location_that_ranked_the_hit():
    h = world()
    h.ticket(1, "acme", title="Help", description="The printer is on fire again")

    (shown,) = preview(h.view(), "fire")

    assert shown["location"] == "description"
    assert shown["html"] == "The printer is on <mark>fire</mark> again"
    assert shown["author_name"] == "Ann Smith"


def test_a_hit_spread_over_places_previews_its_best_place():
    # given
    h = world()
    h.ticket(1, "acme", title="Printer", description="it jams on page two")

    # when
    (shown,) = preview(h.view(), "printer jams")

    # then
    assert shown["location"] == "title"
    assert shown["html"] == "<mark>Printer</mark>"


def test_a_conversation_preview_shows_the_part_with_most_matched_words_and_its_author():
    h = world()
    h.conversation("c1", "ann", "my printer is broken")
    h.ticket(1, "acme", title="Help", conversation_id="c1")
    h.part("c1", "Your printer is out of toner", author_type="teammate", author_name="Tom")
    h.part("c1", "thanks", author_id="ann")
    reply_at = h.events[-2].occurred_at

    (shown,) = preview(h.view(), "printer toner")

    assert shown == {
        "location": "conversation",
        "html": "Your <mark>printer</mark> is out of <mark>toner</mark>",
        "author_name": "Tom",
        "timestamp": reply_at,
        "relative_time": "3d",
    }


def test_no_preview_without_a_search_or_when_the_setting_is_off():
    h = world()
    h.ticket(1, "acme", title="printer")

    assert preview(h.view(), None) == [None]
    h.settings(preview_enabled=False)
    assert preview(h.view(), "printer") == [None]
    assert "preview" not in search(h.view(), "printer")["items"][0]


def test_an_id_hit_previews_the_title():
    h = world()
    h.ticket(42, "acme", title="Something <b>bold</b>")

    (shown,) = preview(h.view(), "#42")

    assert shown["location"] == "title"
    assert shown["html"] == "Something &lt;b&gt;bold&lt;/b&gt;"


def test_internal_notes_never_reach_a_preview():
    h = world()
    h.conversation("c1", "ann", "printer broken")
    h.ticket(1, "acme", title="Help", conversation_id="c1")
    h.note("c1", "printer printer printer secret note")

    (shown,) = preview(h.view(), "printer")

    assert shown["html"] == "<mark>printer</mark> broken"
