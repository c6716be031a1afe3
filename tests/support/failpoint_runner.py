"""The service runner with a failpoint, for the fault tests only: the process kills itself
(SIGKILL) the moment an append that holds an event of the named type returns, so the crash
lands between the append and the reply every time; or (``--kill-after-send``) the moment
the SMTP server has accepted an e-mail, before the notifications service records it sent.

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


def kill_after_send() -> None:
    """Make the first e-mail the SMTP server accepts kill the process before it is marked
    sent."""
    from services.notifications.mailer import SmtpSession

    send = SmtpSession.send

    def send_then_die(self, recipient, message):
        send(self, recipient, message)
        os.kill(os.getpid(), signal.SIGKILL)

    SmtpSession.send = send_then_die


def killing_after_append(event_type: str, command: Sequence[str]) -> list[str]:
    """A ``portalctl.stack`` command line (``-m kernel.runner <service>``) run through this
    runner instead, with the failpoint on ``event_type``."""
    return _through_this_runner(command, "--kill-after-append", event_type)


def killing_after_send(command: Sequence[str]) -> list[str]:
    """The notifications service's command line, dying after its first accepted e-mail."""
    return _through_this_runner(command, "--kill-after-send")


def _through_this_runner(command: Sequence[str], *failpoint: str) -> list[str]:
    flag, module, *rest = command
    if (flag, module) != ("-m", RUNNER_MODULE):
        raise ValueError(f"not a service started by {RUNNER_MODULE}: {command}")
    return ["-m", THIS_MODULE, *failpoint, *rest]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    failpoints = parser.add_mutually_exclusive_group(required=True)
    failpoints.add_argument("--kill-after-append", metavar="EVENT_TYPE")
    failpoints.add_argument("--kill-after-send", action="store_true")
    failpoint, runner_argv = parser.parse_known_args(argv)
    if failpoint.kill_after_send:
        kill_after_send()
    else:
        kill_after_append(failpoint.kill_after_append)
    runner.main(runner_argv)


if __name__ == "__main__":
    main()
