"""Which MongoDB the MongoDB backend is tested against: a real server when ``MONGO_URI``
points at a reachable one, otherwise ``mongomock`` dressed as a one-node replica set
(:class:`MongomockReplicaSet`), and the test report says which, and what that leaves out.

The dressing gives mongomock what the production code path asks of a server and mongomock
lacks: a ``hello`` that names a replica set, sessions and transactions. Its transactions are
a lock: they serialize, but cannot roll back. So the store runs its production code
unchanged (the same append, retry loop, commit and error mapping), and the guarantees that
only a real server provides are listed in :data:`NOT_EXERCISED_ON_MONGOMOCK`.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

import mongomock
import pymongo
from pymongo.errors import PyMongoError

NOT_EXERCISED_ON_MONGOMOCK = (
    "rollback of a failed transaction (mongomock keeps what a transaction wrote before it failed)",
    "snapshot isolation and write conflicts between concurrent appends (one lock serializes them)",
    "write concern majority with journaling, read concern majority and wtimeout",
    "causal consistency of reads after writes (mongomock keeps no cluster or operation times)",
    "client-side operation timeouts against a slow or unreachable server",
    "the multi-process ordering test (mongomock lives inside one process)",
)


@functools.cache
def real_mongo_uri() -> str | None:
    uri = os.environ.get("MONGO_URI")
    if not uri:
        return None
    try:
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=2000)
        client.admin.command("ping")
        client.close()
    except PyMongoError:
        return None
    return uri


def mongo_backend_description() -> str:
    if real_mongo_uri():
        return "a real MongoDB server at MONGO_URI (transactions on)"
    reason = (
        "MONGO_URI is set but no server answers there"
        if os.environ.get("MONGO_URI")
        else ("MONGO_URI is not set (no MongoDB server on this machine)")
    )
    return (
        f"mongomock dressed as a replica set: {reason}. The production append path ran; "
        "not exercised: " + "; ".join(NOT_EXERCISED_ON_MONGOMOCK)
    )


def mongo_client(database: str) -> Any:
    """A client of the MongoDB under test; the caller drops ``database`` after."""
    uri = real_mongo_uri()
    if uri:
        return pymongo.MongoClient(uri, tz_aware=True)
    return MongomockReplicaSet()


class MongomockReplicaSet:
    """A mongomock client that answers like a one-node replica set.

    ``faults`` (a list the test owns) injects faults in order, each once: an entry
    ``(where, fault)`` fires at ``where``: ``"operation"`` (any operation inside a
    transaction), an operation's name (``"insert_many"``) or ``"commit"``. An exception is
    raised there; a callable is called there (to play a racing writer)."""

    def __init__(self, set_name: str | None = "mongomock", faults: list | None = None):
        self._client = mongomock.MongoClient(tz_aware=True)
        self._set_name = set_name
        self.transaction_lock = threading.RLock()
        self.faults = faults if faults is not None else []
        self.admin = _Admin(set_name)

    def __getitem__(self, name: str) -> _Database:
        return _Database(self._client[name], self)

    def start_session(self, causal_consistency: bool = True) -> SerialSession:
        return SerialSession(self)

    def injected(self, *where: str) -> None:
        if self.faults and self.faults[0][0] in where:
            fault = self.faults.pop(0)[1]
            if isinstance(fault, BaseException):
                raise fault
            fault()

    def raw(self, database: str) -> Any:
        """The mongomock database itself, to write behind the store's back."""
        return self._client[database]

    def drop_database(self, name: str) -> None:
        self._client.drop_database(name)

    def close(self) -> None:
        self._client.close()


class _Admin:
    def __init__(self, set_name: str | None):
        self._set_name = set_name

    def command(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = {"isWritablePrimary": True, "ok": 1.0}
        if name == "hello" and self._set_name:
            answer["setName"] = self._set_name
        return answer


class _Database:
    def __init__(self, database: Any, replica_set: MongomockReplicaSet):
        self._database = database
        self._replica_set = replica_set

    def get_collection(self, name: str, **options: Any) -> _Collection:
        return _Collection(self._database.get_collection(name, **options), self._replica_set)

    def __getitem__(self, name: str) -> _Collection:
        return self.get_collection(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


class _Collection:
    """Passes every call to mongomock without the session, which mongomock refuses."""

    def __init__(self, collection: Any, replica_set: MongomockReplicaSet):
        self._collection = collection
        self._replica_set = replica_set

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._collection, name)
        if not callable(method):
            return method

        def call(*args: Any, session: SerialSession | None = None, **kwargs: Any) -> Any:
            if session is not None and session.in_transaction:
                self._replica_set.injected("operation", name)
            return method(*args, **kwargs)

        return call


class SerialSession:
    """A session whose transaction is a lock held from start to commit or abort."""

    cluster_time = None
    operation_time = None

    def __init__(self, replica_set: MongomockReplicaSet):
        self._replica_set = replica_set
        self.in_transaction = False

    def __enter__(self) -> SerialSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.in_transaction:
            self.abort_transaction()

    def start_transaction(self, **options: Any) -> None:
        self._replica_set.transaction_lock.acquire()
        self.in_transaction = True

    def commit_transaction(self) -> None:
        self._replica_set.injected("commit")
        self._end()

    def abort_transaction(self) -> None:
        self._end()

    def _end(self) -> None:
        if self.in_transaction:
            self.in_transaction = False
            self._replica_set.transaction_lock.release()

    advance_cluster_time: Callable[[Any], None] = staticmethod(lambda _time: None)
    advance_operation_time: Callable[[Any], None] = staticmethod(lambda _time: None)
