"""What every write-side service class starts from."""

from __future__ import annotations

from kernel.dependencies import EventLog, RequestContext
from kernel.rpc import rpc


class WriteService:
    """A Nameko service that owns streams: the request's context bound to its log lines,
    its event log, and the ``health`` RPC the gateway's ``/healthz`` asks."""

    name: str

    context = RequestContext()
    event_log = EventLog()

    @rpc
    def health(self) -> dict:
        return {"service": self.name, "status": "ok"}
