"""An appender process for the projection kill test: the busy history, event by event, into
a store that portal_query applies while it grows, in parts the test lets go one by one.

``python -m tests.faults.append_history <root> <tickets> <split>...`` appends the history
up to the first split (a fraction of its events), then each further part when a line
arrives on its standard input (it stops at the end of input).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from tests.faults.projection import busy_history, open_store


def main(root: str, tickets: str, *splits: str) -> None:
    history = busy_history(tickets=int(tickets))
    total = len(history.events)
    bounds = [0, *(int(total * float(split)) for split in splits), total]
    store = open_store(Path(root))
    try:
        for number, (start, end) in enumerate(itertools.pairwise(bounds)):
            if number and not sys.stdin.readline():
                return
            history.append_to(store, slice(start, end))
    finally:
        store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
