"""A writer process for the concurrent-writers contract test.

``python -m tests.support.append_worker sqlite <path> <writer> <count>`` (or ``mongo <uri>
<database> ...``) appends ``count`` events: each to a stream of its own, and every third to a
stream all writers share, retrying on conflicts. Prints how many events it appended.
"""

from __future__ import annotations

import sys

from kernel.contracts.envelope import NewEvent
from kernel.errors import ConcurrencyConflict


def open_store(argv: list[str]):
    if argv[0] == "sqlite":
        from kernel.eventstore.sqlite import SqliteEventStore

        return SqliteEventStore(argv[1]), argv[2:]
    import pymongo

    from kernel.eventstore.mongo import MongoEventStore

    return MongoEventStore(pymongo.MongoClient(argv[1]), argv[2]), argv[3:]


def main(argv: list[str]) -> None:
    store, (writer, count) = open_store(argv)
    appended = 0
    for index in range(int(count)):
        company = f"{writer}-{index}"
        store.append(
            f"company-{company}",
            [NewEvent("CompanyCreated", {"company_id": company, "name": "x"})],
            0,
        )
        appended += 1
        if index % 3 == 0:
            while True:
                version = store.stream_version("company-shared")
                event = NewEvent(
                    "CompanyMemberAdded", {"company_id": "shared", "contact_id": company}
                )
                try:
                    store.append("company-shared", [event], version)
                    appended += 1
                    break
                except ConcurrencyConflict:
                    continue
    print(appended)


if __name__ == "__main__":
    main(sys.argv[1:])
