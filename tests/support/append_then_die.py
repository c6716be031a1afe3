"""Append events to the embedded store, then die by SIGKILL before anything is published:
the shape of a writer that crashes between its append and its publish.

``python -m tests.support.append_then_die <data_dir> <count>``
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from kernel.contracts.envelope import NewEvent
from kernel.eventstore import EVENTS_FILE
from kernel.eventstore.sqlite import SqliteEventStore


def main(data_dir: str, count: str) -> None:
    store = SqliteEventStore(Path(data_dir) / EVENTS_FILE, writer="companies")
    for index in range(int(count)):
        event = NewEvent("CompanyCreated", {"company_id": f"c{index}", "name": "Crashing Inc."})
        store.append(f"company-c{index}", [event], 0)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(*sys.argv[1:])
