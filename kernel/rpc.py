"""The ``rpc`` entrypoint every service uses: Nameko's, made to outlive a broker outage.

Nameko sends a call's reply after the worker has finished. When the broker is gone by then,
the failed publish escapes the worker and kills the whole service container: the process
exits and stays down although the broker comes back. Here a reply that cannot be sent is
logged and dropped instead. The request stays unacknowledged, so the broker redelivers it
after the outage unless it expired first (calls expire with their caller's timeout), and
the caller, who got a 5xx meanwhile, may retry with the same Idempotency-Key: a write
carried out already answers its stored result (docs/rpc.md).
"""

from __future__ import annotations

from kombu.exceptions import OperationalError
from nameko.rpc import Rpc, RpcConsumer

from kernel.logging import get_logger

log = get_logger(__name__)


class ReplyTolerantRpcConsumer(RpcConsumer):
    def handle_result(self, message, result, exc_info):
        try:
            return super().handle_result(message, result, exc_info)
        except (OperationalError, OSError) as error:
            log.warning(
                "rpc reply lost: the broker is unreachable",
                routing_key=message.delivery_info.get("routing_key"),
                error=str(error),
            )
            return result, exc_info


class ReplyTolerantRpc(Rpc):
    rpc_consumer = ReplyTolerantRpcConsumer()


rpc = ReplyTolerantRpc.decorator
