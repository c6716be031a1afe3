"""A conversation keeps its parts packed (one compressed blob of their fields) and the
parts added since its last pack beside it: what a reader gets is the same either way, in
position order, and every kind of text survives the trip."""

from __future__ import annotations

import io
import pickle

from kernel.eventstore.sqlite import SqliteEventStore
from services.portal_query import snapshot
from services.portal_query.projector import Projector
from services.portal_query.read_model import Conversation, Part, ReadModel
from services.portal_query.storage import open_projection_storage
from tests.support.portal_events import acme_world

TEXTS = ["plain", "naïve café ☕ 日本語", "lone surrogate \ud800 kept", 'quotes " and \\ too', ""]


def part(number: int, body: str, at: float) -> Part:
    return Part(f"p{number}", "c1", "user", "ann", "Ann", body, at, number)


def test_packed_and_new_parts_read_the_same_in_position_order():
    conversation = Conversation("c1", "ann", ["ann"])
    for number, body in enumerate(TEXTS[:3], start=1):
        conversation.add(part(number, body, 10.0 + number))
    before = list(conversation.parts.values())

    conversation.pack()
    assert conversation.new_parts == () and conversation.packed_parts
    assert list(conversation.parts.values()) == before

    for number, body in enumerate(TEXTS[3:], start=4):
        conversation.add(part(number, body, 10.0 + number))
    assert len(conversation.new_parts) == 2, "a part added after a pack waits beside it"
    assert [p.body for p in conversation.parts.values()] == TEXTS
    assert list(conversation.parts) == ["p1", "p2", "p3", "p4", "p5"]
    assert conversation.part("p2").body == TEXTS[1], "found in the blob"
    assert conversation.part("p5").body == "", "found among the new parts"
    assert conversation.part("p9") is None
    assert conversation.last_part_at == 15.0

    conversation.pack()
    assert [p.body for p in conversation.parts.values()] == TEXTS


def test_the_model_packs_only_what_changed_and_forgets_removed_conversations():
    model = ReadModel()
    for conversation_id in ("c1", "c2", "c3"):
        model.start_conversation(Conversation(conversation_id, "ann", ["ann"]))
    model.add_part(Part("p1", "c1", "user", "ann", "Ann", "one", 1.0, 1))
    model.add_part(Part("p1", "c2", "user", "ann", "Ann", "two", 2.0, 1))
    model.remove_conversation("c2")

    model.pack_parts()

    assert model.conversations["c1"].packed_parts and not model.conversations["c1"].new_parts
    assert model.conversations["c3"].packed_parts == b"", "nothing to pack"
    assert model.unpacked_conversations == set()


def test_a_pickle_keeps_packed_and_new_parts():
    conversation = Conversation("c1", "ann", ["ann", "bob"])
    conversation.add(part(1, TEXTS[1], 1.0))
    conversation.pack()
    conversation.add(part(2, TEXTS[2], 2.0))

    body = pickle.dumps(conversation, protocol=pickle.HIGHEST_PROTOCOL)
    back = snapshot._Unpickler(io.BytesIO(body)).load()  # as a snapshot is read

    assert back == conversation
    assert list(back.parts.values()) == list(conversation.parts.values())


def test_a_serving_projection_packs_at_each_commit_and_a_load_packs_everything(tmp_path):
    config = {"PORTAL_DATA_DIR": str(tmp_path), "MONGO_URI": ""}
    history = acme_world()
    history.conversation("c1", "ann", "The printer is on fire")
    history.link(1, "c1", ["ann"])
    store, storage = SqliteEventStore(tmp_path / "events.sqlite3"), open_projection_storage(config)
    history.append_to(store)

    serving = Projector.load(store, storage)
    serving.catch_up()
    assert serving.model.unpacked_conversations == set()
    assert serving.model.conversations["c1"].packed_parts, "packed at its commit"

    history.part("c1", "We are on our way", author_id="tom", author_type="teammate")
    history.append_to(store, slice(-1, None))
    serving.catch_up()

    conversation = serving.model.conversations["c1"]
    assert conversation.new_parts == () and serving.model.unpacked_conversations == set()
    assert [p.body for p in conversation.parts.values()] == [
        "The printer is on fire",
        "We are on our way",
    ]
    reloaded = Projector.load(store, storage)
    assert reloaded.model.unpacked_conversations == set(), "the bulk load packed them"
    assert list(reloaded.model.conversations["c1"].parts.values()) == list(
        conversation.parts.values()
    ), "what was committed comes back from storage the same"
    store.close()
    storage.close()
