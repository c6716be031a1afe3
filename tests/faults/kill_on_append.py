"""SIGKILL a process the moment the embedded store holds a new event of a given type.

``python -m tests.faults.kill_on_append <data_dir> <pid> <event type>`` prints ``ready``
once it knows the store's head, then polls in a tight loop (a process of its own, so the
kill lands within a few hundred microseconds of the commit, typically before the writer
has replied) and prints the position it saw. Gives up with status 1 after 60 s.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from kernel.eventstore import EVENTS_FILE
from kernel.eventstore.sqlite import SqliteEventStore

GIVE_UP_SECONDS = 60


def main(data_dir: str, pid: str, event_type: str) -> int:
    store = SqliteEventStore(Path(data_dir) / EVENTS_FILE)
    seen = store.head_position()
    print("ready", flush=True)
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        if store.head_position() == seen:
            continue
        for event in store.read_all(seen, 100):
            if event.type == event_type:
                os.kill(int(pid), signal.SIGKILL)
                print(event.position, flush=True)
                return 0
            seen = event.position
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
