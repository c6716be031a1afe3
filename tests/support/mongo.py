"""Which MongoDB the MongoDB backend is tested against: a real server when ``MONGO_URI``
points at a reachable one, otherwise ``mongomock`` (in-process, no transactions), and the
test report says which."""

from __future__ import annotations

import functools
import os

import mongomock
import pymongo
from pymongo.errors import PyMongoError


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
    if os.environ.get("MONGO_URI"):
        return "mongomock: MONGO_URI is set but no server answers there"
    return "mongomock: MONGO_URI is not set (no MongoDB server on this machine)"


def mongo_client(database: str):
    """A client and whether it supports transactions; the caller drops ``database`` after."""
    uri = real_mongo_uri()
    if uri:
        return pymongo.MongoClient(uri, tz_aware=True), True
    return mongomock.MongoClient(tz_aware=True), False
