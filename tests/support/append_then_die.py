"""Append events to the store, then die by SIGKILL before anything is published: the shape
of a writer that crashes between its append and its publish.

``python -m tests.support.append_then_die <data_dir> <count>``: the embedded store under
``data_dir``, or MongoDB when ``MONGO_URI`` is set (``MONGO_DATABASE`` from the environment).
"""

from __future__ import annotations

import os
import signal
import sys

from kernel.contracts.envelope import NewEvent
from kernel.eventstore import open_event_store


def main(data_dir: str, count: str) -> None:
    store = open_event_store({**os.environ, "PORTAL_DATA_DIR": data_dir}, writer="companies")
    for index in range(int(count)):
        event = NewEvent("CompanyCreated", {"company_id": f"c{index}", "name": "Crashing Inc."})
        store.append(f"company-c{index}", [event], 0)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(*sys.argv[1:])
