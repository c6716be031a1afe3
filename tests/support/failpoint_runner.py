"""The service runner with a failpoint, for the fault tests only: the process kills itself
(SIGKILL) the moment an append that holds an event of the named type returns, so the crash
lands between the append and the reply every time.

``python -m tests.support.failpoint_runner --kill-after-append TicketCreated
services.tickets.service:TicketsService`` (the rest as for ``kernel.runner``).
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Sequence

# kernel.runner before any other kernel module: it monkey-patches for eventlet on import.
from kernel import runner
from kernel.dependencies import WorkerEventLog

RUNNER_MODULE = "kernel.runner"
THIS_MODULE = "tests.support.failpoint_runner"


def kill_after_append(event_type: str) -> None:
    """Make every worker's append kill the process after storing an ``event_type``."""
    append = WorkerEventLog.append

    def append_then_die(self, stream_id, events, expected_version):
        recorded = append(self, stream_id, events, expected_version)
        if any(event.type == event_type for event in events):
            os.kill(os.getpid(), signal.SIGKILL)
        return recorded

    WorkerEventLog.append = append_then_die


def killing_after_append(event_type: str, command: Sequence[str]) -> list[str]:
    """A ``portalctl.stack`` command line (``-m kernel.runner <service>``) run through this
    runner instead, with the failpoint on ``event_type``."""
    flag, module, *rest = command
    if (flag, module) != ("-m", RUNNER_MODULE):
        raise ValueError(f"not a service started by {RUNNER_MODULE}: {command}")
    return ["-m", THIS_MODULE, "--kill-after-append", event_type, *rest]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kill-after-append", required=True, metavar="EVENT_TYPE")
    failpoint, runner_argv = parser.parse_known_args(argv)
    kill_after_append(failpoint.kill_after_append)
    runner.main(runner_argv)


if __name__ == "__main__":
    main()
