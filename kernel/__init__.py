"""Shared kernel: what every service of the portal platform uses.

Event envelope and schemas (``contracts``), the append-only event store (``eventstore``),
configuration (``config``), structured logging (``logging``), typed errors (``errors``),
and the Nameko plumbing that hands these to service workers: dependency providers
(``dependencies``), the base of write-side services (``service``), the command loop
(``aggregate``), indexes folded from the store (``catch_up``), the RPC entrypoint (``rpc``)
and the service runner (``runner``).
"""
