"""Shared kernel: what every service of the portal platform uses.

Event envelope and schemas (``contracts``), the append-only event store (``eventstore``),
configuration, structured logging, typed errors and the Nameko plumbing that hands these to
service workers (``nameko``).
"""
